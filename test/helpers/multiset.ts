/**
 * Deliveries compared as multisets: a Set hides a message delivered twice, a count does not. Items
 * are strings (hex of a payload, a message id); failures name a few of the odd ones, shortened.
 */
import assert from 'node:assert/strict'

function counts(items: Iterable<string>): Map<string, number> {
  const m = new Map<string, number>()
  for (const x of items) m.set(x, (m.get(x) ?? 0) + 1)
  return m
}

/** What `actual` has beyond `expected`, and what it lacks, each with multiplicity. */
export function multisetDiff(
  actual: Iterable<string>,
  expected: Iterable<string>
): { extra: string[]; missing: string[] } {
  const a = counts(actual)
  const e = counts(expected)
  const extra: string[] = []
  const missing: string[] = []
  for (const [x, n] of a) for (let i = n - (e.get(x) ?? 0); i > 0; i--) extra.push(x)
  for (const [x, n] of e) for (let i = n - (a.get(x) ?? 0); i > 0; i--) missing.push(x)
  return { extra, missing }
}

const few = (xs: string[]): string =>
  xs
    .slice(0, 3)
    .map(x => (x.length > 16 ? `${x.slice(0, 16)}…` : x))
    .join(', ') + (xs.length > 3 ? ', …' : '')

/** Each item of `expected` exactly as often in `actual`: a duplicate, a stranger or a loss fails. */
export function assertSameMultiset(actual: Iterable<string>, expected: Iterable<string>, what: string): void {
  const { extra, missing } = multisetDiff(actual, expected)
  if (extra.length > 0 || missing.length > 0)
    assert.fail(
      `${what}: ${extra.length} extra (duplicated or never sent) [${few(extra)}], ${missing.length} missing [${few(missing)}]`
    )
}

/** Nothing in `actual` more often than in `allowed` (losses allowed): a duplicate or a stranger fails. */
export function assertSubMultiset(actual: Iterable<string>, allowed: Iterable<string>, what: string): void {
  const { extra } = multisetDiff(actual, allowed)
  if (extra.length > 0) assert.fail(`${what}: ${extra.length} extra (duplicated or never sent) [${few(extra)}]`)
}

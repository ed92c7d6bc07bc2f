/**
 * Third-party known-answer data lives in ../shared/vectors/ (beside the project root) and is
 * never copied into this repository. Tests that need it skip with a message naming the folder.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { CheckResult } from './vector-checks.ts'

export const VECTORS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'vectors')

export function vectorPath(rel: string): string {
  return join(VECTORS_DIR, rel)
}

export function hasVectors(rel: string): boolean {
  return existsSync(vectorPath(rel))
}

export function loadVectors<T>(rel: string): T {
  return JSON.parse(readFileSync(vectorPath(rel), 'utf8')) as T
}

export function skipMessage(rel: string): string {
  return `skipped: third-party vectors not found at ${vectorPath(rel)} (the ../shared/vectors/ folder beside the project root)`
}

/** Call at the top of a describe(): skips the whole block, with the reason, when the file is absent. */
export function requireVectors(ctx: Mocha.Context, rel: string): void {
  if (!hasVectors(rel)) {
    console.log(`      ${skipMessage(rel)}`)
    ctx.skip()
  }
}

/** Counts of known-answer cases that ran, printed once at the end of the run. */
export const vectorTally = new Map<string, number>()
export function tally(what: string, n = 1): void {
  vectorTally.set(what, (vectorTally.get(what) ?? 0) + n)
}

export const hex = (s: string): Buffer => Buffer.from(s, 'hex')

/** Every result of a run of test/helpers/vector-checks.ts passed, and there was at least one. */
export function assertChecks(results: readonly CheckResult[]): void {
  assert.ok(results.length > 0, 'no known-answer case was checked')
  assert.deepEqual(
    results.filter(r => !r.ok),
    [],
    'known-answer cases failed'
  )
}

/**
 * The one wording of configuration errors, shared by the relay (daemon/) and the ingress and
 * client profiles (client/): "<key> <rule> (got <value>)". Pure: it takes the first issue of a
 * schema validation (the shape zod reports) and the raw input, and never shows a secret's value.
 */
export interface ConfigIssue {
  readonly code: string
  readonly path: readonly PropertyKey[]
  readonly message: string
  readonly keys?: readonly string[]
  readonly expected?: string
  readonly origin?: string
  readonly minimum?: number | bigint
  readonly maximum?: number | bigint
  readonly inclusive?: boolean
  readonly values?: readonly unknown[]
}

export interface DescribedIssue { readonly key: string, readonly rule: string, readonly value: string }

function valueAt (raw: unknown, path: readonly PropertyKey[], secrets: ReadonlySet<string>): string {
  let v: unknown = raw
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined
  if (path.length > 0 && secrets.has(String(path[path.length - 1]))) return '<redacted>'
  if (v === undefined) return 'nothing'
  const s = JSON.stringify(v) ?? String(v)
  return s.length > 80 ? s.slice(0, 77) + '...' : s
}

function rule (i: ConfigIssue): string {
  switch (i.code) {
    case 'invalid_type': return `must be ${i.expected === 'object' ? 'a mapping' : `a ${String(i.expected)}`}`
    case 'too_small': return i.origin === 'array' ? `must have at least ${String(i.minimum)} entries` : i.origin === 'string' ? `must be at least ${String(i.minimum)} characters` : `must be ${i.inclusive === false ? '>' : '>='} ${String(i.minimum)}`
    case 'too_big': return i.origin === 'string' ? `must be at most ${String(i.maximum)} characters` : `must be ${i.inclusive === false ? '<' : '<='} ${String(i.maximum)}`
    case 'invalid_value': return `must be one of ${(i.values ?? []).map(v => JSON.stringify(v)).join(', ')}`
    default: return i.message.startsWith('must') ? i.message : `is invalid: ${i.message}`
  }
}

export function describeIssue (raw: unknown, i: ConfigIssue, secrets: ReadonlySet<string>): DescribedIssue {
  if (i.code === 'unrecognized_keys' && i.keys !== undefined && i.keys.length > 0) {
    const path = [...i.path, i.keys[0]!]
    return { key: path.map(String).join('.'), rule: 'is not a known key', value: valueAt(raw, path, secrets) }
  }
  return { key: i.path.map(String).join('.'), rule: rule(i), value: valueAt(raw, i.path, secrets) }
}

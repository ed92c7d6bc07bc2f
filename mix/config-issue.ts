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

export interface DescribedIssue {
  readonly key: string
  readonly rule: string
  readonly value: string
}

/**
 * A key whose value is never shown, however it is spelled or cased (`hsToken`, `hs_token`,
 * `metrics.Token`, `tokne`, `apiKey`, `password`, ...): anything that names a token, secret, key,
 * password, credential or seed. Public keys are redacted too; the rule the message names says
 * what was expected.
 */
export function looksSecret(key: string): boolean {
  const k = key.toLowerCase().replace(/[^a-z]/g, '')
  return /tok|secret|key|pass|pwd|credential|authorization|bearer|cookie|seed|private|signing/.test(k)
}

/** A URL's credentials (user:password@) and the values of secret-looking query parameters, replaced. */
export function redactUrl(s: string): string {
  return s
    .replace(/^([a-z][a-z0-9+.-]*:\/*)[^\s]*@/i, '$1<redacted>@')
    .replace(/(^|[/\s])[^\s/?#@]+@/g, '$1<redacted>@')
    .replace(/([?&;])([^=&;#\s]*)=([^&;#\s]*)/g, (m, sep: string, name: string) =>
      looksSecret(name) || /^(sig|code|auth)/i.test(name) ? `${sep}${name}=<redacted>` : m
    )
}

/** What a value is, without showing it: "a string", "a mapping", "a list of 3 entries". */
export function kindOf(v: unknown): string {
  if (v === undefined) return 'nothing'
  if (v === null) return 'null'
  if (Array.isArray(v)) return `a list of ${v.length} ${v.length === 1 ? 'entry' : 'entries'}`
  if (typeof v === 'object') return 'a mapping'
  return `a ${typeof v}`
}

function valueAt(raw: unknown, path: readonly PropertyKey[], secrets: ReadonlySet<string>, kindOnly: boolean): string {
  let v: unknown = raw
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined
  // A secret's value is never shown, nor anything under a secret-looking key (a list of keys, say).
  if (path.some(k => typeof k === 'string' && (secrets.has(k) || looksSecret(k))))
    return v === undefined ? 'nothing' : '<redacted>'
  if (v === undefined) return 'nothing'
  // Lists and mappings are never printed (a secret may sit anywhere in them), only what they are;
  // nor is a value where a list or mapping belongs (a whole section written as one string).
  if (Array.isArray(v) && v.length === 0) return '[]'
  if (kindOnly || (v !== null && typeof v === 'object')) return kindOf(v)
  const s = typeof v === 'string' ? JSON.stringify(redactUrl(v)) : (JSON.stringify(v) ?? String(v))
  return s.length > 80 ? s.slice(0, 77) + '...' : s
}

/** What a type is called in an error an operator reads (zod's own names otherwise: "a string"). */
const EXPECTED: Readonly<Record<string, string>> = { object: 'a mapping', int: 'a whole number', array: 'a list' }

function rule(i: ConfigIssue): string {
  switch (i.code) {
    case 'invalid_type':
      return `must be ${EXPECTED[String(i.expected)] ?? `a ${String(i.expected)}`}`
    case 'too_small':
      return i.origin === 'array'
        ? `must have at least ${String(i.minimum)} entries`
        : i.origin === 'string'
          ? `must be at least ${String(i.minimum)} characters`
          : `must be ${i.inclusive === false ? '>' : '>='} ${String(i.minimum)}`
    case 'too_big':
      return i.origin === 'string'
        ? `must be at most ${String(i.maximum)} characters`
        : `must be ${i.inclusive === false ? '<' : '<='} ${String(i.maximum)}`
    case 'invalid_value':
      return `must be one of ${(i.values ?? []).map(v => JSON.stringify(v)).join(', ')}`
    default:
      return i.message.startsWith('must') ? i.message : `is invalid: ${i.message}`
  }
}

export function describeIssue(raw: unknown, i: ConfigIssue, secrets: ReadonlySet<string>): DescribedIssue {
  if (i.code === 'unrecognized_keys' && i.keys !== undefined && i.keys.length > 0) {
    // A misspelt key is named; its value is never shown (a misspelt token is still a token).
    const path = [...i.path, i.keys[0]!]
    let v: unknown = raw
    for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined
    const more =
      i.keys.length > 1 ? ` (nor ${i.keys.slice(1, 4).map(String).join(', ')}${i.keys.length > 4 ? ', ...' : ''})` : ''
    return { key: path.map(String).join('.'), rule: `is not a known key${more}`, value: `${kindOf(v)}, not shown` }
  }
  // A value of the wrong type is shown only where a plain value belongs: where a list or mapping
  // belongs, it is what a whole section became (`homeserver: <token>`), so only its kind is shown.
  const structural =
    i.code === 'invalid_type' &&
    (i.expected === 'object' || i.expected === 'array' || i.expected === 'record' || i.expected === 'map')
  return { key: i.path.map(String).join('.'), rule: rule(i), value: valueAt(raw, i.path, secrets, structural) }
}

/**
 * A config file that does not parse, in words that never quote it: the parsers' own messages
 * can carry a piece of the file (JSON.parse shows the text around the error, YAML an alias's or
 * tag's name), and that piece can be a token. Only the position and the parser's code are kept.
 */
export function describeParseError(e: unknown, text: string, format: 'JSON' | 'YAML'): string {
  const err = e as { message?: unknown; code?: unknown; linePos?: Array<{ line: number; col: number }> }
  let where = ''
  if (format === 'YAML' && Array.isArray(err?.linePos) && err.linePos[0] !== undefined) {
    where = ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}`
  } else if (format === 'JSON') {
    const at = jsonErrorOffset(text)
    if (at === null) where = ': it ends too early'
    else {
      const lines = text.slice(0, at).split('\n')
      where = ` at line ${lines.length}, column ${lines[lines.length - 1]!.length + 1}`
    }
  }
  const code = format === 'YAML' && typeof err?.code === 'string' && /^[A-Z_]+$/.test(err.code) ? ` (${err.code})` : ''
  return `not valid ${format}${where}${code}`
}

/**
 * Where JSON.parse first fails on `text`, found without its message (which may quote the text):
 * the shortest prefix that fails other than by ending early ends just past the error. Null when
 * the text only ends too early (or parses).
 */
function jsonErrorOffset(text: string): number | null {
  const failsInside = (n: number): boolean => {
    try {
      JSON.parse(text.slice(0, n))
      return false
    } catch (e) {
      const m = (e as Error).message
      if (/end of JSON input/.test(m)) return false
      const p = /at position (\d+)/.exec(m)
      return p === null || Number(p[1]) < n
    }
  }
  if (!failsInside(text.length)) return null
  let lo = 0
  let hi = text.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (failsInside(mid)) hi = mid
    else lo = mid + 1
  }
  return Math.max(0, lo - 1)
}

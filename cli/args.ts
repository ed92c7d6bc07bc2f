/** Argument parsing for sealmix: `--name value` pairs (repeatable), `--help`, flags without values, positionals. */
export class Usage extends Error {}
export const usage = (m: string): Usage => new Usage(m)

/** Options that take no value (except where a command gives them one: `audit --json FILE`). */
const SWITCHES = new Set(['json', 'quick'])
const VALUED: Record<string, Set<string>> = { audit: new Set(['json']) }

export type Flags = Map<string, string[]>

export function parse (argv: string[]): { cmd: string, flags: Flags, rest: string[] } {
  const [cmd = '', ...args] = argv
  const flags: Flags = new Map()
  const rest: string[] = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === '--help' || a === '-h') { flags.set('help', ['']); continue }
    if (a.startsWith('--') && SWITCHES.has(a.slice(2)) && VALUED[cmd]?.has(a.slice(2)) !== true) { flags.set(a.slice(2), ['']); continue }
    if (a.startsWith('--')) {
      const v = args[i + 1]
      if (v === undefined || v.startsWith('--')) throw usage(`option ${a} needs a value`)
      flags.set(a.slice(2), [...(flags.get(a.slice(2)) ?? []), v])
      i++
    } else rest.push(a)
  }
  return { cmd, flags, rest }
}

export function one (flags: Flags, name: string): string {
  const v = flags.get(name)
  if (v === undefined || v.length !== 1) throw usage(`--${name} is required (once)`)
  return v[0]!
}

export function optional (flags: Flags, name: string): string | undefined {
  const v = flags.get(name)
  if (v !== undefined && v.length !== 1) throw usage(`--${name} may be given once`)
  return v?.[0]
}

export function hostPort (flags: Flags, name: string, dflt: string): { host: string, port: number } {
  const v = optional(flags, name) ?? dflt
  const m = /^(.+):(\d{1,5})$/.exec(v)
  if (m === null || Number(m[2]) > 65535) throw usage(`--${name} must be HOST:PORT (got ${v})`)
  return { host: m[1]!, port: Number(m[2]) }
}

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once with status 130. */
export function untilSignal (): Promise<string> {
  let signals = 0
  return new Promise(resolve => {
    const on = (sig: string): void => { signals++; if (signals > 1) process.exit(130); resolve(sig) }
    process.on('SIGINT', () => on('SIGINT'))
    process.on('SIGTERM', () => on('SIGTERM'))
  })
}

/** `--authority URL=SIGNER_HEX`, repeatable: the directory authorities a node follows (empty: none given). */
export function authorities (flags: Flags): Array<{ url: string, publicKey: string }> {
  return (flags.get('authority') ?? []).map(a => {
    const m = /^(https?:\/\/\S+)=([0-9a-f]{64})$/.exec(a)
    if (m === null) throw usage(`--authority must be URL=SIGNER_HEX (got ${a})`)
    return { url: m[1]!, publicKey: m[2]! }
  })
}

/** A duration: `5s`, `1500ms`, `2m`, `1h`, or a plain number of milliseconds. */
export function durationMs (flags: Flags, name: string, dflt: number): number {
  const v = optional(flags, name)
  if (v === undefined) return dflt
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v)
  if (m === null) throw usage(`--${name} must be a duration such as 5s, 1500ms, 2m or 1h (got ${v})`)
  return Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 'ms') as 'ms'])
}

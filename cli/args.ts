/**
 * Argument parsing for sealmix on node:util parseArgs in strict mode: each command declares its
 * options (cli/options.ts); anything else is a usage error (exit 64) that names the argument.
 * `--name value` and `--name=value` both work; a value that starts with '-' needs the `=` form.
 */
import { parseArgs } from 'node:util'
import { redactUrl } from '../daemon/index.ts'

export class Usage extends Error {
  /** The command whose `--help` the message points to ('' for the top level); set by the dispatcher when the helper that threw did not know it. */
  command: string | undefined
  constructor(message: string, command?: string) {
    super(message)
    this.command = command
  }
}
export const usage = (m: string, command?: string): Usage => new Usage(m, command)

export interface OptionSpec {
  readonly type: 'string' | 'boolean'
  readonly multiple?: boolean
  readonly short?: string
}
export type Options = Readonly<Record<string, OptionSpec>>

type Value = string | boolean | Array<string | boolean> | undefined
/** One command's parsed arguments: parseArgs' values and positionals, with the declarations they were parsed against. */
export interface Flags {
  readonly command: string
  readonly options: Options
  readonly values: Readonly<Record<string, Value>>
  readonly positionals: readonly string[]
}

/** Every command answers `-h` and `--help`. */
const HELP_OPTION: Options = { help: { type: 'boolean', short: 'h' } }

export function parseCommand(command: string, declared: Options, args: string[], positionals = false): Flags {
  const options = { ...declared, ...HELP_OPTION }
  const r = (() => {
    try {
      return parseArgs({ args, options, strict: true, allowPositionals: positionals, tokens: true })
    } catch (e) {
      throw diagnose(command, options, args, positionals, e)
    }
  })()
  // parseArgs keeps the last of a repeated once-only option; two values for one setting is a slip
  // (an edited command line, a copied flag) that should stop the command, not pick one silently.
  const seen = new Set<string>()
  for (const t of r.tokens) {
    if (t.kind !== 'option' || options[t.name]?.multiple === true || t.name === 'help') continue
    if (seen.has(t.name)) throw usage(`--${t.name} may be given once`, command)
    seen.add(t.name)
  }
  return { command, options, values: r.values as Record<string, Value>, positionals: r.positionals }
}

/**
 * Strict parseArgs says what is wrong but in its own words; the same arguments parsed leniently,
 * token by token, tell which argument it was, for a message that is ours and stays stable.
 */
function diagnose(command: string, options: Options, args: string[], positionals: boolean, e: unknown): Error {
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true })
  for (const t of tokens) {
    if (t.kind === 'positional' && !positionals)
      return usage(`'${command}' takes no arguments (got '${t.value}')`, command)
    if (t.kind !== 'option') continue
    const o = options[t.name]
    if (o === undefined) return usage(`unknown option '${t.rawName}' for '${command}'`, command)
    if (o.type === 'boolean' && t.value !== undefined)
      return usage(`option --${t.name} takes no value (got ${t.rawName}=${t.value})`, command)
    if (o.type === 'string' && t.value === undefined) return usage(`option --${t.name} needs a value`, command)
    if (
      o.type === 'string' &&
      t.inlineValue !== true &&
      t.value !== undefined &&
      t.value.length > 1 &&
      t.value.startsWith('-')
    ) {
      return usage(
        `option --${t.name} needs a value before '${t.value}' (write --${t.name}=VALUE for a value that starts with '-')`,
        command
      )
    }
  }
  return usage((e as Error).message, command)
}

function raw(f: Flags, name: string): Value {
  // Reading an option the command does not declare is a bug in cli/ (exit 70), not the operator's mistake.
  if (!Object.hasOwn(f.options, name)) throw new Error(`option --${name} is not declared for '${f.command}'`)
  return f.values[name]
}

function strings(f: Flags, name: string): string[] {
  const v = raw(f, name)
  if (f.options[name]!.type !== 'string') throw new Error(`option --${name} of '${f.command}' is a switch, not a value`)
  return v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String)
}

/** A required option, given once. */
export function one(f: Flags, name: string): string {
  const v = strings(f, name)
  if (v.length === 0) throw usage(`--${name} is required`)
  if (v.length > 1) throw usage(`--${name} may be given once`)
  return v[0]!
}

export function optional(f: Flags, name: string): string | undefined {
  const v = strings(f, name)
  if (v.length > 1) throw usage(`--${name} may be given once`)
  return v[0]
}

/** A repeatable option: every value in order (none given: empty). */
export function many(f: Flags, name: string): string[] {
  return strings(f, name)
}

/** A switch (`--json`, `--quick`). */
export function flag(f: Flags, name: string): boolean {
  if (f.options[name]?.type !== 'boolean') throw new Error(`option --${name} of '${f.command}' is not a switch`)
  return raw(f, name) === true
}

/** Options that were given, for commands whose modes take different sets (`init --role`). */
export function onlyThese(f: Flags, allowed: readonly string[], what: string): void {
  for (const [name, v] of Object.entries(f.values)) {
    if (v !== undefined && name !== 'help' && !allowed.includes(name))
      throw usage(`option --${name} does not apply to '${what}'`)
  }
}

export function hostPort(f: Flags, name: string, dflt: string): { host: string; port: number } {
  const v = optional(f, name) ?? dflt
  const m = /^(.+):(\d{1,5})$/.exec(v)
  if (m === null || Number(m[2]) > 65535) throw usage(`--${name} must be HOST:PORT (got ${redactUrl(v)})`)
  return { host: m[1]!, port: Number(m[2]) }
}

/** `--authority URL=SIGNER_HEX`, repeatable: the directory authorities a node follows (empty: none given). */
export function authorities(f: Flags): Array<{ url: string; publicKey: string }> {
  return many(f, 'authority').map(a => {
    const m = /^(https?:\/\/\S+)=([0-9a-f]{64})$/.exec(a)
    if (m === null) throw usage(`--authority must be URL=SIGNER_HEX (got ${redactUrl(a)})`)
    return { url: m[1]!, publicKey: m[2]! }
  })
}

export type LogFormat = 'json' | 'pretty'
const isLogFormat = (v: string): v is LogFormat => v === 'json' || v === 'pretty'

/**
 * `--log-format json|pretty`, else SEALMIX_LOG_FORMAT, else pretty where standard output is a
 * terminal (someone is reading) and JSON lines elsewhere (a file, a pipe, journald, a container's
 * log: what a collector parses).
 */
export function logFormat(
  f: Flags,
  env: Readonly<Record<string, string | undefined>> = process.env,
  tty: boolean = process.stdout.isTTY === true
): LogFormat {
  const v = optional(f, 'log-format')
  if (v !== undefined) {
    if (!isLogFormat(v)) throw usage(`--log-format must be json or pretty (got ${v})`)
    return v
  }
  const e = env.SEALMIX_LOG_FORMAT
  if (e !== undefined && e !== '') {
    if (!isLogFormat(e)) throw usage(`SEALMIX_LOG_FORMAT must be json or pretty (got ${e})`)
    return e
  }
  return tty ? 'pretty' : 'json'
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const

/**
 * A duration in milliseconds: `250ms`, `5s`, `1.5m`, `1h`. The unit is required: a bare `5` has
 * been read as seconds by some tools and as milliseconds by others, and a wrong guess here is an
 * epoch a thousand times too short or too long.
 */
export function durationMs(f: Flags, name: string): number | undefined
export function durationMs(f: Flags, name: string, dflt: number): number
export function durationMs(f: Flags, name: string, dflt?: number): number | undefined {
  const v = optional(f, name)
  if (v === undefined) return dflt
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v)
  if (m === null) throw usage(`--${name} must be a duration with a unit such as 5s, 250ms, 1m or 1h (got ${v})`)
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS])
}

/**
 * For long runs that stop children (the devnet): `stop` resolves on the first SIGINT or SIGTERM
 * or on `closed`; `hurry` on a later signal, but not one within a second of the first: a Ctrl-C
 * under `npm start` arrives twice (from the terminal, and forwarded by npm), and both mean one
 * orderly stop.
 */
export function stopSignals(closed: Promise<void>): { stop: Promise<void>; hurry: Promise<void> } {
  let first = 0
  let hurry!: () => void
  const hurried = new Promise<void>(resolve => {
    hurry = resolve
  })
  const stop = new Promise<void>(resolve => {
    const on = (): void => {
      if (first === 0) {
        first = Date.now()
        resolve()
        return
      }
      if (Date.now() - first > 1000) hurry()
    }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
    void closed.then(on)
  })
  return { stop, hurry: hurried }
}

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once with status 130. */
export function untilSignal(): Promise<string> {
  let signals = 0
  return new Promise(resolve => {
    const on = (sig: string): void => {
      signals++
      if (signals > 1) process.exit(130)
      resolve(sig)
    }
    process.on('SIGINT', () => on('SIGINT'))
    process.on('SIGTERM', () => on('SIGTERM'))
  })
}

/**
 * Reading a program's config file: YAML, or JSON by its .json ending. The result names what went
 * wrong without the parser's own words, which can quote the file (and the file holds tokens);
 * each program turns a failure into its own error code.
 *
 * The environment then sets a closed list of keys on top of the file, before the program's schema
 * sees it (CONFIG_ENV, the table in docs/OPERATIONS.md "Environment variables"): what differs from
 * one pod of a StatefulSet to the next (its published address, its layer, its listeners on the pod
 * IP, its data directory) and the tokens a Kubernetes Secret hands in, so that one config file
 * serves every pod. Only the three server programs' configs take them (a relay's, an ingress's, an
 * authority's, told apart by `role`); a client profile or the stand-in homeserver's file is read
 * as it is. A SIGHUP reload reads the file and the environment again (a running process's
 * environment does not change).
 */
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { type ZodType, z } from 'zod'
import { type ConfigIssue, describeIssue, describeParseError } from '../../mix/index.ts'
import { host, httpUrl, port, token } from './config-schema.ts'

/** The parsed file, or what is wrong with it in the words every program prints. */
export type ConfigText =
  | { readonly kind: 'parsed'; readonly value: unknown }
  | { readonly kind: 'refused'; readonly problem: string; readonly cause?: unknown }
  /** A SEALMIX_* variable is refused: the file is readable, the config it makes is not valid. */
  | { readonly kind: 'invalid'; readonly problem: string }

/**
 * For a key left out of a config: where else it may come from, when a variable can set it (a
 * per-pod key that a shared config leaves to the environment); '' otherwise.
 */
export function envHint(kind: ConfigKind, key: string): string {
  const e = CONFIG_ENV.find(x => x.key === key && x.kinds.includes(kind))
  return e === undefined ? '' : `; set it in the file or with ${e.env}`
}

/** The configs the environment applies to. */
export type ConfigKind = 'relay' | 'authority' | 'ingress'

export interface ConfigEnvVar {
  readonly env: string
  /** The dotted config key it sets. */
  readonly key: string
  readonly kinds: readonly ConfigKind[]
  /** Read as a whole number (a port, a layer) before the check; otherwise a string. */
  readonly integer: boolean
  /** The same field the programs' schemas use, so that a bad value is refused here, naming the variable. */
  readonly check: ZodType
  /** Never shown, in any message. */
  readonly secret: boolean
  readonly example: string
}

const LOG_LEVEL = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
const ALL: readonly ConfigKind[] = ['relay', 'authority', 'ingress']

const v = (
  env: string,
  key: string,
  kinds: readonly ConfigKind[],
  check: ZodType,
  example: string,
  o: { integer?: boolean; secret?: boolean } = {}
): ConfigEnvVar => ({ env, key, kinds, check, example, integer: o.integer === true, secret: o.secret === true })

/**
 * Every variable that sets a config key. A closed list: a key not here is set in the file, so that
 * what a node runs with is read in one place, with what differs per pod beside it.
 */
export const CONFIG_ENV: readonly ConfigEnvVar[] = [
  v('SEALMIX_DATA_DIR', 'dataDir', ['relay', 'ingress'], z.string().min(1), '/data'),
  v('SEALMIX_LISTEN_HOST', 'listen.host', ['relay', 'authority'], host, '0.0.0.0'),
  v('SEALMIX_LISTEN_PORT', 'listen.port', ['relay', 'authority'], port, '9000', { integer: true }),
  v(
    'SEALMIX_DIRECTORY_ADDRESS',
    'directory.address',
    ['relay'],
    z.string().regex(/^wss?:\/\/\S+$/, 'must be a ws:// or wss:// URL'),
    'ws://$(POD_NAME).mix-1:9000'
  ),
  v('SEALMIX_DIRECTORY_LAYER', 'directory.layer', ['relay'], z.number().int().min(0).max(3), '1', { integer: true }),
  v('SEALMIX_API_HOST', 'api.host', ['ingress'], host, '0.0.0.0'),
  v('SEALMIX_API_PORT', 'api.port', ['ingress'], port, '8090', { integer: true }),
  v('SEALMIX_METRICS_HOST', 'metrics.host', ALL, host, '$(POD_IP)'),
  v('SEALMIX_METRICS_PORT', 'metrics.port', ALL, port, '9464', { integer: true }),
  v('SEALMIX_METRICS_TOKEN', 'metrics.token', ['relay', 'ingress'], token, '(from a Secret)', { secret: true }),
  v('SEALMIX_LOG_LEVEL', 'log.level', ALL, LOG_LEVEL, 'debug'),
  v('SEALMIX_HOMESERVER_URL', 'homeserver.url', ['ingress'], httpUrl, 'http://synapse:8008'),
  v('SEALMIX_HOMESERVER_AS_TOKEN', 'homeserver.asToken', ['ingress'], token, '(from a Secret)', { secret: true }),
  v('SEALMIX_HOMESERVER_HS_TOKEN', 'homeserver.hsToken', ['ingress'], token, '(from a Secret)', { secret: true })
]

/**
 * The first word of a SEALMIX_ variable that would set a config key: a top-level key (or its first
 * word) of some program's config. Such a variable not in CONFIG_ENV is refused, not ignored: a
 * misspelt SEALMIX_DIRECTORY_ADRESS left every pod publishing the file's address. Other SEALMIX_
 * variables (SEALMIX_COMMAND of the systemd unit, SEALMIX_HEALTH_PORT of the image's health
 * check, SEALMIX_EXIT_WITH_PARENT, the benchmarks') are none of this reader's business.
 */
const CONFIG_WORDS = new Set([
  'VERSION',
  'ROLE',
  'DATA',
  'LISTEN',
  'TLS',
  'INGRESS',
  'NETWORK',
  'DIRECTORY',
  'METRICS',
  'LIMITS',
  'REPLAY',
  'SPOOL',
  'MAILBOX',
  'LOG',
  'SIGNING',
  'EPOCH',
  'MIXING',
  'ADMISSION',
  'STATE',
  'INGRESSES',
  'PEERS',
  'SERVER',
  'HOMESERVER',
  'API',
  'ROOMS'
])

/** SEALMIX_ variables that start like a config key but are read elsewhere: the log line format (cli/args.ts). */
const NOT_CONFIG = new Set(['SEALMIX_LOG_FORMAT'])

const KINDS_NAMED: Record<ConfigKind, string> = { relay: 'a relay', authority: 'an authority', ingress: 'an ingress' }

const isMap = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x)

/**
 * Which program's config this is, by `role` (a relay's is required; an authority's and an
 * ingress's default, so their required keys tell them apart); null for any other file.
 */
export function configKind(value: unknown): ConfigKind | null {
  if (!isMap(value)) return null
  const role = value.role
  if (role === 'gateway' || role === 'mix') return 'relay'
  if (role === 'authority' || (role === undefined && 'signingKeyFile' in value)) return 'authority'
  if (role === 'ingress' || (role === undefined && 'serverName' in value && 'homeserver' in value)) return 'ingress'
  return null
}

/** The refusal of one variable's value, in the programs' words, naming the variable and never a secret. */
function refusal(e: ConfigEnvVar, given: unknown, issue: ConfigIssue): string {
  const leaf = e.key.split('.').pop()!
  // Under the key's own last name, so that a secret-looking one (token, asToken) is redacted as in the file.
  const d = describeIssue({ [leaf]: given }, { ...issue, path: [leaf] }, new Set(e.secret ? [leaf] : []))
  return `${e.key} (from ${e.env}) ${d.rule} (got ${e.secret ? '<redacted>' : d.value})`
}

/**
 * `value` with the environment's keys set on it, or the first variable refused: one of the closed
 * list whose value fails its field, or that does not apply to this kind of config, or a SEALMIX_
 * variable that looks like a config key but is not in the list.
 */
export function applyConfigEnv(value: unknown, env: NodeJS.ProcessEnv): ConfigText {
  const kind = configKind(value)
  if (kind === null) return { kind: 'parsed', value }
  const known = new Map(CONFIG_ENV.map(e => [e.env, e]))
  for (const name of Object.keys(env).sort()) {
    const m = /^SEALMIX_([A-Z0-9]+)/.exec(name)
    if (m === null || known.has(name) || NOT_CONFIG.has(name) || !CONFIG_WORDS.has(m[1]!)) continue
    // Those of the same section first: a misspelling is most likely one of them.
    const near = CONFIG_ENV.filter(e => e.env.startsWith(`SEALMIX_${m[1]}_`) || e.env === `SEALMIX_${m[1]}`)
    const named = near.length > 0 ? `those for ${m[1]!.toLowerCase()}: ` : ''
    return {
      kind: 'invalid',
      problem: `${name} is not a config variable (${named}${(near.length > 0 ? near : CONFIG_ENV).map(e => e.env).join(', ')}; the list is in docs/OPERATIONS.md "Environment variables"): set any other key in the config file`
    }
  }
  const root = value as Record<string, unknown>
  for (const e of CONFIG_ENV) {
    const raw = env[e.env]
    if (raw === undefined) continue
    if (!e.kinds.includes(kind))
      return {
        kind: 'invalid',
        problem: `${e.env} sets ${e.key}, which ${KINDS_NAMED[kind]} config does not have (it applies to ${e.kinds.map(k => KINDS_NAMED[k]).join(', ')}): unset it for this program`
      }
    if (raw === '')
      return {
        kind: 'invalid',
        problem: `${e.key} (from ${e.env}) is set but empty: give it a value, or unset it to keep the file's`
      }
    let given: unknown = raw
    if (e.integer) {
      if (!/^-?\d{1,16}$/.test(raw))
        return {
          kind: 'invalid',
          problem: refusal(e, raw, { code: 'custom', path: [], message: 'must be a whole number' })
        }
      given = Number(raw)
    }
    const r = e.check.safeParse(given)
    if (!r.success) return { kind: 'invalid', problem: refusal(e, given, r.error.issues[0]! as ConfigIssue) }
    const path = e.key.split('.')
    let at = root
    for (const k of path.slice(0, -1)) {
      if (at[k] === undefined) at[k] = {}
      const next = at[k]
      if (!isMap(next))
        return {
          kind: 'invalid',
          problem: `${e.env} sets ${e.key}, but ${path.slice(0, path.indexOf(k) + 1).join('.')} in the file is not a mapping`
        }
      at = next
    }
    at[path.at(-1)!] = r.data
  }
  return { kind: 'parsed', value: root }
}

/** Read `path`, then set the keys `env` gives (CONFIG_ENV) on top of it. */
export function readConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): ConfigText {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? 'unknown error'
    return { kind: 'refused', problem: `cannot read config file ${path}: ${why}`, cause: e }
  }
  const json = path.endsWith('.json')
  let value: unknown
  try {
    value = json ? JSON.parse(text) : parseYaml(text)
  } catch (e) {
    return { kind: 'refused', problem: `${path} is ${describeParseError(e, text, json ? 'JSON' : 'YAML')}` }
  }
  return applyConfigEnv(value, env)
}

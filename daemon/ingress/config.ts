import { dirname, resolve } from 'node:path'
import { z } from 'zod'
import { type ConfigIssue, describeIssue } from '../../mix/index.ts'
import {
  authoritiesSchema,
  envHint,
  hex32,
  host,
  maxSkewMs,
  metricsSchema,
  networkFileSchema,
  port,
  readConfigFile,
  token
} from '../io/index.ts'
import { IngressError } from './errors.ts'

const LIMITS = {
  perDestinationPerMinute: 120,
  maxPartialMessages: 1024,
  maxPartialBytes: 64 << 20,
  reassemblyTimeoutMs: 600_000,
  maxReplayEntries: 2_000_000,
  maxDestinations: 100_000
}

export const IngressConfigSchema = z
  .object({
    version: z.literal(1).default(1),
    role: z.literal('ingress').default('ingress'),
    /** Keys (identity, box, issuing, ServerCert) and the LevelDB database. */
    dataDir: z.string().min(1),
    /** The homeserver this ingress serves; recipients are @user:serverName. */
    serverName: z.string().min(1).max(255),
    /** A static signed network file and its signers. Set this or `directory`. */
    network: networkFileSchema.optional(),
    /** Follow directory authorities: the ingress publishes its own signed descriptor and fetches each epoch's document. */
    directory: z
      .object({
        authorities: authoritiesSchema,
        /** Relay ids of the exit gateways this ingress attaches to (published in its descriptor). */
        gateways: z.array(hex32).min(1).max(16),
        maxSkewMs
      })
      .strict()
      .optional(),
    homeserver: z
      .object({
        /** Base URL of the homeserver's client-server API. */
        url: z.string().regex(/^https?:\/\/\S+$/, 'must be an http:// or https:// URL'),
        /** The application service's as_token (from the registration file). */
        asToken: token,
        hsToken: token,
        /** The sealed bot user the ingress sends as: @<botLocalpart>:<serverName>. @default sealmix */
        botLocalpart: z
          .string()
          .regex(/^[a-z0-9._=/-]+$/, 'must be a Matrix localpart')
          .default('sealmix'),
        timeoutMs: z.number().int().min(100).max(300_000).default(10_000)
      })
      .strict(),
    /** Client API: SenderCert issuance and capability registration. @default 127.0.0.1:8090 */
    api: z
      .object({ host: host.default('127.0.0.1'), port: port.default(8090) })
      .strict()
      .default({ host: '127.0.0.1', port: 8090 }),
    /** @default 127.0.0.1:9465 */
    metrics: metricsSchema(9465),
    limits: z
      .object({
        /** Messages delivered per destination (a device, or a room) per minute; beyond it the sender is told to try later. @default 120 */
        perDestinationPerMinute: z.number().int().min(1).max(100_000).default(LIMITS.perDestinationPerMinute),
        /** Partially reassembled messages held at once. @default 1024 */
        maxPartialMessages: z.number().int().min(1).max(1_000_000).default(LIMITS.maxPartialMessages),
        /** Bytes of fragments held at once. @default 64 MiB */
        maxPartialBytes: z
          .number()
          .int()
          .min(65536)
          .max(1 << 30)
          .default(LIMITS.maxPartialBytes),
        /** A partial message is dropped after this long. @default 10 min */
        reassemblyTimeoutMs: z
          .number()
          .int()
          .min(1000)
          .max(3 * 3600_000)
          .default(LIMITS.reassemblyTimeoutMs),
        /** Envelope hashes remembered (3 hours of them are needed). @default 2000000 */
        maxReplayEntries: z.number().int().min(1000).max(100_000_000).default(LIMITS.maxReplayEntries),
        /** Destinations tracked by the rate limiter. @default 100000 */
        maxDestinations: z.number().int().min(100).max(10_000_000).default(LIMITS.maxDestinations)
      })
      .strict()
      .default(LIMITS),
    /** Rooms this ingress posts sealed messages into (docs/PROTOCOL.md §15a). */
    rooms: z
      .object({
        /**
         * How long a room send key stays valid after a normal rotation names its successor (a
         * block ends it at once). Long enough for the new key to reach every member. @default 10 min
         */
        rotationGraceMs: z
          .number()
          .int()
          .min(0)
          .max(24 * 3600_000)
          .default(600_000),
        /** Rooms with a registered send key at most. @default 100000 */
        maxRooms: z.number().int().min(1).max(10_000_000).default(100_000),
        /** Rooms whose first key one user may register, so that no user takes every slot. @default 1000 */
        maxRoomsPerUser: z.number().int().min(1).max(10_000_000).default(1000)
      })
      .strict()
      .default({ rotationGraceMs: 600_000, maxRooms: 100_000, maxRoomsPerUser: 1000 }),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' })
  })
  .strict()

export type IngressConfig = z.infer<typeof IngressConfigSchema>

const SECRETS = new Set(['asToken', 'hsToken', 'token'])

export function parseIngressConfig(raw: unknown, baseDir: string): IngressConfig {
  const r = IngressConfigSchema.safeParse(raw)
  if (!r.success) {
    const d = describeIssue(raw, r.error.issues[0]! as ConfigIssue, SECRETS)
    const hint = d.value === 'nothing' ? envHint('ingress', d.key) : ''
    throw new IngressError('INGRESS_CONFIG_INVALID', `${d.key} ${d.rule}${hint} (got ${d.value})`)
  }
  const c = r.data
  if ((c.network === undefined) === (c.directory === undefined))
    throw new IngressError(
      'INGRESS_CONFIG_INVALID',
      `network exactly one of network (a static file) and directory (authorities) must be set (got ${c.network === undefined ? '<neither>' : '<both>'})`
    )
  return {
    ...c,
    dataDir: resolve(baseDir, c.dataDir),
    network: c.network === undefined ? undefined : { ...c.network, file: resolve(baseDir, c.network.file) }
  }
}

/** Read and parse a config file, or throw the ingress's config error naming what went wrong. */
export function readIngressConfigFile(path: string): unknown {
  const file = readConfigFile(path)
  if (file.kind === 'refused') throw new IngressError('INGRESS_CONFIG_UNREADABLE', file.problem, { cause: file.cause })
  if (file.kind === 'invalid') throw new IngressError('INGRESS_CONFIG_INVALID', file.problem)
  return file.value
}

export function loadIngressConfig(path: string): IngressConfig {
  return parseIngressConfig(readIngressConfigFile(path), dirname(resolve(path)))
}

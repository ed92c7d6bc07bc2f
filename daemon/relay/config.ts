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
  RelayError,
  readConfigFile
} from '../io/index.ts'
import { PUSH_BATCH, PUSH_INTERVAL_MS } from './gateway/edge.ts'

const LIMITS = {
  maxConnections: 1024,
  maxConnectionsPerIp: 16,
  reservedPeerSlots: 32,
  maxBufferedBytes: 4 * 1024 * 1024,
  handshakeTimeoutMs: 10_000,
  pingIntervalMs: 15_000,
  maxPoolPackets: 100_000,
  workers: 2,
  maxUnauthenticatedPerIp: 8,
  maxUnwrapQueue: 8192,
  maxUnwrapQueuePerClient: 256
}

export const ConfigSchema = z
  .object({
    /** Config format version; a breaking change adds a migration. @default 1 */
    version: z.literal(1).default(1),
    /** 'gateway' (entry and exit edge) or 'mix' (layers 1-3); must match the network document. */
    role: z.enum(['gateway', 'mix']),
    /** Directory for keys and the LevelDB database; relative paths are relative to the config file. */
    dataDir: z.string().min(1),
    /** The WebSocket listener. @default 127.0.0.1, port 0 (any free port) */
    listen: z
      .object({ host: host.default('127.0.0.1'), port: port.default(0) })
      .strict()
      .default({ host: '127.0.0.1', port: 0 }),
    /** Serve wss:// with this certificate and key (PEM files). */
    tls: z
      .object({ certFile: z.string().min(1), keyFile: z.string().min(1) })
      .strict()
      .optional(),
    /**
     * A gateway's pins of the homeservers whose ingresses it serves: server name → server root keys
     * (hex). When set, the gateway links and delivers only to ingresses whose binding one of those
     * keys signed (a server not named here: none of its ingresses); unset, it takes the document's word.
     */
    ingressRoots: z.record(z.string().min(1).max(255), z.array(hex32).min(1).max(8)).optional(),
    /** A static signed network file and the public keys trusted to sign it (a majority must). Set this or `directory`. */
    network: networkFileSchema.optional(),
    /** Follow directory authorities: per-epoch mix keys, descriptors published, documents fetched (docs/PROTOCOL.md §18.1). */
    directory: z
      .object({
        /** The authorities and their signing keys; a document needs a majority of them. */
        authorities: authoritiesSchema,
        /** The ws:// or wss:// address other relays and clients reach this relay at (published in its descriptor). */
        address: z
          .string()
          .regex(/^wss?:\/\/\S+$/, 'must be a ws:// or wss:// URL')
          .refine(a => {
            try {
              const u = new URL(a)
              return u.hostname !== '' && u.port !== '0' && u.username === '' && u.password === ''
            } catch {
              return false
            }
          }, 'must be a ws:// or wss:// URL with a valid host and a port other than 0, and no credentials (it is published)'),
        /** 0 for a gateway, 1..3 for a mix. */
        layer: z.number().int().min(0).max(3),
        maxSkewMs
      })
      .strict()
      .optional(),
    /** @default 127.0.0.1:9464 */
    metrics: metricsSchema(9464),
    limits: z
      .object({
        /** All WebSocket connections. @default 1024 */
        maxConnections: z.number().int().min(1).max(1_000_000).default(LIMITS.maxConnections),
        /** Client connections from one address. @default 16 */
        maxConnectionsPerIp: z.number().int().min(1).max(1_000_000).default(LIMITS.maxConnectionsPerIp),
        /** Connections kept free for relays and ingresses. @default 32 */
        reservedPeerSlots: z.number().int().min(0).max(100_000).default(LIMITS.reservedPeerSlots),
        /** Bytes buffered per connection before frames are dropped (queue_full). @default 4 MiB */
        maxBufferedBytes: z
          .number()
          .int()
          .min(4096)
          .max(1 << 30)
          .default(LIMITS.maxBufferedBytes),
        /** A connection must complete its handshake within this time. @default 10000 */
        handshakeTimeoutMs: z.number().int().min(100).max(600_000).default(LIMITS.handshakeTimeoutMs),
        /** Ping interval; a peer that misses a pong is closed. @default 15000 */
        pingIntervalMs: z.number().int().min(100).max(600_000).default(LIMITS.pingIntervalMs),
        /** Packets held in the mixing pool; beyond it a random packet is dropped (queue_full). @default 100000 */
        maxPoolPackets: z.number().int().min(1).max(1_000_000).default(LIMITS.maxPoolPackets),
        /** Unwrap worker threads. @default 2 */
        workers: z.number().int().min(1).max(64).default(LIMITS.workers),
        /** Sockets not past their handshake (raw TCP included), beyond the connection slots; when full, the oldest is closed or the newcomer refused. @default maxConnections / 4, from 8 to 128 */
        maxUnauthenticated: z.number().int().min(1).max(100_000).optional(),
        /** Sockets not past their handshake from one address (IPv4 /32, IPv6 /64). @default 8 */
        maxUnauthenticatedPerIp: z.number().int().min(1).max(100_000).default(LIMITS.maxUnauthenticatedPerIp),
        /** Packets waiting for the unwrap workers, in all; shared fairly between connections (queue_full beyond). @default 8192 */
        maxUnwrapQueue: z.number().int().min(64).max(1_000_000).default(LIMITS.maxUnwrapQueue),
        /** Packets waiting for the unwrap workers from one client connection; it is paused at three quarters. @default 256 */
        maxUnwrapQueuePerClient: z.number().int().min(4).max(1_000_000).default(LIMITS.maxUnwrapQueuePerClient)
      })
      .strict()
      .default(LIMITS),
    replay: z
      .object({
        /**
         * Tags held per mix key before the filter is full and packets are refused (replay_full). At
         * most 100 million: the filter takes about 3.6 MB per million tags at 1e-6, allocated at start. @default 10000000
         */
        capacity: z.number().int().min(1000).max(100_000_000).default(10_000_000),
        /** Chance that a fresh packet is taken for a replay once the filter holds `capacity` tags; 1e-9 at least (the filter grows as it falls). @default 1e-6 */
        falsePositiveRate: z.number().min(1e-9).lt(0.01).default(1e-6)
      })
      .strict()
      .default({ capacity: 10_000_000, falsePositiveRate: 1e-6 }),
    spool: z
      .object({
        /** Undelivered ingress packets older than this are deleted (ttl). @default 7 days */
        ttlMs: z
          .number()
          .int()
          .min(1000)
          .max(90 * 24 * 3600_000)
          .default(7 * 24 * 3600_000),
        /** Per ingress; beyond it new packets are refused (quota). @default 100000 */
        maxPacketsPerDestination: z.number().int().min(1).max(10_000_000).default(100_000)
      })
      .strict()
      .default({ ttlMs: 7 * 24 * 3600_000, maxPacketsPerDestination: 100_000 }),
    mailbox: z
      .object({
        /** @default 24 h */
        ttlMs: z
          .number()
          .int()
          .min(1000)
          .max(30 * 24 * 3600_000)
          .default(24 * 3600_000),
        /** Per mailbox. @default 1000 */
        maxPacketsPerMailbox: z.number().int().min(1).max(1_000_000).default(1000),
        /** Every pull answers exactly this many frames, real ones first, then cover. @default 16 */
        pullBatch: z.number().int().min(1).max(256).default(16),
        /**
         * A client that asks has its mailbox pushed this often (docs/PROTOCOL.md §19). At least 50 ms,
         * so that the frames of one push stay apart from the next (a client tells them apart by a
         * 20 ms gap); at most 1 s, so that a client that pulls every second sees pushes within the
         * two intervals after which it falls back to pulling. @default 100
         */
        pushIntervalMs: z.number().int().min(50).max(1000).default(PUSH_INTERVAL_MS),
        /** Every push is exactly this many frames, real ones first, then cover. @default 1 */
        pushBatch: z.number().int().min(1).max(16).default(PUSH_BATCH)
      })
      .strict()
      .default({
        ttlMs: 24 * 3600_000,
        maxPacketsPerMailbox: 1000,
        pullBatch: 16,
        pushIntervalMs: PUSH_INTERVAL_MS,
        pushBatch: PUSH_BATCH
      }),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' })
  })
  .strict()

export type RelayConfig = z.infer<typeof ConfigSchema>

const SECRET_KEYS = new Set(['token'])

/** Validate a parsed config object. Throws RelayError RELAY_CONFIG_INVALID naming key, rule and value. */
export function parseConfig(raw: unknown, baseDir: string): RelayConfig {
  const r = ConfigSchema.safeParse(raw)
  if (!r.success) {
    const d = describeIssue(raw, r.error.issues[0]! as ConfigIssue, SECRET_KEYS)
    throw RelayError.CONFIG_INVALID(
      d.key,
      d.value === 'nothing' ? `${d.rule}${envHint('relay', d.key)}` : d.rule,
      d.value
    )
  }
  const c = r.data
  if (c.limits.reservedPeerSlots >= c.limits.maxConnections) {
    throw RelayError.CONFIG_INVALID(
      'limits.reservedPeerSlots',
      `must be less than limits.maxConnections (${c.limits.maxConnections})`,
      String(c.limits.reservedPeerSlots)
    )
  }
  if ((c.network === undefined) === (c.directory === undefined)) {
    throw RelayError.CONFIG_INVALID(
      'network',
      'exactly one of network (a static file) and directory (authorities) must be set',
      c.network === undefined ? '<neither>' : '<both>'
    )
  }
  if (c.directory !== undefined && (c.role === 'gateway') !== (c.directory.layer === 0)) {
    throw RelayError.CONFIG_INVALID(
      'directory.layer',
      `must be 0 for a gateway and 1..3 for a mix (role is ${c.role})`,
      String(c.directory.layer)
    )
  }
  const abs = (p: string): string => resolve(baseDir, p)
  return deepFreeze({
    ...c,
    dataDir: abs(c.dataDir),
    network: c.network === undefined ? undefined : { ...c.network, file: abs(c.network.file) },
    tls: c.tls === undefined ? undefined : { certFile: abs(c.tls.certFile), keyFile: abs(c.tls.keyFile) }
  })
}

/** Read a YAML (or, by its .json ending, JSON) config file and validate it. */
export function loadConfig(path: string): RelayConfig {
  const file = readConfigFile(path)
  if (file.kind === 'refused') throw new RelayError('RELAY_CONFIG_UNREADABLE', file.problem, { cause: file.cause })
  if (file.kind === 'invalid') throw new RelayError('RELAY_CONFIG_INVALID', file.problem)
  return parseConfig(file.value, dirname(resolve(path)))
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v)
    Object.freeze(o)
  }
  return o
}

/**
 * Directory authority configuration (`sealmix authority --config FILE`), validated strictly like
 * a relay's: unknown keys refused, each error names key, rule and value.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { z } from 'zod'
import {
  type ConfigIssue,
  type CryptoSuite,
  DEFAULT_MIXING,
  describeIssue,
  type IngressDescriptor,
  STRATEGY_NAMES,
  strategyRuleBroken
} from '../../mix/index.ts'
import { RelayError, readConfigFile, signingKey } from '../io/index.ts'

const hex32 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters (a 32-byte key)')

export const AuthorityConfigSchema = z
  .object({
    version: z.literal(1).default(1),
    role: z.literal('authority').default('authority'),
    /** 32-byte Ed25519 seed of this authority's signing key (made by `sealmix init --role authority`). */
    signingKeyFile: z.string().min(1),
    listen: z
      .object({ host: z.string().min(1).default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(8700) })
      .strict()
      .default({ host: '127.0.0.1', port: 8700 }),
    network: z.string().min(1).max(64),
    epoch: z
      .object({
        /** Start of epoch 0, ms since 1970 (the same on every authority); before 2100. */
        genesisMs: z.number().int().min(0).max(4_102_444_800_000),
        /** @default 1 h */
        epochMs: z
          .number()
          .int()
          .min(1000)
          .max(7 * 24 * 3_600_000)
          .default(3_600_000),
        /** Previous keys stay valid this long into an epoch. @default 5 min */
        graceMs: z
          .number()
          .int()
          .min(0)
          .max(24 * 3_600_000)
          .default(300_000)
      })
      .strict(),
    /** Mixing and cover parameters for the documents (defaults: DEFAULT_MIXING). */
    mixing: z
      .object({
        /** A name from the strategy table (mix/mixing/registry.ts). */
        strategy: z.enum(STRATEGY_NAMES).optional(),
        intervalMs: z.number().int().min(1).max(60_000).optional(),
        minPool: z.number().int().min(0).max(1_000_000).optional(),
        flushFraction: z.number().gt(0).max(1).optional(),
        minBatch: z.number().int().min(0).max(1_000_000).optional(),
        maxDelayMs: z.number().int().min(0).max(3_600_000).optional(),
        loopRatePerSec: z.number().min(0).max(1000).optional(),
        clientRatePerSec: z.number().min(0).max(1000).optional(),
        clientLoopRatePerSec: z.number().min(0).max(1000).optional(),
        hopDelayMs: z.number().min(0).max(600_000).optional()
      })
      .strict()
      .superRefine((m, ctx) => {
        // The strategy's own rules, on the parameters the documents will carry (defaults filled in).
        const p = { ...DEFAULT_MIXING, ...m }
        const broken = strategyRuleBroken(p)
        if (broken !== null)
          ctx.addIssue({
            code: 'custom',
            path: ['strategy'],
            message: `must have parameters that meet the ${p.strategy} strategy's rules (broken: ${broken})`
          })
      })
      .default({}),
    /**
     * The admitted relays and homeservers (daemon/authority/admission.ts), edited with `sealmix authority
     * admit|remove` and re-read while running. A missing file admits nobody.
     */
    admissionFile: z.string().min(1),
    /** POSTs of descriptors allowed per second, per source address and in total (429 beyond). */
    limits: z
      .object({
        perSourcePerSecond: z.number().int().min(1).max(100_000).default(50),
        perSecond: z.number().int().min(1).max(1_000_000).default(500)
      })
      .strict()
      .default({ perSourcePerSecond: 50, perSecond: 500 }),
    /** The operations listener (/metrics, /healthz, /readyz), off unless set. */
    metrics: z
      .object({ host: z.string().min(1).default('127.0.0.1'), port: z.number().int().min(0).max(65535) })
      .strict()
      .optional(),
    /** Held descriptors and their arrival times, kept across restarts (written by the authority). */
    stateFile: z.string().min(1).optional(),
    /** A JSON file with the ingress descriptors to list (from `sealmix init --role ingress`). */
    ingressesFile: z.string().min(1).optional(),
    peers: z
      .array(
        z.object({ url: z.string().regex(/^https?:\/\/\S+$/, 'must be an http(s) URL'), publicKey: hex32 }).strict()
      )
      .default([]),
    /** The log level; SIGHUP applies a new one without a restart. @default info */
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' })
  })
  .strict()

export type AuthorityConfig = z.infer<typeof AuthorityConfigSchema> & { readonly ingresses: IngressDescriptor[] }

export function loadAuthorityConfig(path: string): AuthorityConfig {
  const file = readConfigFile(path)
  if (file.kind === 'refused') throw new RelayError('RELAY_CONFIG_UNREADABLE', file.problem, { cause: file.cause })
  if (file.kind === 'invalid') throw new RelayError('RELAY_CONFIG_INVALID', file.problem)
  const raw = file.value
  const r = AuthorityConfigSchema.safeParse(raw)
  if (!r.success) {
    const d = describeIssue(raw, r.error.issues[0]! as ConfigIssue, new Set())
    throw RelayError.CONFIG_INVALID(d.key, d.rule, d.value)
  }
  const base = dirname(resolve(path))
  const c = r.data
  const ingresses =
    c.ingressesFile === undefined
      ? []
      : (JSON.parse(readFileSync(resolve(base, c.ingressesFile), 'utf8')) as IngressDescriptor[])
  return {
    ...c,
    signingKeyFile: resolve(base, c.signingKeyFile),
    admissionFile: resolve(base, c.admissionFile),
    stateFile: c.stateFile === undefined ? undefined : resolve(base, c.stateFile),
    mixing: { ...DEFAULT_MIXING, ...c.mixing },
    ingresses
  }
}

/** Create the signing key if absent (daemon/io/secret-file.ts: atomic, 0600, never replaced); returns the key pair. */
export function authorityKey(c: CryptoSuite, file: string): { publicKey: Uint8Array; secretKey: Uint8Array } {
  if (!existsSync(file)) {
    // Not narrowed if it exists: the key may sit in a directory that holds other things.
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
    return signingKey(c, file, { create: true })
  }
  return signingKey(c, file, { create: false })
}

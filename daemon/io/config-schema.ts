/**
 * The config fields that the programs' schemas share, so that each is checked and worded the same
 * way in every config file: keys, addresses, tokens, the static network file, the authorities to
 * follow and the operations listener.
 */
import { z } from 'zod'

/** A 32-byte key in lowercase hex. */
export const hex32 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters (a 32-byte key)')
export const port = z.number().int().min(0).max(65535)
export const host = z.string().min(1)
export const token = z.string().min(16, 'must be at least 16 characters')
export const httpUrl = z.string().regex(/^https?:\/\/\S+$/, 'must be an http(s) URL')

/** A static signed network file and the public keys trusted to sign it (a majority must). */
export const networkFileSchema = z.object({ file: z.string().min(1), signers: z.array(hex32).min(1) }).strict()

/** The directory authorities to follow, each with its signing key; a document needs a majority. */
export const authoritiesSchema = z.array(z.object({ url: httpUrl, publicKey: hex32 }).strict()).min(1)

/** Clock skew tolerated against documents. @default 30000 */
export const maxSkewMs = z.number().int().min(0).max(600_000).default(30_000)

/** The operations listener (/healthz, /readyz, /metrics) on `defaultPort`; 0 picks a free port. */
export function metricsSchema(defaultPort: number) {
  return z
    .object({
      host: host.default('127.0.0.1'),
      port: port.default(defaultPort),
      /** Require `Authorization: Bearer <token>` on /metrics. */
      token: token.optional(),
      enabled: z.boolean().default(true)
    })
    .strict()
    .default({ host: '127.0.0.1', port: defaultPort, enabled: true })
}

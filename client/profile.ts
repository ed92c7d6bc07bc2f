/**
 * Client profiles and contact cards as data: the schemas, and what a profile's secrets make (the
 * device, its mailbox id, its capability key, the pinned roots). No I/O, so that a browser build
 * reads a profile the same way `sealmix send` and `sealmix listen` do (tools/chat/profile.ts
 * reads them from files).
 * A profile holds one device's secrets: its keys, mailbox id, capability key, Matrix access
 * token, the network file or directory authorities, the entry gateway and the pinned server roots.
 * A contact card is what a device shares with its contacts: its public keys and the capability
 * secret that authorizes deliveries to it (rotate it to block senders).
 */
import { z } from 'zod'
import { type ConfigIssue, type CryptoSuite, describeIssue, type TrustStore, userIdDomain } from '../mix/index.ts'
import { ClientError } from './errors.ts'
import type { Contact, Device } from './sdk.ts'

const hex32 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters (32 bytes)')
const url = z.string().regex(/^https?:\/\/\S+$/, 'must be an http:// or https:// URL')
const userId = z.string().refine(s => userIdDomain(s) !== null, 'must be a Matrix user id (@user:server)')

export const ProfileSchema = z
  .object({
    version: z.literal(1).default(1),
    /** A static network file and its signers; or `directory`. */
    network: z
      .object({ file: z.string().min(1), signers: z.array(hex32).min(1) })
      .strict()
      .optional(),
    /** Directory authorities to fetch each epoch's document from (a majority must sign it). */
    directory: z
      .object({
        authorities: z.array(z.object({ url, publicKey: hex32 }).strict()).min(1),
        maxSkewMs: z.number().int().min(0).max(600_000).default(30_000)
      })
      .strict()
      .optional(),
    /** Relay id of the entry gateway; the mailbox lives there. */
    gateway: hex32,
    homeserver: z.object({ url, accessToken: z.string().min(1) }).strict(),
    /** The ingress's client API (SenderCert issuance, capability registration). */
    ingressApi: url,
    device: z
      .object({ userId, deviceId: z.string().min(1).max(255), x25519Secret: hex32, ed25519Seed: hex32 })
      .strict(),
    mailboxId: hex32,
    capability: z.object({ keyId: z.number().int().min(0).max(0xffffffff), seed: hex32 }).strict(),
    /** Pinned ServerCert root keys per server name. */
    trust: z.record(z.string(), z.array(hex32).min(1))
  })
  .strict()

export const ContactSchema = z
  .object({
    userId,
    deviceId: z.string().min(1).max(255),
    x25519: hex32,
    capability: z
      .object({
        keyId: z.number().int().min(0).max(0xffffffff),
        secret: z.string().regex(/^[0-9a-f]{128}$/, 'must be 128 lowercase hex characters (an Ed25519 secret key)')
      })
      .strict()
  })
  .strict()

export type Profile = z.infer<typeof ProfileSchema>

const SECRETS = new Set(['accessToken', 'x25519Secret', 'ed25519Seed', 'seed', 'secret', 'mailboxId'])

export function validateWith<T>(schema: z.ZodType<T>, raw: unknown, what: string): T {
  const r = schema.safeParse(raw)
  if (r.success) return r.data
  const d = describeIssue(raw, r.error.issues[0]! as ConfigIssue, SECRETS)
  throw new ClientError('CLIENT_CONFIG_INVALID', `${what}: ${d.key} ${d.rule} (got ${d.value})`)
}

/** What a profile's secrets make: the device, its mailbox id, its capability key and the pinned roots. */
export interface ProfileKeys {
  readonly device: Device
  readonly mailboxId: Buffer
  readonly capability: { readonly keyId: number; readonly publicKey: Uint8Array; readonly secretKey: Uint8Array }
  readonly trust: TrustStore
}

/** Checks a profile (`what` names it in the error) and makes its keys. */
export function profileKeys(c: CryptoSuite, raw: unknown, what: string): { profile: Profile } & ProfileKeys {
  const p = validateWith(ProfileSchema, raw, what)
  if ((p.network === undefined) === (p.directory === undefined))
    throw new ClientError(
      'CLIENT_CONFIG_INVALID',
      `${what}: network exactly one of network (a static file) and directory (authorities) must be set`
    )
  const xs = Buffer.from(p.device.x25519Secret, 'hex')
  const xp = Buffer.alloc(32)
  c.x25519Base(xp, xs)
  const cap = c.signSeedKeypair(Buffer.from(p.capability.seed, 'hex'))
  const roots = new Map(Object.entries(p.trust).map(([k, v]) => [k, v.map(h => Buffer.from(h, 'hex'))]))
  return {
    profile: p,
    device: {
      userId: p.device.userId,
      deviceId: p.device.deviceId,
      x25519: { publicKey: xp, secretKey: xs },
      ed25519: c.signSeedKeypair(Buffer.from(p.device.ed25519Seed, 'hex'))
    },
    mailboxId: Buffer.from(p.mailboxId, 'hex'),
    capability: { keyId: p.capability.keyId, ...cap },
    trust: { roots: name => roots.get(name) ?? [], serverCert: () => undefined, isRevoked: () => false }
  }
}

/** Checks a contact card (`what` names it in the error) and makes the Contact. */
export function contactOf(raw: unknown, what: string): Contact {
  const k = validateWith(ContactSchema, raw, what)
  return {
    userId: k.userId,
    deviceId: k.deviceId,
    x25519: Buffer.from(k.x25519, 'hex'),
    capability: { keyId: k.capability.keyId, secretKey: Buffer.from(k.capability.secret, 'hex') }
  }
}

/**
 * The network document: the signed list of relays, ingresses and mixing parameters that every node
 * routes by, one per epoch (docs/PROTOCOL.md §18). Canonical bytes are JSON with sorted keys; signatures
 * are Ed25519 over "sealmix-directory-v0\0" ‖ canonical bytes.
 */
import type { CryptoSuite } from '../crypto/suite.ts'
import { fail, ok, type Result } from '../envelope/codec.ts'
import { isStrategyName, type MixingStrategyName, strategyRuleBroken } from '../mixing/registry.ts'
import { type GeometryParams, geometryHash } from '../sphinx/geometry.ts'

export const DIRECTORY_VERSION = 1
export const DIRECTORY_LABEL = Buffer.from('sealmix-directory-v0\0', 'latin1')
/** Refuse documents larger than this before parsing them. */
export const MAX_DOCUMENT_BYTES = 1 << 20

export type RelayRole = 'gateway' | 'mix'

export interface RelayDescriptor {
  /** hex BLAKE2b-256 of the identity key */
  readonly id: string
  readonly role: RelayRole
  /** 0 for gateways (entry and exit), 1..3 for mix layers. */
  readonly layer: number
  /** ws:// or wss:// URL the relay listens on. */
  readonly address: string
  /** hex Ed25519 identity public key */
  readonly identityKey: string
  /** hex X25519 mix public key of this epoch */
  readonly mixKey: string
  /** What software the relay said it runs (its descriptor's `software`), when it said; see isSoftware. */
  readonly software?: string
}

export interface IngressDescriptor {
  readonly id: string
  readonly serverName: string
  readonly identityKey: string
  /** hex X25519 key that SubmitRequests are sealed to */
  readonly boxKey: string
  /** ids of the exit gateways the ingress connects to */
  readonly gateways: readonly string[]
  /** The homeserver's word that this ingress speaks for it (mix/directory/announce.ts, signIngressBinding). */
  readonly binding: IngressBinding
}

/**
 * Signed by the server root key of `serverName` (the key that signs its ServerCerts, which clients
 * pin) over the server name, the ingress's identity and box keys and `notAfterMs`.
 */
export interface IngressBinding {
  readonly notAfterMs: number
  /** hex Ed25519 signature */
  readonly signature: string
}

export interface MixingParams {
  /** One of the table in mix/mixing/registry.ts. */
  readonly strategy: MixingStrategyName
  /** Round length: every intervalMs the mixer releases a round. */
  readonly intervalMs: number
  /** Packets always kept back in the pool (batch) / released only when more are held (poisson). */
  readonly minPool: number
  /** Batch: share of the pool above minPool released per round, 0 < f ≤ 1. */
  readonly flushFraction: number
  /** A round smaller than this is topped up with cover. */
  readonly minBatch: number
  /**
   * The largest node_delay a relay accepts (a larger one is dropped as malformed, under either
   * strategy); poisson also holds no packet longer than this.
   */
  readonly maxDelayMs: number
  /** Relay loop cover rate, packets per second per relay (lambda M). */
  readonly loopRatePerSec: number
  /** Client send slots per second (lambda P); default in mix/route/path.ts. */
  readonly clientRatePerSec?: number
  /** Client loop cover per second (lambda L). */
  readonly clientLoopRatePerSec?: number
  /** Mean per-hop delay clients write into node_delay, ms. */
  readonly hopDelayMs?: number
}

export interface NetworkDocument {
  readonly version: number
  readonly network: string
  readonly epoch: number
  readonly validFromMs: number
  readonly validUntilMs: number
  /** Epoch length and grace window (documents from authorities; static network files omit them). */
  readonly epochMs?: number
  readonly graceMs?: number
  readonly geometry: GeometryParams & { readonly hash: string }
  readonly mixing: MixingParams
  readonly relays: readonly RelayDescriptor[]
  readonly ingresses: readonly IngressDescriptor[]
}

export interface SignedDocument {
  readonly document: NetworkDocument
  readonly signatures: ReadonlyArray<{ readonly signer: string; readonly signature: string }>
}

/** JSON with object keys sorted at every level: the bytes that are signed. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>
    return `{${Object.keys(o)
      .sort()
      .filter(k => o[k] !== undefined)
      .map(k => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`
  }
  return JSON.stringify(v)
}

export function documentBytes(d: NetworkDocument): Buffer {
  return Buffer.from(canonicalJson(d), 'utf8')
}

export function relayId(c: CryptoSuite, identityKey: Uint8Array): string {
  const h = Buffer.alloc(32)
  c.blake2b(h, identityKey)
  return h.toString('hex')
}

export function signDocument(
  c: CryptoSuite,
  d: NetworkDocument,
  signers: ReadonlyArray<{ publicKey: Uint8Array; secretKey: Uint8Array }>
): SignedDocument {
  const msg = Buffer.concat([DIRECTORY_LABEL, documentBytes(d)])
  return {
    document: d,
    signatures: signers.map(s => ({
      signer: Buffer.from(s.publicKey).toString('hex'),
      signature: Buffer.from(c.signDetached(msg, s.secretKey)).toString('hex')
    }))
  }
}

export type DirectoryCode =
  | 'DIR_TOO_LARGE'
  | 'DIR_MALFORMED'
  | 'DIR_BAD_SIGNATURES'
  | 'DIR_GEOMETRY_MISMATCH'
  | 'DIR_NOT_VALID_NOW'
  | 'DIR_INCONSISTENT'

const HEX32 = /^[0-9a-f]{64}$/

/**
 * A relay's `software` (descriptor and document): 1 to 32 characters of printable ASCII from a
 * short set, such as `sealmix/0.1.0+abc1234`. Free text here would reach every node and every
 * dashboard that shows the fleet, so it is held to what a name, a version and a commit need.
 */
export const SOFTWARE_PATTERN = /^[0-9A-Za-z][0-9A-Za-z.+/_-]{0,31}$/
export const isSoftware = (x: unknown): x is string => typeof x === 'string' && SOFTWARE_PATTERN.test(x)

const isInt = (x: unknown, min: number, max = Number.MAX_SAFE_INTEGER): x is number =>
  typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max

function shapeError(d: Record<string, unknown>): string | null {
  if (d.version !== DIRECTORY_VERSION) return 'version'
  if (typeof d.network !== 'string' || d.network.length === 0 || d.network.length > 64) return 'network'
  if (!isInt(d.epoch, 0) || !isInt(d.validFromMs, 0) || !isInt(d.validUntilMs, 0)) return 'times'
  if ((d.epochMs !== undefined && !isInt(d.epochMs, 1)) || (d.graceMs !== undefined && !isInt(d.graceMs, 0)))
    return 'times'
  const g = d.geometry as Record<string, unknown> | undefined
  if (g === undefined || !isInt(g.hops, 1, 16) || !isInt(g.userPayloadBytes, 1, 65536) || typeof g.hash !== 'string')
    return 'geometry'
  const m = d.mixing as Record<string, unknown> | undefined
  if (
    m === undefined ||
    !isStrategyName(m.strategy) ||
    !isInt(m.intervalMs, 1) ||
    !isInt(m.minPool, 0) ||
    typeof m.flushFraction !== 'number' ||
    !(m.flushFraction > 0 && m.flushFraction <= 1) ||
    !isInt(m.minBatch, 0) ||
    !isInt(m.maxDelayMs, 0) ||
    typeof m.loopRatePerSec !== 'number' ||
    !(m.loopRatePerSec >= 0)
  )
    return 'mixing'
  for (const k of ['clientRatePerSec', 'clientLoopRatePerSec', 'hopDelayMs']) {
    if (m[k] !== undefined && (typeof m[k] !== 'number' || !(m[k] >= 0 && m[k] <= 1e6))) return 'mixing'
  }
  if (strategyRuleBroken(m as unknown as MixingParams) !== null) return 'mixing'
  if (!Array.isArray(d.relays) || !Array.isArray(d.ingresses)) return 'lists'
  for (const r of d.relays as Array<Record<string, unknown>>) {
    if (typeof r !== 'object' || r === null) return 'relay'
    if (
      typeof r.id !== 'string' ||
      !HEX32.test(r.id) ||
      typeof r.identityKey !== 'string' ||
      !HEX32.test(r.identityKey) ||
      typeof r.mixKey !== 'string' ||
      !HEX32.test(r.mixKey)
    )
      return 'relay keys'
    if (
      (r.role !== 'gateway' && r.role !== 'mix') ||
      !isInt(r.layer, 0, 3) ||
      (r.role === 'gateway') !== (r.layer === 0)
    )
      return 'relay role'
    if (typeof r.address !== 'string' || !/^wss?:\/\/[^\s]+$/.test(r.address)) return 'relay address'
    if (r.software !== undefined && !isSoftware(r.software)) return 'relay software'
  }
  for (const i of d.ingresses as Array<Record<string, unknown>>) {
    if (typeof i !== 'object' || i === null) return 'ingress'
    if (
      typeof i.id !== 'string' ||
      !HEX32.test(i.id) ||
      typeof i.identityKey !== 'string' ||
      !HEX32.test(i.identityKey) ||
      typeof i.boxKey !== 'string' ||
      !HEX32.test(i.boxKey)
    )
      return 'ingress keys'
    if (
      typeof i.serverName !== 'string' ||
      i.serverName.length === 0 ||
      !Array.isArray(i.gateways) ||
      !i.gateways.every(x => typeof x === 'string' && HEX32.test(x))
    )
      return 'ingress'
    const b = i.binding as Record<string, unknown> | undefined
    if (
      typeof b !== 'object' ||
      b === null ||
      !isInt(b.notAfterMs, 0) ||
      typeof b.signature !== 'string' ||
      !/^[0-9a-f]{128}$/.test(b.signature)
    )
      return 'ingress binding'
  }
  return null
}

export interface VerifyDocumentOptions {
  /** Trusted signer public keys; a majority of them must have signed the same bytes. */
  readonly signers: readonly Uint8Array[]
  readonly geometry: GeometryParams
  readonly nowMs: number
  /** Clock skew tolerated at either end of the validity window, ms. @default 0 */
  readonly skewMs?: number
}

/** Parse and verify a signed network document from untrusted bytes. */
export function verifyDocument(
  c: CryptoSuite,
  bytes: Uint8Array,
  o: VerifyDocumentOptions
): Result<NetworkDocument, DirectoryCode> {
  if (bytes.length > MAX_DOCUMENT_BYTES) return fail('DIR_TOO_LARGE')
  let parsed: SignedDocument
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as SignedDocument
  } catch {
    return fail('DIR_MALFORMED', 'json')
  }
  if (
    parsed === null ||
    typeof parsed !== 'object' ||
    typeof parsed.document !== 'object' ||
    parsed.document === null ||
    !Array.isArray(parsed.signatures)
  )
    return fail('DIR_MALFORMED', 'envelope')
  const shape = shapeError(parsed.document as unknown as Record<string, unknown>)
  if (shape !== null) return fail('DIR_MALFORMED', shape)
  const d = parsed.document
  const msg = Buffer.concat([DIRECTORY_LABEL, documentBytes(d)])
  const trusted = new Set(o.signers.map(s => Buffer.from(s).toString('hex')))
  const good = new Set<string>()
  for (const s of parsed.signatures) {
    if (
      typeof s?.signer !== 'string' ||
      typeof s.signature !== 'string' ||
      !trusted.has(s.signer) ||
      !/^[0-9a-f]{128}$/.test(s.signature)
    )
      continue
    if (c.verifyDetached(Buffer.from(s.signature, 'hex'), msg, Buffer.from(s.signer, 'hex'))) good.add(s.signer)
  }
  if (good.size * 2 <= trusted.size || trusted.size === 0) return fail('DIR_BAD_SIGNATURES')
  if (
    d.geometry.hops !== o.geometry.hops ||
    d.geometry.userPayloadBytes !== o.geometry.userPayloadBytes ||
    d.geometry.hash !== geometryHash(c, o.geometry).toString('hex')
  )
    return fail('DIR_GEOMETRY_MISMATCH')
  const skew = o.skewMs ?? 0
  if (o.nowMs + skew < d.validFromMs || o.nowMs - skew > d.validUntilMs) return fail('DIR_NOT_VALID_NOW')
  const ids = new Set<string>()
  for (const r of d.relays) {
    if (ids.has(r.id) || r.id !== relayId(c, Buffer.from(r.identityKey, 'hex')))
      return fail('DIR_INCONSISTENT', 'relay id')
    ids.add(r.id)
  }
  for (const i of d.ingresses) {
    if (ids.has(i.id) || i.id !== relayId(c, Buffer.from(i.identityKey, 'hex')))
      return fail('DIR_INCONSISTENT', 'ingress id')
    ids.add(i.id)
    if (!i.gateways.every(g => d.relays.some(r => r.id === g && r.role === 'gateway')))
      return fail('DIR_INCONSISTENT', 'ingress gateway')
  }
  return ok(d)
}

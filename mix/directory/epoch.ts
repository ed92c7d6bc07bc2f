/**
 * Epochs and signed relay descriptors (docs/PROTOCOL.md §18.1), pure.
 * Epochs are fixed windows counted from a genesis time. A relay publishes a descriptor, signed
 * with its identity key, that carries its mix keys for the coming epochs. An authority builds
 * each epoch's document deterministically from the descriptors that verify, so that every honest
 * authority signs identical bytes.
 */
import type { CryptoSuite } from '../crypto/suite.ts'
import { fail, ok, type Result } from '../envelope/codec.ts'
import { MixError } from '../errors.ts'
import { type GeometryParams, geometryHash } from '../sphinx/geometry.ts'
import {
  canonicalJson,
  type DirectoryCode,
  type IngressDescriptor,
  isSoftware,
  type MixingParams,
  type NetworkDocument,
  type RelayRole,
  relayId,
  verifyDocument
} from './document.ts'

export interface EpochSchedule {
  /** Start of epoch 0, ms since the Unix epoch. */
  readonly genesisMs: number
  /** Epoch length, ms (default 1 h; tests use seconds). */
  readonly epochMs: number
}

export function epochAt(s: EpochSchedule, nowMs: number): number {
  if (nowMs < s.genesisMs) return 0
  return Math.floor((nowMs - s.genesisMs) / s.epochMs)
}

export function epochStart(s: EpochSchedule, epoch: number): number {
  return s.genesisMs + epoch * s.epochMs
}

/**
 * The last moment a descriptor counts for `epoch`'s document: half an epoch before it starts, so
 * that authorities have shared what they hold and the document is fixed well before anyone uses
 * it. Epoch 0 (the network's first) takes descriptors until genesis.
 */
export function publishDeadline(s: EpochSchedule, epoch: number): number {
  return epoch === 0 ? s.genesisMs : epochStart(s, epoch) - Math.floor(s.epochMs / 2)
}

/**
 * The epochs whose private mix keys a relay holds in memory at `nowMs`: the current one; the
 * previous one during the grace window; the next one from `skewMs` before it starts, so that a
 * sender whose clock runs ahead is served too.
 */
export function liveKeyEpochs(s: EpochSchedule, graceMs: number, skewMs: number, nowMs: number): number[] {
  const e = epochAt(s, nowMs)
  const out: number[] = []
  if (e > 0 && nowMs < epochStart(s, e) + graceMs) out.push(e - 1)
  out.push(e)
  if (nowMs >= epochStart(s, e + 1) - skewMs) out.push(e + 1)
  return out
}

/** The epochs a relay's descriptor published during `epoch` carries keys for: this one to KEYS_AHEAD past the next. */
export function descriptorEpochs(epoch: number): number[] {
  return Array.from({ length: KEYS_AHEAD + 2 }, (_, i) => epoch + i)
}

/** Recover the schedule from a document that carries its epoch length. */
export function scheduleOf(d: NetworkDocument): EpochSchedule | null {
  return d.epochMs === undefined ? null : { genesisMs: d.validFromMs - d.epoch * d.epochMs, epochMs: d.epochMs }
}

export const DESCRIPTOR_LABEL = Buffer.from('sealmix-descriptor-v0\0', 'latin1')
/** A descriptor must carry mix keys for at least this many epochs from the one it is used for (docs/PROTOCOL.md §18.1). */
export const KEYS_AHEAD = 2

export interface MixKeyEntry {
  readonly epoch: number
  readonly key: string
}

export interface SignedDescriptor {
  readonly descriptor: {
    readonly version: 1
    readonly id: string
    readonly role: RelayRole
    readonly layer: number
    readonly address: string
    readonly identityKey: string
    /** X25519 mix public keys (hex) for consecutive epochs. */
    readonly mixKeys: readonly MixKeyEntry[]
    /**
     * What the relay runs (`sealmix/0.1.0+abc1234`; isSoftware), signed with the rest and listed
     * in the document. Optional: descriptors from before it had the field stay valid.
     */
    readonly software?: string
  }
  /** hex Ed25519 signature by identityKey over DESCRIPTOR_LABEL ‖ canonical(descriptor). */
  readonly signature: string
}

export function signDescriptor(
  c: CryptoSuite,
  d: SignedDescriptor['descriptor'],
  identitySecretKey: Uint8Array
): SignedDescriptor {
  const msg = Buffer.concat([DESCRIPTOR_LABEL, Buffer.from(canonicalJson(d), 'utf8')])
  return { descriptor: d, signature: Buffer.from(c.signDetached(msg, identitySecretKey)).toString('hex') }
}

export type DescriptorCode = 'DESC_MALFORMED' | 'DESC_BAD_SIGNATURE' | 'DESC_ID_MISMATCH' | 'DESC_NO_KEY_FOR_EPOCH'

const HEX32 = /^[0-9a-f]{64}$/

/** Verify a descriptor from untrusted input, and that it has a key for `epoch` and KEYS_AHEAD after it. */
export function verifyDescriptor(c: CryptoSuite, s: unknown, epoch: number): Result<SignedDescriptor, DescriptorCode> {
  const v = verifyDescriptorSignature(c, s)
  if (!v.ok) return v
  const missing = missingKeyEpoch(v.value, epoch)
  return missing === null ? v : fail('DESC_NO_KEY_FOR_EPOCH', String(missing))
}

/** The first epoch from `epoch` to KEYS_AHEAD after it that a (verified) descriptor has no mix key for, or null. */
export function missingKeyEpoch(sd: SignedDescriptor, epoch: number): number | null {
  for (let e = epoch; e <= epoch + KEYS_AHEAD; e++) if (!sd.descriptor.mixKeys.some(k => k.epoch === e)) return e
  return null
}

/** Shape, id and signature of a descriptor from untrusted input; no epoch is checked. */
export function verifyDescriptorSignature(
  c: CryptoSuite,
  s: unknown
): Result<SignedDescriptor, Exclude<DescriptorCode, 'DESC_NO_KEY_FOR_EPOCH'>> {
  const sd = s as SignedDescriptor
  const d = sd?.descriptor as SignedDescriptor['descriptor'] | undefined
  if (
    d === undefined ||
    d === null ||
    typeof d !== 'object' ||
    typeof sd.signature !== 'string' ||
    !/^[0-9a-f]{128}$/.test(sd.signature)
  )
    return fail('DESC_MALFORMED', 'shape')
  if (
    d.version !== 1 ||
    typeof d.id !== 'string' ||
    !HEX32.test(d.id) ||
    typeof d.identityKey !== 'string' ||
    !HEX32.test(d.identityKey)
  )
    return fail('DESC_MALFORMED', 'keys')
  if (
    (d.role !== 'gateway' && d.role !== 'mix') ||
    !Number.isInteger(d.layer) ||
    d.layer < 0 ||
    d.layer > 3 ||
    (d.role === 'gateway') !== (d.layer === 0)
  )
    return fail('DESC_MALFORMED', 'role')
  if (typeof d.address !== 'string' || !/^wss?:\/\/[^\s]+$/.test(d.address)) return fail('DESC_MALFORMED', 'address')
  if (
    !Array.isArray(d.mixKeys) ||
    d.mixKeys.length > 64 ||
    !d.mixKeys.every(k => Number.isInteger(k?.epoch) && k.epoch >= 0 && typeof k.key === 'string' && HEX32.test(k.key))
  )
    return fail('DESC_MALFORMED', 'mixKeys')
  if (d.software !== undefined && !isSoftware(d.software)) return fail('DESC_MALFORMED', 'software')
  if (relayId(c, Buffer.from(d.identityKey, 'hex')) !== d.id) return fail('DESC_ID_MISMATCH')
  const msg = Buffer.concat([DESCRIPTOR_LABEL, Buffer.from(canonicalJson(d), 'utf8')])
  if (!c.verifyDetached(Buffer.from(sd.signature, 'hex'), msg, Buffer.from(d.identityKey, 'hex')))
    return fail('DESC_BAD_SIGNATURE')
  return ok(sd)
}

export interface EpochDocumentInput {
  readonly network: string
  readonly epoch: number
  readonly schedule: EpochSchedule
  /** Old keys stay usable this long into the next epoch (the grace window). */
  readonly graceMs: number
  readonly geometry: GeometryParams
  readonly mixing: MixingParams
  /**
   * Untrusted descriptors as received; the ones that do not verify are left out. With `verified`
   * they are SignedDescriptors whose signatures were checked on arrival (an authority verifies each
   * once, not at every build): only their keys for the epoch are checked.
   */
  readonly descriptors: readonly unknown[]
  readonly verified?: boolean
  readonly ingresses: readonly IngressDescriptor[]
}

/**
 * The document of one epoch, identical for identical inputs in any order: descriptors that verify,
 * one per relay id (when a relay sent several, the most recently published, ties broken by the
 * smaller signature, so that the choice does not depend on arrival order), sorted by id, each with
 * its mix key of this epoch.
 */
export function buildEpochDocument(c: CryptoSuite, i: EpochDocumentInput): NetworkDocument {
  if (!Number.isInteger(i.epoch) || i.epoch < 0) throw MixError.BAD_ARGUMENT('epoch must be a non-negative integer')
  const best = new Map<string, SignedDescriptor>()
  for (const raw of i.descriptors) {
    const v =
      i.verified === true
        ? missingKeyEpoch(raw as SignedDescriptor, i.epoch) === null
          ? ok(raw as SignedDescriptor)
          : fail('DESC_NO_KEY_FOR_EPOCH')
        : verifyDescriptor(c, raw, i.epoch)
    if (!v.ok) continue
    // The most recent descriptor (its first key's epoch is when it was published), ties broken by the smaller signature.
    const prev = best.get(v.value.descriptor.id)
    const first = (s: SignedDescriptor): number => Math.min(...s.descriptor.mixKeys.map(k => k.epoch))
    if (
      prev === undefined ||
      first(v.value) > first(prev) ||
      (first(v.value) === first(prev) && v.value.signature < prev.signature)
    )
      best.set(v.value.descriptor.id, v.value)
  }
  const relays = [...best.values()]
    .sort((a, b) => (a.descriptor.id < b.descriptor.id ? -1 : 1))
    .map(s => {
      const d = s.descriptor
      return {
        id: d.id,
        role: d.role,
        layer: d.layer,
        address: d.address,
        identityKey: d.identityKey,
        mixKey: d.mixKeys.find(k => k.epoch === i.epoch)!.key,
        // Only when the descriptor has it: a document built from old descriptors keeps its old bytes.
        ...(d.software === undefined ? {} : { software: d.software })
      }
    })
  const start = epochStart(i.schedule, i.epoch)
  // An ingress is listed with the gateways of this epoch it attaches to, and not at all without one.
  const gateways = new Set(relays.filter(r => r.role === 'gateway').map(r => r.id))
  const ingresses = i.ingresses
    .map(x => ({ ...x, gateways: x.gateways.filter(g => gateways.has(g)) }))
    .filter(x => x.gateways.length > 0)
  return {
    version: 1,
    network: i.network,
    epoch: i.epoch,
    validFromMs: start,
    validUntilMs: start + i.schedule.epochMs + i.graceMs,
    epochMs: i.schedule.epochMs,
    graceMs: i.graceMs,
    geometry: {
      hops: i.geometry.hops,
      userPayloadBytes: i.geometry.userPayloadBytes,
      hash: geometryHash(c, i.geometry).toString('hex')
    },
    mixing: i.mixing,
    relays,
    ingresses: ingresses.sort((a, b) => (a.id < b.id ? -1 : 1))
  }
}

/**
 * A client's choice among the documents several authorities served for one epoch: each must
 * verify on its own (a majority of `signers` on identical bytes); two that verify but differ
 * mean an authority signed both (equivocation), and then neither is used.
 */
export function chooseDocument(
  c: CryptoSuite,
  served: readonly Uint8Array[],
  o: {
    signers: readonly Uint8Array[]
    geometry: GeometryParams
    nowMs: number
    skewMs?: number
    epoch: number | 'latest'
    onRejected?: (code: DirectoryCode) => void
  }
): Result<NetworkDocument, 'DIR_NONE_VALID' | 'DIR_EQUIVOCATION'> {
  const verified: NetworkDocument[] = []
  for (const bytes of served) {
    const r = verifyDocument(c, bytes, o)
    if (r.ok) verified.push(r.value)
    else o.onRejected?.(r.code)
  }
  // 'latest' (a node that does not know the epoch yet): the highest epoch that verifies now.
  const epoch = o.epoch === 'latest' ? Math.max(-1, ...verified.map(d => d.epoch)) : o.epoch
  const valid = new Map<string, NetworkDocument>()
  for (const d of verified) if (d.epoch === epoch) valid.set(canonicalJson(d), d)
  if (valid.size === 0) return fail('DIR_NONE_VALID')
  if (valid.size > 1) return fail('DIR_EQUIVOCATION', `${valid.size} different documents for epoch ${epoch}`)
  return ok([...valid.values()][0]!)
}

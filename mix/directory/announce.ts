/**
 * What ingresses and authorities sign besides relay descriptors (docs/PROTOCOL.md §18.1), pure:
 * - an ingress descriptor, signed with the ingress's identity key, that an authority lists in
 *   the documents (with the gateways of each epoch it attaches to);
 * - an authority's epoch schedule, which a node that holds no document yet needs to name its
 *   epochs; it is taken when a majority of the trusted authorities sign identical values.
 */
import type { CryptoSuite } from '../crypto/suite.ts'
import { fail, ok, type Result } from '../envelope/codec.ts'
import { canonicalJson, type IngressBinding, type IngressDescriptor, relayId } from './document.ts'
import type { EpochSchedule } from './epoch.ts'

export const INGRESS_DESCRIPTOR_LABEL = Buffer.from('sealmix-ingress-descriptor-v0\0', 'latin1')
export const INGRESS_BINDING_LABEL = Buffer.from('sealmix-ingress-binding-v0\0', 'latin1')
export const SCHEDULE_LABEL = Buffer.from('sealmix-schedule-v0\0', 'latin1')

const HEX32 = /^[0-9a-f]{64}$/
const SIG = /^[0-9a-f]{128}$/

export interface SignedIngressDescriptor {
  readonly descriptor: IngressDescriptor & {
    readonly version: 1
    readonly kind: 'ingress' /** ms; the newest one counts */
    readonly issuedMs: number
  }
  readonly signature: string
}

const message = (label: Buffer, v: unknown): Buffer => Buffer.concat([label, Buffer.from(canonicalJson(v), 'utf8')])

/** What a binding covers: the server, the ingress's keys and the expiry. */
function bindingMessage(i: { serverName: string; identityKey: string; boxKey: string }, notAfterMs: number): Buffer {
  return message(INGRESS_BINDING_LABEL, {
    serverName: i.serverName,
    identityKey: i.identityKey,
    boxKey: i.boxKey,
    notAfterMs
  })
}

/** The homeserver's binding of an ingress, signed with its server root key (`sealmix init --role ingress`, where that key is). */
export function signIngressBinding(
  c: CryptoSuite,
  i: { serverName: string; identityKey: string; boxKey: string },
  notAfterMs: number,
  rootSecretKey: Uint8Array
): IngressBinding {
  return {
    notAfterMs,
    signature: Buffer.from(c.signDetached(bindingMessage(i, notAfterMs), rootSecretKey)).toString('hex')
  }
}

export type BindingCode = 'BINDING_MALFORMED' | 'BINDING_EXPIRED' | 'BINDING_UNVERIFIED'

/**
 * Whether an ingress may speak for its server: its binding is well-formed, not expired at
 * `nowMs`, and signed by one of `roots` (the server root keys pinned for that server).
 */
export function verifyIngressBinding(
  c: CryptoSuite,
  i: IngressDescriptor,
  roots: readonly Uint8Array[],
  nowMs: number
): Result<IngressDescriptor, BindingCode> {
  const b = i.binding as IngressBinding | undefined
  if (
    typeof b !== 'object' ||
    b === null ||
    !Number.isInteger(b.notAfterMs) ||
    typeof b.signature !== 'string' ||
    !SIG.test(b.signature)
  )
    return fail('BINDING_MALFORMED')
  if (b.notAfterMs < nowMs) return fail('BINDING_EXPIRED')
  const msg = bindingMessage(i, b.notAfterMs)
  const sig = Buffer.from(b.signature, 'hex')
  return roots.some(r => r.length === 32 && c.verifyDetached(sig, msg, r)) ? ok(i) : fail('BINDING_UNVERIFIED')
}

export function signIngressDescriptor(
  c: CryptoSuite,
  d: IngressDescriptor,
  issuedMs: number,
  identitySecretKey: Uint8Array
): SignedIngressDescriptor {
  const descriptor = {
    version: 1 as const,
    kind: 'ingress' as const,
    issuedMs,
    id: d.id,
    serverName: d.serverName,
    identityKey: d.identityKey,
    boxKey: d.boxKey,
    gateways: [...d.gateways],
    binding: { notAfterMs: d.binding.notAfterMs, signature: d.binding.signature }
  }
  return {
    descriptor,
    signature: Buffer.from(c.signDetached(message(INGRESS_DESCRIPTOR_LABEL, descriptor), identitySecretKey)).toString(
      'hex'
    )
  }
}

export function isIngressDescriptor(raw: unknown): boolean {
  return (raw as SignedIngressDescriptor | undefined)?.descriptor?.kind === 'ingress'
}

export function verifyIngressDescriptor(
  c: CryptoSuite,
  raw: unknown
): Result<SignedIngressDescriptor, 'DESC_MALFORMED' | 'DESC_ID_MISMATCH' | 'DESC_BAD_SIGNATURE'> {
  const s = raw as SignedIngressDescriptor | undefined
  const d = s?.descriptor
  if (
    d === undefined ||
    d === null ||
    typeof d !== 'object' ||
    typeof s!.signature !== 'string' ||
    !SIG.test(s!.signature)
  )
    return fail('DESC_MALFORMED', 'shape')
  if (d.version !== 1 || d.kind !== 'ingress' || !Number.isInteger(d.issuedMs) || d.issuedMs < 0)
    return fail('DESC_MALFORMED', 'version')
  if (
    typeof d.id !== 'string' ||
    !HEX32.test(d.id) ||
    typeof d.identityKey !== 'string' ||
    !HEX32.test(d.identityKey) ||
    typeof d.boxKey !== 'string' ||
    !HEX32.test(d.boxKey)
  )
    return fail('DESC_MALFORMED', 'keys')
  if (typeof d.serverName !== 'string' || d.serverName.length === 0 || d.serverName.length > 255)
    return fail('DESC_MALFORMED', 'serverName')
  if (
    !Array.isArray(d.gateways) ||
    d.gateways.length === 0 ||
    d.gateways.length > 16 ||
    !d.gateways.every(g => typeof g === 'string' && HEX32.test(g)) ||
    new Set(d.gateways).size !== d.gateways.length
  )
    return fail('DESC_MALFORMED', 'gateways')
  const b = d.binding as IngressBinding | undefined
  if (
    typeof b !== 'object' ||
    b === null ||
    Object.keys(b).length !== 2 ||
    !Number.isInteger(b.notAfterMs) ||
    b.notAfterMs < 0 ||
    typeof b.signature !== 'string' ||
    !SIG.test(b.signature)
  )
    return fail('DESC_MALFORMED', 'binding')
  if (Object.keys(d).length !== 9) return fail('DESC_MALFORMED', 'fields')
  if (relayId(c, Buffer.from(d.identityKey, 'hex')) !== d.id) return fail('DESC_ID_MISMATCH')
  if (
    !c.verifyDetached(
      Buffer.from(s!.signature, 'hex'),
      message(INGRESS_DESCRIPTOR_LABEL, d),
      Buffer.from(d.identityKey, 'hex')
    )
  )
    return fail('DESC_BAD_SIGNATURE')
  return ok(s!)
}

/** Newer first: the larger `issuedMs`, ties broken by the smaller signature (the same order on every authority). */
const newerFirst = (a: SignedIngressDescriptor, b: SignedIngressDescriptor): number =>
  b.descriptor.issuedMs - a.descriptor.issuedMs || (a.signature < b.signature ? -1 : a.signature > b.signature ? 1 : 0)

/**
 * One ingress entry per id from signed descriptors (the newest), and at most `perServer` per
 * server name (the most recently issued), so that one server cannot grow a document without bound.
 */
export function newestIngresses(list: readonly SignedIngressDescriptor[], perServer = Infinity): IngressDescriptor[] {
  const best = new Map<string, SignedIngressDescriptor>()
  for (const s of list) {
    const p = best.get(s.descriptor.id)
    if (p === undefined || newerFirst(s, p) < 0) best.set(s.descriptor.id, s)
  }
  const taken = new Map<string, number>()
  return [...best.values()]
    .sort(newerFirst)
    .filter(s => {
      const n = taken.get(s.descriptor.serverName) ?? 0
      taken.set(s.descriptor.serverName, n + 1)
      return n < perServer
    })
    .map(({ descriptor: d }) => ({
      id: d.id,
      serverName: d.serverName,
      identityKey: d.identityKey,
      boxKey: d.boxKey,
      gateways: d.gateways,
      binding: d.binding
    }))
}

export interface NetworkSchedule extends EpochSchedule {
  readonly network: string
  readonly graceMs: number
}

export interface SignedSchedule {
  readonly schedule: NetworkSchedule
  readonly signer: string
  readonly signature: string
}

export function signSchedule(
  c: CryptoSuite,
  s: NetworkSchedule,
  key: { publicKey: Uint8Array; secretKey: Uint8Array }
): SignedSchedule {
  const schedule = { network: s.network, genesisMs: s.genesisMs, epochMs: s.epochMs, graceMs: s.graceMs }
  return {
    schedule,
    signer: Buffer.from(key.publicKey).toString('hex'),
    signature: Buffer.from(c.signDetached(message(SCHEDULE_LABEL, schedule), key.secretKey)).toString('hex')
  }
}

/** The schedule that a majority of `signers` signed identically, from untrusted answers. */
export function chooseSchedule(
  c: CryptoSuite,
  served: readonly unknown[],
  signers: readonly string[]
): Result<NetworkSchedule, 'DIR_NONE_VALID'> {
  const votes = new Map<string, { s: NetworkSchedule; by: Set<string> }>()
  for (const raw of served) {
    const x = raw as SignedSchedule | undefined
    const s = x?.schedule
    if (
      s === undefined ||
      s === null ||
      typeof x!.signer !== 'string' ||
      !signers.includes(x!.signer) ||
      typeof x!.signature !== 'string' ||
      !SIG.test(x!.signature)
    )
      continue
    if (
      typeof s.network !== 'string' ||
      ![s.genesisMs, s.epochMs, s.graceMs].every(n => Number.isInteger(n) && n >= 0) ||
      s.epochMs < 1
    )
      continue
    const clean = { network: s.network, genesisMs: s.genesisMs, epochMs: s.epochMs, graceMs: s.graceMs }
    if (
      !c.verifyDetached(Buffer.from(x!.signature, 'hex'), message(SCHEDULE_LABEL, clean), Buffer.from(x!.signer, 'hex'))
    )
      continue
    const k = canonicalJson(clean)
    const v = votes.get(k) ?? { s: clean, by: new Set<string>() }
    v.by.add(x!.signer)
    votes.set(k, v)
  }
  for (const v of votes.values()) if (v.by.size * 2 > signers.length) return ok(v.s)
  return fail('DIR_NONE_VALID', 'no schedule signed by a majority')
}

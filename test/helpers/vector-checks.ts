/**
 * The known-answer checks of test/vectors/ as functions of a crypto suite and the vector data that
 * return one result per compared output instead of asserting: the Node vector tests assert on those
 * results, and test/browser/vectors.test.ts runs the very same functions inside Chromium on the
 * browser binding, so both count the same cases. For that this module is bundled for a page: it
 * imports no node: module and reads no file (the data is passed in).
 *
 * Also the fixtures of the Node/Chromium cross-checks that have no third-party vectors (a sealed
 * envelope and a Sphinx packet from seeded randomness), for the same reason: one definition that
 * both sides run.
 */
import {
  CONTENT_TYPES,
  type Command,
  type CryptoSuite,
  deterministicRng,
  encodeCommand,
  lionessDecryptRaw,
  lionessEncryptRaw,
  makeGeometry,
  NETWORK_GEOMETRY,
  type OutgoingMessage,
  openMessage,
  type PathHop,
  peelHeader,
  type Result,
  type SealCode,
  Sphinx,
  type SphinxContext,
  type Sprp,
  sealMessage,
  sealMessageV2,
  type VerifiedMessage,
  v2CopyWire,
  writeNextHeader
} from '../../mix/index.ts'
import { deriveHopKeys } from '../../mix/sphinx/index.ts'
import { makeDevice, makeServer, senderCert, T0, trustOf, xKeyPair } from './seal.ts'

export interface CheckResult {
  /** Unique within a run: the file's kind, the vector's or case's name and the output compared. */
  readonly name: string
  readonly ok: boolean
  /** The first byte that differs (or where the shorter side ends); null when equal or nothing was produced. */
  readonly firstDiff: number | null
  /** On failure: the bytes around firstDiff on both sides, or why nothing was produced. */
  readonly detail?: string
}

const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
const hex = (s: string): Buffer => Buffer.from(s, 'hex')

/** Compare computed bytes with the expected hex; on a difference, say where and show 16 bytes from there. */
export function compareBytes(name: string, got: Uint8Array, wantHex: string): CheckResult {
  const g = toHex(got)
  if (g === wantHex) return { name, ok: true, firstDiff: null }
  let i = 0
  while (i * 2 < g.length && i * 2 < wantHex.length && g.slice(i * 2, i * 2 + 2) === wantHex.slice(i * 2, i * 2 + 2))
    i++
  const window = (s: string): string => s.slice(i * 2, i * 2 + 32) || '(end)'
  return {
    name,
    ok: false,
    firstDiff: i,
    detail: `byte ${i}: got ${window(g)} want ${window(wantHex)} (lengths ${g.length / 2} and ${wantHex.length / 2})`
  }
}

const failed = (name: string, detail: string): CheckResult => ({ name, ok: false, firstDiff: null, detail })
const passed = (name: string): CheckResult => ({ name, ok: true, firstDiff: null })

/** Runs one case's checks; an exception becomes a failed result rather than ending the whole run. */
function guarded(name: string, f: () => CheckResult[]): CheckResult[] {
  try {
    return f()
  } catch (e) {
    return [failed(name, `threw: ${e instanceof Error ? e.message : String(e)}`)]
  }
}

// ---------------------------------------------------------------------------------------------
// Katzenpost primitives (katzenpost/primitives/*.json; sprp_aez.json needs npm aez, Node only).

type Named<V> = V & { name: string }
export interface PrimitiveVectors {
  sha512_256: Array<Named<{ input_hex: string; output_hex: string }>>
  hmac_sha256: Array<Named<{ key_hex: string; msg_hex: string; mac_hex: string }>>
  stream_aes256ctr: Array<Named<{ key_hex: string; iv_hex: string; length: number; keystream_hex: string }>>
  chacha20_deterministic_rand: Array<Named<{ key_hex: string; keystream_hex: string }>>
  kdf_sphinx: Array<
    Named<{
      ikm_hex: string
      header_mac_hex: string
      header_encryption_hex: string
      header_encryption_iv_hex: string
      payload_encryption_hex: string
      blinding_factor_seed_hex: string
    }>
  >
}

/** Where each primitive's vectors are, under ../shared/vectors/. */
export const PRIMITIVE_FILES: { readonly [K in keyof PrimitiveVectors]: string } = {
  sha512_256: 'katzenpost/primitives/hash_sha512_256.json',
  hmac_sha256: 'katzenpost/primitives/mac_hmac_sha256.json',
  stream_aes256ctr: 'katzenpost/primitives/stream_aes256ctr.json',
  chacha20_deterministic_rand: 'katzenpost/primitives/chacha20_deterministic_rand.json',
  kdf_sphinx: 'katzenpost/primitives/kdf_sphinx.json'
}

type PrimitiveCheck<K extends keyof PrimitiveVectors> = (
  c: CryptoSuite,
  v: PrimitiveVectors[K][number],
  name: string
) => CheckResult[]

const PRIMITIVE_CHECKS: { readonly [K in keyof PrimitiveVectors]: PrimitiveCheck<K> } = {
  sha512_256: (c, v, name) => [compareBytes(name, c.sha512_256(hex(v.input_hex)), v.output_hex)],
  hmac_sha256: (c, v, name) => [compareBytes(name, c.hmacSha256(hex(v.key_hex), hex(v.msg_hex)), v.mac_hex)],
  stream_aes256ctr: (c, v, name) => {
    const ks = Buffer.alloc(v.length)
    c.aes256CtrXor(ks, ks, hex(v.key_hex), hex(v.iv_hex))
    return [compareBytes(name, ks, v.keystream_hex)]
  },
  chacha20_deterministic_rand: (c, v, name) => {
    const ks = Buffer.alloc(v.keystream_hex.length / 2)
    c.chacha20Xor(ks, ks, hex(v.key_hex))
    return [compareBytes(name, ks, v.keystream_hex)]
  },
  kdf_sphinx: (c, v, name) => {
    const k = deriveHopKeys(c, hex(v.ikm_hex))
    return [
      compareBytes(`${name} header_mac`, k.headerMac, v.header_mac_hex),
      compareBytes(`${name} header_encryption`, k.headerKey, v.header_encryption_hex),
      compareBytes(`${name} header_encryption_iv`, k.headerIv, v.header_encryption_iv_hex),
      compareBytes(`${name} payload_encryption`, k.payloadKey, v.payload_encryption_hex),
      compareBytes(`${name} blinding_factor_seed`, k.blindingSeed, v.blinding_factor_seed_hex)
    ]
  }
}

/** Every vector of one primitive's file; the results are named `<primitive> <vector name>[ <output>]`. */
export function checkPrimitive<K extends keyof PrimitiveVectors>(
  c: CryptoSuite,
  kind: K,
  vectors: PrimitiveVectors[K]
): CheckResult[] {
  const check = PRIMITIVE_CHECKS[kind] as PrimitiveCheck<K>
  return vectors.flatMap(v => {
    const name = `${kind} ${v.name}`
    return guarded(name, () => check(c, v, name))
  })
}

// ---------------------------------------------------------------------------------------------
// Katzenpost Sphinx (katzenpost/testdata/sphinx_vectors.json): the header transform of every hop.

export const SPHINX_FILE = 'katzenpost/testdata/sphinx_vectors.json'

export interface SphinxCase {
  Nodes: Array<{ ID: string; PrivateKey: string }>
  Path: Array<{ ID: string; PublicKey: string; Commands: string[] }>
  Packets: string[]
  Payload: string
  Surb: string
  SurbKeys: string
}

/** The upstream geometry of the vectors: X25519 NIKE, r = 5, 103-byte user payload. */
export const SPHINX_VECTOR_GEOMETRY = makeGeometry({ hops: 5, userPayloadBytes: 103 })

// The header transform never touches the payload: upstream's AEZ is not needed for it.
const noSprp: Sprp = { name: 'none', encrypt() {}, decrypt() {} }

/** The commands a hop yields, hex, as upstream lists them (without the next-hop command). */
const encodeAll = (cmds: readonly Command[]): string =>
  cmds
    .filter(c => c.type !== 'next_node_hop')
    .map(c => encodeCommand(c).toString('hex'))
    .join('')

/**
 * Peel each hop of one case with that hop's key: its commands, and, but at the last hop, the next
 * hop's ID and the next header must be upstream's bytes; the last hop must name no next hop.
 * Every hop starts from upstream's packet, so one wrong hop does not hide the others.
 */
export function checkSphinxCase(crypto: CryptoSuite, kase: SphinxCase, ci: number): CheckResult[] {
  const g = SPHINX_VECTOR_GEOMETRY
  const ctx: SphinxContext = { crypto, geometry: g, sprp: noSprp }
  const n = kase.Path.length
  const out: CheckResult[] = []
  for (let i = 0; i < n; i++) {
    const at = `sphinx case ${ci} hop ${i}`
    out.push(
      ...guarded(`${at} peel`, () => {
        const pkt = hex(kase.Packets[i]!)
        if (pkt.length !== g.packetBytes) return [failed(`${at} peel`, `packet is ${pkt.length} bytes`)]
        const r = peelHeader(ctx, pkt, { keys: [hex(kase.Nodes[i]!.PrivateKey)], strictCombinations: false })
        if (!r.ok) return [failed(`${at} peel`, `dropped: ${JSON.stringify(r.drop)}`)]
        const rs = [compareBytes(`${at} commands`, hex(encodeAll(r.peeled.commands)), kase.Path[i]!.Commands.join(''))]
        if (i === n - 1) {
          const last = r.peeled.next === undefined && kase.Packets[i + 1] === ''
          rs.push(last ? passed(`${at} is the last`) : failed(`${at} is the last`, 'a next hop, or a packet after it'))
          return rs
        }
        rs.push(compareBytes(`${at} next id`, r.peeled.next?.id ?? Buffer.alloc(0), kase.Path[i + 1]!.ID))
        const next = Buffer.alloc(g.headerBytes)
        if (!writeNextHeader(ctx, pkt.subarray(2, 34), r.peeled, next))
          return [...rs, failed(`${at} next header`, 'the blinded key is the all-zero point')]
        rs.push(compareBytes(`${at} next header`, next, kase.Packets[i + 1]!.slice(0, g.headerBytes * 2)))
        return rs
      })
    )
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// lioness-rs LIONESS-ChaCha20-BLAKE2b (lioness-rs/lioness_chacha20_blake2b.json).

export const LIONESS_FILE = 'lioness-rs/lioness_chacha20_blake2b.json'

export interface LionessVector {
  name: string
  key_hex: string
  plaintext_hex: string
  ciphertext_hex: string
}

/** Encrypt to upstream's ciphertext, then decrypt what was computed back to the plaintext. */
export function checkLioness(c: CryptoSuite, vectors: readonly LionessVector[]): CheckResult[] {
  return vectors.flatMap(v =>
    guarded(`lioness ${v.name}`, () => {
      const block = hex(v.plaintext_hex)
      lionessEncryptRaw(c, hex(v.key_hex), block)
      const enc = compareBytes(`lioness ${v.name} encrypt`, block, v.ciphertext_hex)
      lionessDecryptRaw(c, hex(v.key_hex), block)
      return [enc, compareBytes(`lioness ${v.name} decrypt`, block, v.plaintext_hex)]
    })
  )
}

// ---------------------------------------------------------------------------------------------
// Everything above in one run, for the browser test (and its baseline in Node).

export interface VectorData {
  primitives: PrimitiveVectors
  sphinx: SphinxCase[]
  lioness: LionessVector[]
}

/** Every file the run reads, relative to ../shared/vectors/. */
export const VECTOR_FILES: readonly string[] = [...Object.values(PRIMITIVE_FILES), SPHINX_FILE, LIONESS_FILE]

export function checkAll(c: CryptoSuite, d: VectorData): CheckResult[] {
  const kinds = Object.keys(PRIMITIVE_FILES) as Array<keyof PrimitiveVectors>
  return [
    ...kinds.flatMap(k => checkPrimitive(c, k, d.primitives[k] as never)),
    ...d.sphinx.flatMap((kase, ci) => checkSphinxCase(c, kase, ci)),
    ...checkLioness(c, d.lioness)
  ]
}

// ---------------------------------------------------------------------------------------------
// Cross-checks without third-party vectors: the same seeds must give the same bytes on any binding.

/** What a recipient's openMessage said, in a form that crosses from a page to Node. */
export interface OpenSummary {
  ok: boolean
  code?: SealCode
  envelopeVersion?: number
  userId?: string
  deviceId?: string
  serverName?: string
  contentType?: number
  contentHex?: string
}

const summary = (r: Result<VerifiedMessage, SealCode>): OpenSummary =>
  r.ok
    ? {
        ok: true,
        envelopeVersion: r.value.envelopeVersion,
        userId: r.value.sender.userId,
        deviceId: r.value.sender.deviceId,
        serverName: r.value.sender.serverName,
        contentType: r.value.contentType,
        contentHex: r.value.content.toString('hex')
      }
    : { ok: false, code: r.code }

/** A copy of an envelope with one bit of its middle byte (inside the sealed inner content) flipped. */
export function flipMiddle(wire: Uint8Array): Buffer {
  const b = Buffer.from(wire)
  b[b.length >> 1]! ^= 0x01
  return b
}

export const SEALED_CONTENT = 'hello bob and carol, sealed by alice'

export interface SealFixture {
  /** alice's message sealed to bob (envelope v1), from a fixed seed. */
  readonly v1: Buffer
  /** The same message sealed to bob and carol at once (envelope v2): the wire of each copy. */
  readonly v2: { bob: Buffer; carol: Buffer }
  /** Open a wire as bob or carol, with a trust store pinning example.org, at the fixture's time. */
  open(wire: Uint8Array, as: 'bob' | 'carol'): OpenSummary
}

/**
 * A homeserver, alice, bob and carol, alice's certificate and her message to them, all from fixed
 * seeds (Ed25519 signatures are deterministic), so every binding must make the same bytes.
 */
export function sealFixture(c: CryptoSuite): SealFixture {
  const rng = deterministicRng(c, 'browser vectors: sealed-sender parties')
  const hs = makeServer(c, rng, 'example.org')
  const alice = makeDevice(c, rng, '@alice:example.org', 'ALICEDEV')
  const devices = {
    bob: makeDevice(c, rng, '@bob:example.org', 'BOBDEV'),
    carol: makeDevice(c, rng, '@carol:example.org', 'CAROLDEV')
  }
  const message: OutgoingMessage = {
    contentType: CONTENT_TYPES.olmMessage,
    content: Buffer.from(SEALED_CONTENT),
    senderCert: senderCert(c, hs, alice),
    serverCert: hs.cert
  }
  const v1 = sealMessage(c, message, alice.x, devices.bob.x.publicKey, deterministicRng(c, 'browser vectors: v1'))
  const s = sealMessageV2(
    c,
    message,
    alice.x,
    [devices.bob.x.publicKey, devices.carol.x.publicKey],
    deterministicRng(c, 'browser vectors: v2')
  )
  const trust = trustOf([hs])
  return {
    v1,
    v2: { bob: v2CopyWire(s, s.copies[0]!), carol: v2CopyWire(s, s.copies[1]!) },
    open(wire, as) {
      const d = devices[as]
      return summary(openMessage(c, wire, d.x, trust, { nowMs: T0, self: { userId: d.userId, deviceId: d.deviceId } }))
    }
  }
}

export interface SphinxFixture {
  /** A 5-hop forward packet of the network geometry (LIONESS payload), from a fixed seed. */
  readonly packet: Buffer
  /** A SURB over the same path, from another fixed seed. */
  readonly surb: Buffer
  /** The hops' private keys, and the payload the last hop must deliver. */
  readonly secretKeys: Uint8Array[]
  readonly payload: Buffer
}

/** A path of five relays (delays, then a recipient at the last), a payload and the packet and SURB over them. */
export function sphinxFixture(c: CryptoSuite): SphinxFixture {
  const rng = deterministicRng(c, 'browser vectors: sphinx path')
  const path: PathHop[] = []
  const secretKeys: Uint8Array[] = []
  for (let i = 0; i < 5; i++) {
    const kp = xKeyPair(c, rng)
    secretKeys.push(kp.secretKey)
    const delay: Command = { type: 'node_delay', delayMs: 10 * (i + 1) }
    path.push({
      id: rng.bytes(32),
      publicKey: kp.publicKey,
      commands: i < 4 ? [delay] : [delay, { type: 'recipient', id: rng.bytes(32) }]
    })
  }
  const payload = rng.bytes(NETWORK_GEOMETRY.userPayloadBytes)
  const sphinx = new Sphinx(c, NETWORK_GEOMETRY)
  return {
    packet: sphinx.createPacket(path, payload, deterministicRng(c, 'browser vectors: sphinx packet')),
    surb: sphinx.createSurb(path, deterministicRng(c, 'browser vectors: sphinx surb')).surb,
    secretKeys,
    payload
  }
}

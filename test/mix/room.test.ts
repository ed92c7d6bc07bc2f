/** Room batches, room key shares and rotation proofs (docs/PROTOCOL.md §15a), without a network. */
import assert from 'node:assert/strict'
import {
  type CryptoSuite,
  checkDelivery,
  deterministicRng,
  encodeRoomKeyShare,
  encodeSubmit,
  isRoomId,
  KIND_ROOM,
  KIND_TO_DEVICE_V1,
  loadCrypto,
  MAX_ROOM_DEVICES,
  openRoomMessage,
  parseRoomBatch,
  parseRoomKeyShare,
  parseSubmit,
  type Rng,
  roomBatchBytes,
  sealRoomMessage,
  signDelivery,
  signRoomKeyRotation,
  verifyRoomKeyRotation
} from '../../mix/index.ts'
import { type Device, makeDevice, makeServer, type Server, senderCert, T0, trustOf } from '../helpers/seal.ts'

const ROOM = '!room1:example.org'

describe('rooms: one ciphertext, a wrap per member device', function () {
  let c: CryptoSuite
  let rng: Rng
  let hs: Server
  let alice: Device
  let members: Device[]
  let batch: Buffer
  before(async function () {
    c = await loadCrypto('sodium-native')
    rng = deterministicRng(c, 'rooms')
    hs = makeServer(c, rng, 'example.org')
    alice = makeDevice(c, rng, '@alice:example.org', 'ALICEPHONE')
    members = [
      alice,
      makeDevice(c, rng, '@bob:example.org', 'BOBLAPTOP'),
      makeDevice(c, rng, '@bob:example.org', 'BOBPHONE'),
      makeDevice(c, rng, '@carol:example.org', 'CAROLDESK')
    ]
    batch = seal('hello room')
  })

  function seal(text: string, roomId = ROOM, devices = members.map(d => d.x.publicKey)): Buffer {
    return sealRoomMessage(
      c,
      roomId,
      { contentType: 8, content: Buffer.from(text), senderCert: senderCert(c, hs, alice), serverCert: hs.cert },
      alice.x,
      devices,
      rng
    )
  }
  const open = (b: Buffer, d: Device, roomId = ROOM) =>
    openRoomMessage(c, roomId, b, d.x, trustOf([hs]), { nowMs: T0, self: { userId: d.userId, deviceId: d.deviceId } })

  it('every member device opens its copy and sees the certified sender', function () {
    for (const d of members.slice(1)) {
      const r = open(batch, d)
      assert.ok(r.ok, r.ok ? '' : r.code)
      assert.equal(r.value.message.sender.userId, '@alice:example.org')
      assert.equal(r.value.message.content.toString(), 'hello room')
      assert.equal(r.value.message.groupId.toString(), ROOM)
    }
  })

  it("the sender's own device has a wrap too, and finds its own message (self-send)", function () {
    const r = open(batch, alice)
    assert.equal(r.ok ? 'ok' : r.code, 'SEAL_SELF_SEND')
  })

  it('a device without a wrap: SEAL_ROOM_NOT_RECIPIENT; another room: SEAL_ROOM_MISMATCH', function () {
    const outsider = makeDevice(c, rng, '@eve:example.org', 'E')
    const r1 = open(batch, outsider)
    assert.equal(r1.ok ? 'ok' : r1.code, 'SEAL_ROOM_NOT_RECIPIENT')
    const r2 = open(batch, members[1]!, '!other:example.org')
    assert.equal(r2.ok ? 'ok' : r2.code, 'SEAL_ROOM_MISMATCH')
  })

  it('holds no user id, device id or device key in clear, and its wraps are sorted by label', function () {
    for (const d of members) {
      for (const needle of [d.userId, d.deviceId])
        assert.equal(batch.includes(Buffer.from(needle)), false, `${needle} in the batch`)
      assert.equal(batch.includes(Buffer.from(d.x.publicKey)), false, 'a device key in the batch')
    }
    const p = parseRoomBatch(batch)
    assert.ok(p.ok)
    assert.equal(p.value.wraps.length, members.length)
    const labels = p.value.wraps.map(w => w.label.toString('hex'))
    assert.deepEqual(labels, [...labels].sort())
    // Labels change with every message: two batches to the same devices share none.
    const again = parseRoomBatch(seal('hello room'))
    assert.ok(again.ok)
    assert.equal(
      again.value.wraps.some(w => labels.includes(w.label.toString('hex'))),
      false
    )
    assert.equal(batch.length, roomBatchBytes(members.length, 1024))
  })

  it('parses strictly: truncated, wrong version, unsorted, empty, too many, a tampered wrap', function () {
    const code = (b: Buffer): string => {
      const r = parseRoomBatch(b)
      return r.ok ? 'ok' : r.code
    }
    assert.equal(code(batch), 'ok')
    assert.equal(code(batch.subarray(0, 40)), 'SEAL_ENVELOPE_MALFORMED')
    assert.equal(code(Buffer.concat([Buffer.of(0x11), batch.subarray(1)])), 'SEAL_ENVELOPE_MALFORMED')
    const swapped = Buffer.from(batch)
    const w0 = Buffer.from(swapped.subarray(35, 35 + 56))
    swapped.copyWithin(35, 35 + 56, 35 + 112)
    w0.copy(swapped, 35 + 56)
    assert.equal(code(swapped), 'SEAL_ENVELOPE_MALFORMED', 'labels out of order')
    const empty = Buffer.from(batch)
    empty.writeUInt16BE(0, 33)
    assert.equal(code(empty), 'SEAL_ENVELOPE_MALFORMED')
    const many = Buffer.from(batch)
    many.writeUInt16BE(MAX_ROOM_DEVICES + 1, 33)
    assert.equal(code(many), 'SEAL_ENVELOPE_MALFORMED')
    // A wrap whose authenticator was changed: the device's copy fails sender authentication.
    const p = parseRoomBatch(batch)
    assert.ok(p.ok)
    const tampered = Buffer.from(batch)
    for (let i = 0; i < members.length; i++) {
      const at = 35 + i * 56 + 8 + 32
      tampered[at] = tampered[at]! ^ 1
    }
    const r = open(tampered, members[1]!)
    assert.equal(r.ok ? 'ok' : r.code, 'SEAL_V2_AUTH_FAILED')
  })

  it('a room submission is kind 2 with the group scheme only; the room key authorizes it', function () {
    const key = c.signSeedKeypair(rng.bytes(32))
    const auth = signDelivery(c, key.secretKey, 1, ROOM, T0, batch, 'group')
    if (auth.scheme === 'bearer') throw new Error('a signature was asked for')
    const req = { kind: KIND_ROOM, dest: ROOM, envelope: batch, auth } as const
    const parsed = parseSubmit(encodeSubmit(req))
    assert.ok(parsed.ok)
    const seen = new Set<string>()
    const check = (pk: Uint8Array) =>
      checkDelivery(c, parsed.value, {
        nowMs: T0,
        lookup: d => (d === ROOM ? { capabilityKeys: [{ keyId: 1, publicKey: pk }] } : undefined),
        seen: h => {
          const hex = h.toString('hex')
          const before = seen.has(hex)
          seen.add(hex)
          return before
        }
      })
    assert.equal(check(c.signSeedKeypair(rng.bytes(32)).publicKey).ok, false, 'another key is refused')
    assert.equal(check(key.publicKey).ok, true)
    const wrong = (kind: typeof KIND_ROOM | typeof KIND_TO_DEVICE_V1, scheme: 'capability' | 'group') => {
      const r = parseSubmit(encodeSubmit({ ...req, kind, auth: { ...auth, scheme } }))
      return r.ok ? 'ok' : r.code
    }
    assert.equal(wrong(KIND_ROOM, 'capability'), 'SEAL_SUBMIT_MALFORMED')
    assert.equal(wrong(KIND_TO_DEVICE_V1, 'group'), 'SEAL_SUBMIT_MALFORMED')
    const k3 = encodeSubmit(req)
    k3[1] = 3
    const r3 = parseSubmit(k3)
    assert.equal(r3.ok ? 'ok' : r3.code, 'SEAL_SUBMIT_UNSUPPORTED')
  })

  it('room key shares round-trip; a rotation proof verifies only for its own statement', function () {
    const prev = c.signSeedKeypair(rng.bytes(32))
    const seed = rng.bytes(32)
    const pk = c.signSeedKeypair(seed).publicKey
    const proof = signRoomKeyRotation(c, prev.secretKey, ROOM, 2, pk, true)
    const share = { roomId: ROOM, server: 'example.org', keyId: 2, seed, block: true, proof }
    const p = parseRoomKeyShare(encodeRoomKeyShare(share))
    assert.ok(p.ok)
    assert.deepEqual(p.value, share)
    assert.equal(verifyRoomKeyRotation(c, prev.publicKey, ROOM, 2, pk, true, proof), true)
    assert.equal(verifyRoomKeyRotation(c, prev.publicKey, ROOM, 2, pk, false, proof), false, 'block flag bound')
    assert.equal(verifyRoomKeyRotation(c, prev.publicKey, '!x:example.org', 2, pk, true, proof), false, 'room bound')
    assert.equal(verifyRoomKeyRotation(c, prev.publicKey, ROOM, 3, pk, true, proof), false, 'key id bound')
    assert.equal(verifyRoomKeyRotation(c, pk, ROOM, 2, pk, true, proof), false, 'signer bound')
    const bad = encodeRoomKeyShare(share)
    bad[bad.length - 65] = 2 // flags: an unknown bit
    assert.equal(parseRoomKeyShare(bad).ok, false)
  })

  it('room ids: !opaque:server only', function () {
    for (const ok of ['!a:b', '!abc:example.org:8448']) assert.equal(isRoomId(ok), true, ok)
    for (const bad of ['', '!', '!:x', 'a:b', '@u:x', '!a b:x', `!${'a'.repeat(300)}:x`])
      assert.equal(isRoomId(bad), false, bad)
  })
})

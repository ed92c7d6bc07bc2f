/**
 * The client <-> ingress payloads, end to end through the pure layer: a 10 KiB sealed message
 * becomes authorised, fragmented, sealed Sphinx payloads with SURBs attached; the ingress opens,
 * reassembles and authorises it and acks every fragment through its SURB; the recipient verifies
 * the sender. Relays are simulated by unwrap calls (the daemon tests cover the real network).
 */
import assert from 'node:assert/strict'
import {
  ACK_STATUS,
  CONTENT_TYPES,
  type CryptoSuite,
  checkDelivery,
  deterministicRng,
  encodeAck,
  encodeSubmit,
  fragmentBytes,
  fragmentMessage,
  NETWORK_GEOMETRY as G,
  loadCrypto,
  messageBytesPerPacket,
  openIngressPayload,
  openMessage,
  type PathHop,
  parseAck,
  parseSubmit,
  Reassembler,
  type Rng,
  Sphinx,
  sealIngressPayload,
  sealMessage,
  signDelivery
} from '../../mix/index.ts'
import { makeDevice, makeServer, senderCert, T0, trustOf, xKeyPair } from '../helpers/seal.ts'
import { makeRelays, type Relay, route } from '../helpers/sphinx.ts'

describe('exit payloads (client <-> ingress)', function () {
  let c: CryptoSuite
  let rng: Rng
  let s: Sphinx
  let relays: Relay[]
  before(async function () {
    c = await loadCrypto('sodium-native')
    rng = deterministicRng(c, 'exit-payload')
    s = new Sphinx(c)
    relays = makeRelays(c, rng, 5)
  })

  it('has the room the geometry leaves: 2000 bytes sealed, 1425 with a SURB, 1402 message bytes per packet', function () {
    assert.equal(fragmentBytes(G, false), 2048 - 48 - 3)
    assert.equal(fragmentBytes(G, true), 2048 - 48 - 3 - 572)
    assert.equal(messageBytesPerPacket(G, true), 1402)
  })

  it("carries a 10 KiB message to the ingress and every fragment's ack back to the client", function () {
    const hs = makeServer(c, rng, 'example.org')
    const alice = makeDevice(c, rng, '@alice:example.org', 'ALICE')
    const bob = makeDevice(c, rng, '@bob:example.org', 'BOB')
    const ingress = xKeyPair(c, rng)
    const cap = c.signSeedKeypair(rng.bytes(32))
    const content = rng.bytes(10 * 1024)
    const envelope = sealMessage(
      c,
      { contentType: CONTENT_TYPES.megolm, content, senderCert: senderCert(c, hs, alice), serverCert: hs.cert },
      alice.x,
      bob.x.publicKey,
      rng
    )
    const dest = '@bob:example.org/BOB'
    const request = encodeSubmit({
      kind: 1,
      dest,
      envelope,
      auth: signDelivery(c, cap.secretKey, 1, dest, T0, envelope)
    })
    const messageId = rng.bytes(16)
    const fragments = fragmentMessage(request, messageId, fragmentBytes(G, true))
    assert.equal(fragments.length, Math.ceil(request.length / messageBytesPerPacket(G, true)))

    const ingressId = rng.bytes(32)
    const mailbox = rng.bytes(32)
    const hop = (r: Relay, commands: PathHop['commands']): PathHop => ({ id: r.id, publicKey: r.pk, commands })
    const d0: PathHop['commands'] = [{ type: 'node_delay', delayMs: 0 }]
    const tokens = new Map<string, Buffer>()
    const reasm = new Reassembler({ maxMessages: 4, maxBytes: 1 << 20, timeoutMs: 60_000 })
    const acks: number[] = []
    let delivered: Buffer | null = null
    for (const f of fragments) {
      const surbId = rng.bytes(16)
      const { surb, token } = s.createSurb(
        [
          hop(relays[4]!, d0),
          hop(relays[1]!, d0),
          hop(relays[2]!, d0),
          hop(relays[3]!, d0),
          hop(relays[0]!, [
            { type: 'recipient', id: mailbox },
            { type: 'surb_reply', id: surbId }
          ])
        ],
        rng
      )
      tokens.set(surbId.toString('hex'), token)
      const payload = sealIngressPayload(c, G, f, surb, ingress.publicKey)
      const pkt = s.createPacket(
        [
          hop(relays[0]!, d0),
          hop(relays[1]!, d0),
          hop(relays[2]!, d0),
          hop(relays[3]!, d0),
          hop(relays[4]!, [
            { type: 'node_delay', delayMs: 0 },
            { type: 'recipient', id: ingressId }
          ])
        ],
        payload,
        rng
      )
      const atExit = route(s, relays, pkt).at(-1)!
      assert.equal(atExit.type, 'deliver')
      if (atExit.type !== 'deliver') return
      // At the ingress.
      const opened = openIngressPayload(c, G, atExit.payload, ingress)
      assert.ok(opened.ok)
      const added = reasm.add(opened.value.fragment, T0)
      assert.ok(added.status === 'incomplete' || added.status === 'complete')
      let status: number = ACK_STATUS.received
      if (added.status === 'complete') {
        const req = parseSubmit(added.message)
        assert.ok(req.ok)
        const seen = new Set<string>()
        const auth = checkDelivery(c, req.value, {
          nowMs: T0,
          lookup: d => (d === dest ? { capabilityKeys: [{ keyId: 1, publicKey: cap.publicKey }] } : undefined),
          seen: h => {
            const k = h.toString('hex')
            const had = seen.has(k)
            seen.add(k)
            return had
          }
        })
        assert.ok(auth.ok)
        delivered = req.value.envelope
        status = ACK_STATUS.delivered
      }
      const index = Buffer.from(opened.value.fragment).readUInt16BE(17)
      const reply = s.packetFromSurb(
        opened.value.surb!,
        encodeAck(G, { messageId: Buffer.from(opened.value.fragment.subarray(1, 17)), index, status: status as 0 | 1 })
      )
      // Back through the reply path to the client's mailbox; the client decrypts with its token.
      const back = route(s, [relays[4]!, relays[1]!, relays[2]!, relays[3]!, relays[0]!], reply.packet).at(-1)!
      assert.equal(back.type, 'surb_reply')
      if (back.type !== 'surb_reply') return
      const plain = s.decryptSurbPayload(back.body, tokens.get(back.surbId.toString('hex'))!)
      assert.ok(plain !== null)
      const ack = parseAck(plain)
      assert.ok(ack.ok)
      assert.deepEqual(ack.value.messageId, messageId)
      acks.push(ack.value.index)
      if (status === ACK_STATUS.delivered) assert.equal(ack.value.status, ACK_STATUS.delivered)
    }
    assert.deepEqual(
      acks.sort((a, b) => a - b),
      fragments.map((_, i) => i)
    )
    assert.ok(delivered !== null)
    const opened = openMessage(c, delivered, bob.x, trustOf([hs]), { nowMs: T0 })
    assert.ok(opened.ok)
    assert.equal(opened.value.sender.userId, '@alice:example.org')
    assert.deepEqual(opened.value.content, content)
  })

  it('refuses payloads sealed to another ingress, of another kind, with unknown flags, and malformed acks', function () {
    const ingress = xKeyPair(c, rng)
    const other = xKeyPair(c, rng)
    const frag = fragmentMessage(Buffer.from('x'), rng.bytes(16), fragmentBytes(G, false))[0]!
    const code = (r: ReturnType<typeof openIngressPayload>): string =>
      r.ok ? 'ok' : `${r.code}${r.detail !== undefined ? '/' + r.detail : ''}`
    assert.equal(
      code(openIngressPayload(c, G, sealIngressPayload(c, G, frag, null, other.publicKey), ingress)),
      'SEAL_SUBMIT_UNOPENABLE'
    )
    assert.equal(code(openIngressPayload(c, G, Buffer.alloc(10), ingress)), 'SEAL_SUBMIT_MALFORMED/length')
    const forge = (hdr: number[]): Buffer =>
      Buffer.from(c.boxSeal(Buffer.concat([Buffer.from(hdr), frag]), ingress.publicKey))
    assert.equal(code(openIngressPayload(c, G, forge([1, 9, 0]), ingress)), 'SEAL_SUBMIT_UNSUPPORTED/kind')
    assert.equal(code(openIngressPayload(c, G, forge([1, 1, 2]), ingress)), 'SEAL_SUBMIT_MALFORMED/flags')
    assert.equal(code(openIngressPayload(c, G, sealIngressPayload(c, G, frag, null, ingress.publicKey), ingress)), 'ok')
    const ack = encodeAck(G, { messageId: rng.bytes(16), index: 3, status: ACK_STATUS.tryLater })
    assert.ok(parseAck(ack).ok)
    const bad = Buffer.from(ack)
    bad[20] = 7
    assert.equal(parseAck(bad).ok, false)
    const junk = Buffer.from(ack)
    junk[100] = 1
    assert.equal(parseAck(junk).ok, false)
    assert.throws(() => sealIngressPayload(c, G, frag, rng.bytes(572), ingress.publicKey), RangeError)
  })
})

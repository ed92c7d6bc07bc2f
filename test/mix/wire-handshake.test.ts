/**
 * The link handshake state machine of mix/wire/handshake.ts, without sockets: a dialer and a
 * listener driven against each other (the frames each sends, in order, byte for byte), and every
 * refusal as its named outcome.
 */
import assert from 'node:assert/strict'
import {
  type CryptoSuite,
  encodeFrame,
  encodeHello,
  FRAME,
  frameBytes,
  NETWORK_GEOMETRY as G,
  LinkDialer,
  type LinkHandshake,
  LinkListener,
  type LinkOutcome,
  type LinkRefusal,
  type LinkStep,
  loadCrypto,
  relayId,
  signLink
} from '../../mix/index.ts'

interface Party {
  readonly id: Buffer
  readonly publicKey: Uint8Array
  readonly secretKey: Uint8Array
}

/** Hand each side's frames to the other until neither has more; returns every frame sent, in order. */
function run(dialer: LinkHandshake, listener: LinkHandshake): Array<{ from: 'dialer' | 'listener'; frame: Buffer }> {
  const wire: Array<{ from: 'dialer' | 'listener'; frame: Buffer }> = []
  let toListener = [...note(wire, 'dialer', listener.start()), ...note(wire, 'dialer', dialer.start())]
  while (toListener.length > 0) {
    const toDialer = toListener.flatMap(f => note(wire, 'listener', listener.receive(f)))
    toListener = toDialer.flatMap(f => note(wire, 'dialer', dialer.receive(f)))
  }
  return wire
}

function note(
  wire: Array<{ from: 'dialer' | 'listener'; frame: Buffer }>,
  from: 'dialer' | 'listener',
  step: LinkStep
): readonly Buffer[] {
  for (const frame of step.frames) wire.push({ from, frame })
  return step.frames
}

const refused = (reason: LinkRefusal): LinkOutcome => ({ kind: 'refused', reason })

describe('link handshake state machine', function () {
  let c: CryptoSuite
  let dialerKeys: Party
  let listenerKeys: Party
  const dialerNonce = Buffer.alloc(32, 0xd1)
  const listenerNonce = Buffer.alloc(32, 0x11)

  before(async function () {
    c = await loadCrypto('sodium-native')
    const party = (seed: number): Party => {
      const k = c.signSeedKeypair(Buffer.alloc(32, seed))
      return { id: Buffer.from(relayId(c, k.publicKey), 'hex'), publicKey: k.publicKey, secretKey: k.secretKey }
    }
    dialerKeys = party(1)
    listenerKeys = party(2)
  })

  const dialer = (role: 'relay' | 'ingress', peer: Party = listenerKeys): LinkDialer =>
    new LinkDialer({
      role,
      crypto: c,
      geometry: G,
      identity: dialerKeys,
      peer: { id: peer.id, identityKey: peer.publicKey },
      nonce: dialerNonce
    })
  const listener = (
    role: 'relay' | 'ingress',
    keyOf = (id: string): Uint8Array | undefined =>
      id === dialerKeys.id.toString('hex') ? dialerKeys.publicKey : undefined
  ): LinkListener =>
    new LinkListener({ role, crypto: c, geometry: G, identity: listenerKeys, keyOf, nonce: listenerNonce })

  for (const role of ['relay', 'ingress'] as const) {
    it(`${role}: HELLO; HELLO (role relay) and AUTH as two frames; AUTH; both up with the other's id`, function () {
      const d = dialer(role)
      const l = listener(role)
      const wire = run(d, l)
      const mine = { role, id: dialerKeys.id, nonce: dialerNonce }
      const theirs = { role: 'relay' as const, id: listenerKeys.id, nonce: listenerNonce }
      assert.deepEqual(wire, [
        { from: 'dialer', frame: encodeFrame(G, FRAME.HELLO, encodeHello(mine)) },
        { from: 'listener', frame: encodeFrame(G, FRAME.HELLO, encodeHello(theirs)) },
        { from: 'listener', frame: encodeFrame(G, FRAME.AUTH, signLink(c, 2, theirs, mine, listenerKeys.secretKey)) },
        { from: 'dialer', frame: encodeFrame(G, FRAME.AUTH, signLink(c, 1, mine, theirs, dialerKeys.secretKey)) }
      ])
      assert.deepEqual(d.outcome, { kind: 'up', peerId: listenerKeys.id.toString('hex') })
      assert.deepEqual(l.outcome, { kind: 'up', peerId: dialerKeys.id.toString('hex') })
    })
  }

  it('client: one HELLO (role client, all-zero id and nonce), up at once; the listener sends nothing back', function () {
    const d = new LinkDialer({ role: 'client', geometry: G })
    const l = new LinkListener({ role: 'client', geometry: G })
    const wire = run(d, l)
    assert.deepEqual(wire, [
      {
        from: 'dialer',
        frame: encodeFrame(
          G,
          FRAME.HELLO,
          encodeHello({ role: 'client', id: Buffer.alloc(32), nonce: Buffer.alloc(32) })
        )
      }
    ])
    assert.deepEqual(d.outcome, { kind: 'up', peerId: undefined })
    assert.deepEqual(l.outcome, { kind: 'up', peerId: undefined })
  })

  it('draws a fresh nonce from the crypto suite when none is given', function () {
    const a = new LinkDialer({
      role: 'relay',
      crypto: c,
      geometry: G,
      identity: dialerKeys,
      peer: { id: listenerKeys.id, identityKey: listenerKeys.publicKey }
    }).start().frames[0]!
    const b = new LinkDialer({
      role: 'relay',
      crypto: c,
      geometry: G,
      identity: dialerKeys,
      peer: { id: listenerKeys.id, identityKey: listenerKeys.publicKey }
    }).start().frames[0]!
    assert.equal(a.length, frameBytes(G))
    assert.notDeepEqual(a.subarray(35, 67), b.subarray(35, 67))
  })

  describe('refusals', function () {
    it('dialer: wrong peer id (the listener is not the relay dialled)', function () {
      const other = { ...listenerKeys, id: Buffer.alloc(32, 7) }
      const d = dialer('relay', other)
      run(d, listener('relay'))
      assert.deepEqual(d.outcome, refused('wrong_peer'))
    })

    it('dialer: bad signature (the listener signs with another key)', function () {
      const d = dialer('relay', { ...listenerKeys, publicKey: dialerKeys.publicKey })
      const l = listener('relay')
      run(d, l)
      assert.deepEqual(d.outcome, refused('bad_signature'))
      assert.deepEqual(l.outcome, { kind: 'pending' }, 'the listener waits for an AUTH that never comes')
    })

    it('listener: bad signature (the dialer signs with another key)', function () {
      const l = listener('relay', () => listenerKeys.publicKey)
      run(dialer('relay'), l)
      assert.deepEqual(l.outcome, refused('bad_signature'))
    })

    it('listener: wrong role (an ingress on /relay, a relay on /ingress, a client on /relay)', function () {
      for (const [from, path] of [
        ['ingress', 'relay'],
        ['relay', 'ingress']
      ] as const) {
        const l = listener(path)
        run(dialer(from), l)
        assert.deepEqual(l.outcome, refused('wrong_role'), `${from} on /${path}`)
      }
      const l = listener('relay')
      run(new LinkDialer({ role: 'client', geometry: G }), l)
      assert.deepEqual(l.outcome, refused('wrong_role'))
      const cl = new LinkListener({ role: 'client', geometry: G })
      run(dialer('relay'), cl)
      assert.deepEqual(cl.outcome, refused('wrong_role'), 'a relay HELLO on /client')
    })

    it('listener: unknown peer (an id not in the network document), and nothing sent back', function () {
      const l = listener('relay', () => undefined)
      const wire = run(dialer('relay'), l)
      assert.deepEqual(l.outcome, refused('unknown_peer'))
      assert.equal(wire.filter(w => w.from === 'listener').length, 0)
    })

    it('frame before HELLO, on either side', function () {
      const packet = encodeFrame(G, FRAME.PACKET, Buffer.alloc(16))
      const l = listener('relay')
      assert.deepEqual(l.receive(packet), { frames: [], outcome: refused('frame_before_hello') })
      const cl = new LinkListener({ role: 'client', geometry: G })
      assert.deepEqual(cl.receive(encodeFrame(G, FRAME.PULL, Buffer.alloc(32))).outcome, refused('frame_before_hello'))
      const d = dialer('relay')
      d.start()
      assert.deepEqual(d.receive(encodeFrame(G, FRAME.AUTH, Buffer.alloc(64))).outcome, refused('frame_before_hello'))
    })

    it('frame before AUTH, on either side', function () {
      const d = dialer('relay')
      const l = listener('relay')
      const [hello] = d.start().frames
      const [lHello] = l.receive(hello!).frames
      d.receive(lHello!)
      assert.deepEqual(d.receive(encodeFrame(G, FRAME.DELIVER, Buffer.alloc(8))).outcome, refused('frame_before_auth'))
      assert.deepEqual(l.receive(encodeFrame(G, FRAME.PACKET, Buffer.alloc(8))).outcome, refused('frame_before_auth'))
    })

    it('malformed: a frame of the wrong length, a text message, a HELLO that does not parse', function () {
      assert.deepEqual(listener('relay').receive(Buffer.alloc(10, FRAME.HELLO)).outcome, refused('malformed'))
      const hello = dialer('relay').start().frames[0]!
      assert.deepEqual(listener('relay').receive(hello, false).outcome, refused('malformed'))
      const v2 = Buffer.from(hello)
      v2[1] = 2 // HELLO version 2
      assert.deepEqual(listener('relay').receive(v2).outcome, refused('malformed'))
    })

    it('takes nothing more once it has an outcome', function () {
      const l = listener('relay')
      l.receive(Buffer.alloc(3))
      const hello = dialer('relay').start().frames[0]!
      assert.deepEqual(l.receive(hello), { frames: [], outcome: refused('malformed') })
      const cd = new LinkDialer({ role: 'client', geometry: G })
      cd.start()
      assert.deepEqual(cd.receive(encodeFrame(G, FRAME.MAILBOX, Buffer.alloc(8))), {
        frames: [],
        outcome: { kind: 'up', peerId: undefined }
      })
    })

    it('a dialer fed before start() is a programming error', function () {
      assert.throws(() => dialer('relay').receive(Buffer.alloc(frameBytes(G))), { code: 'MIX_BAD_ARGUMENT' })
    })
  })
})

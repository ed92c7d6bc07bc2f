/**
 * OutLink.cork: a round's burst is written in one go and is not held against the send-buffer cap,
 * but what a peer that stops reading leaves behind is (a real ws link on loopback, the peer's
 * socket paused after the handshake).
 */
import assert from 'node:assert/strict'
import type WebSocket from 'ws'
import { WebSocketServer } from 'ws'
import { acceptHandshake, FrameReader, OutLink } from '../../../daemon/io/index.ts'
import { FRAME, frameBytes, NETWORK_GEOMETRY as G, loadCrypto, relayId } from '../../../mix/index.ts'

describe('OutLink.cork', function () {
  this.timeout(30_000)
  const CAP = 64 * 1024
  let wss: WebSocketServer
  let link: OutLink
  let peerSocket: { pause: () => void } | null = null

  before(async function () {
    const c = await loadCrypto('sodium-native')
    const me = c.signSeedKeypair(Buffer.alloc(32, 1))
    const peer = c.signSeedKeypair(Buffer.alloc(32, 2))
    const meId = relayId(c, me.publicKey)
    const peerId = relayId(c, peer.publicKey)
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    await new Promise<void>(resolve => wss.once('listening', () => resolve()))
    wss.on('connection', (ws: WebSocket) => {
      const listener = {
        role: 'relay',
        crypto: c,
        geometry: G,
        identity: { id: Buffer.from(peerId, 'hex'), secretKey: peer.secretKey },
        keyOf: (id: string) => (id === meId ? me.publicKey : undefined)
      } as const
      void acceptHandshake(listener, ws, new FrameReader(ws), 5000).then(id => {
        if (id !== meId) return
        peerSocket = (ws as unknown as { _socket: { pause: () => void } })._socket
        peerSocket.pause() // a peer that stops reading
      })
    })
    const port = (wss.address() as { port: number }).port
    link = new OutLink({
      crypto: c,
      geometry: G,
      identity: { id: Buffer.from(meId, 'hex'), secretKey: me.secretKey },
      role: 'relay',
      peerId,
      peerKey: peer.publicKey,
      address: `ws://127.0.0.1:${port}`,
      maxBufferedBytes: CAP,
      handshakeTimeoutMs: 5000,
      pingIntervalMs: 60_000
    })
    link.start()
    const end = Date.now() + 10_000
    while (!(link.ready && peerSocket !== null)) {
      if (Date.now() > end) throw new Error('link did not come up')
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  })
  after(async function () {
    await link?.close()
    for (const ws of wss?.clients ?? []) ws.terminate()
    await new Promise(resolve => wss?.close(resolve))
  })

  it('takes a corked round larger than the cap whole, then refuses once the unread backlog passes the cap', async function () {
    const frame = Buffer.alloc(frameBytes(G))
    frame[0] = FRAME.PACKET
    const round = Math.ceil(CAP / frame.length) * 2 // one burst of twice the cap
    let refusedAt = -1
    for (let r = 0; r < 2000 && refusedAt < 0; r++) {
      link.cork()
      let accepted = 0
      for (let i = 0; i < round; i++) if (link.send(frame)) accepted++
      link.uncork()
      if (accepted < round) {
        refusedAt = r
        // Refused from its first frame: the backlog left by earlier rounds is over the cap.
        assert.equal(accepted, 0, `round ${r}: ${accepted} of ${round} frames taken with the backlog over the cap`)
      }
      await new Promise(resolve => setImmediate(resolve)) // let the kernel take what it can
    }
    assert.ok(
      refusedAt > 0,
      `the first rounds are taken whole while the kernel absorbs them; refused from round ${refusedAt}`
    )
    assert.ok(
      link.bufferedAmount <= CAP + round * (frame.length + 4),
      `backlog ${link.bufferedAmount} B is at most the cap plus one round`
    )
  })
})

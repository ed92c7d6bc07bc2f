/**
 * The SDK's mailbox reads (docs/PROTOCOL.md §19): it asks its gateway to push the mailbox, pulls
 * no more while pushes come, and pulls every interval from a gateway that does not push (one from
 * before pushes) or that stopped. The gateway is a stand-in behind the socket adapter: it records
 * the frames the client sends and pushes MAILBOX frames of random bytes (cover) when told to.
 */
import assert from 'node:assert/strict'
import type { LinkSocket, SocketFactory } from '../../client/link.ts'
import { SealmixClient } from '../../client/sdk.ts'
import {
  type CryptoSuite,
  encodeFrame,
  FRAME,
  loadCrypto,
  NETWORK_GEOMETRY,
  parseFrame,
  systemRng
} from '../../mix/index.ts'
import { testDocument, testRelay } from '../helpers/network.ts'

const G = NETWORK_GEOMETRY
const PULL_MS = 200

interface Stand {
  readonly factory: SocketFactory
  /** PULL frames the client sent: time and mode byte. */
  readonly pulls: Array<{ t: number; mode: number }>
  readonly acks: number[]
  /** Push one cover MAILBOX frame to the client. */
  push(): void
  /** Answer each PULL with this many frames at once (a gateway's pull answer); 0: ignore PULLs. */
  answer: number
}

function standIn(c: CryptoSuite): Stand {
  let sock: LinkSocket | null = null
  const mailbox = (): Buffer => {
    const b = Buffer.alloc(8 + 16 + G.bodyBytes)
    c.randomFill(b)
    return encodeFrame(G, FRAME.MAILBOX, b)
  }
  const stand: Stand = {
    pulls: [],
    acks: [],
    answer: 0,
    push: () => sock?.onmessage?.(mailbox(), true),
    factory: () => {
      const s: LinkSocket = {
        send: bytes => {
          const f = parseFrame(G, Buffer.from(bytes))
          if (f?.kind === FRAME.PULL) {
            stand.pulls.push({ t: Date.now(), mode: f.body[32]! })
            for (let i = 0; i < stand.answer; i++) queueMicrotask(() => s.onmessage?.(mailbox(), true))
          } else if (f?.kind === FRAME.ACK) stand.acks.push(Date.now())
        },
        close: () => {
          sock = null
          setImmediate(() => s.onclose?.())
        },
        bufferedAmount: 0,
        onopen: null,
        onmessage: null,
        onclose: null
      }
      sock = s
      setImmediate(() => s.onopen?.())
      return s
    }
  }
  return stand
}

describe('SDK mailbox: pushes asked for, pulls as the fallback', function () {
  let c: CryptoSuite
  let clients: SealmixClient[] = []
  const timers: Array<ReturnType<typeof setInterval>> = []
  before(async function () {
    c = await loadCrypto()
  })
  afterEach(function () {
    for (const t of timers.splice(0)) clearInterval(t)
    for (const cl of clients) cl.close()
    clients = []
  })

  function client(stand: Stand, o: { mailboxPush?: boolean } = {}): SealmixClient {
    const rng = systemRng(c)
    const gw = testRelay(c, rng, 'gateway', 0, 'ws://127.0.0.1:1')
    const mixes = [1, 2, 3].map(l => testRelay(c, rng, 'mix', l, `ws://127.0.0.1:${1 + l}`))
    const cl = new SealmixClient({
      crypto: c,
      network: testDocument(c, [gw, ...mixes]),
      gatewayId: gw.id,
      device: {
        userId: '@a:example.org',
        deviceId: 'A',
        x25519: { publicKey: Buffer.alloc(32, 1), secretKey: Buffer.alloc(32, 2) },
        ed25519: c.signSeedKeypair(Buffer.alloc(32, 3))
      },
      mailboxId: rng.bytes(32),
      trust: { roots: () => [], serverCert: () => undefined, isRevoked: () => false },
      cover: false,
      pullIntervalMs: PULL_MS,
      socket: stand.factory,
      ...o
    })
    clients.push(cl)
    cl.start()
    return cl
  }

  const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

  it('asks for pushes on connecting, and pulls no more while they come', async function () {
    const stand = standIn(c)
    stand.answer = 4
    timers.push(setInterval(() => stand.push(), 20))
    client(stand)
    await sleep(1200)
    assert.equal(stand.pulls[0]?.mode, 1, 'the PULL asks for pushes')
    // One, at connecting; a second only if the pushes stalled for two intervals (a very busy machine).
    assert.ok(stand.pulls.length <= 2, `no PULLs while pushes come (got ${stand.pulls.length})`)
    assert.ok(stand.acks.length >= 30, `every frame acknowledged, pushed ones too (${stand.acks.length})`)
  })

  it('positive control: from a gateway that does not push, it pulls every interval', async function () {
    const stand = standIn(c)
    stand.answer = 4
    client(stand)
    await sleep(1200)
    assert.ok(stand.pulls.length >= 5, `about 7 PULLs in 1.2 s (got ${stand.pulls.length})`)
    assert.ok(
      stand.pulls.every(p => p.mode === 1),
      'each asks for pushes again'
    )
  })

  it('pulls again once pushes stop, and a client that does not want pushes says so', async function () {
    const stand = standIn(c)
    stand.answer = 4
    const pushing = setInterval(() => stand.push(), 20)
    timers.push(pushing)
    client(stand)
    await sleep(600)
    const before = stand.pulls.length
    assert.ok(before <= 2, `no PULLs while pushes come (got ${before})`)
    clearInterval(pushing)
    const stopped = Date.now()
    await sleep(1200)
    const after = stand.pulls.filter(p => p.t > stopped)
    assert.ok(after.length >= 3, `pulls resume, every interval (got ${after.length})`)
    assert.ok(after[0]!.t - stopped <= 3 * PULL_MS + 150, `within about two intervals (${after[0]!.t - stopped} ms)`)

    const plain = standIn(c)
    plain.answer = 4
    client(plain, { mailboxPush: false })
    await sleep(300)
    assert.ok(plain.pulls.length >= 2)
    assert.ok(
      plain.pulls.every(p => p.mode === 0),
      'mode 0: what a client before pushes sent'
    )
  })
})

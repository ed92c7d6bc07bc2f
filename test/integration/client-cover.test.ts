/**
 * Client cover traffic, seen from the wire (README: "whether a client sends real traffic or cover"
 * is protected). A passive observer sits on each client's link to its gateway: a recording TCP
 * proxy (the audit's `Tap`) that forwards every byte and notes the size and time of every
 * WebSocket frame the client sends. Four clients of one config run side by side on the loopback
 * testnet, each behind its own tap:
 *   busy  sends a real message every SEND_EVERY_MS (cover on, the default);
 *   idle  sends nothing (cover on);
 *   dark  sends like busy with cover off (`cover: false`): positive control, real sends visible;
 *   slow  idle with a quarter of the send-slot rate (`rates`): positive control, a rate change visible.
 * busy and idle must look the same (one frame size; inter-frame gaps not told apart by a
 * two-sample KS test; packet rate the configured Poisson rate), while the same observer and test
 * must tell dark and slow from idle. Run side by side, the four share one machine's load.
 * Gaps are compared over all frames (what an observer of a TLS link sees) and over PACKET frames
 * alone (the kind byte is in clear on ws://). Each busy-vs-idle comparison fails by chance once in
 * a thousand runs (ALPHA); the controls have come out below 1e-8.
 *
 * What this observer cannot do, measured while writing it: real sends that bypassed the slots,
 * made from the data (idle's packet times plus busy's 80 send times: 26 instead of 22 packets a
 * second), were not told apart from busy at this level in 20 s (KS p 0.03 to 0.25). So the test
 * claims that busy and idle look alike, and that cover off or a slot rate a quarter as high shows;
 * not that every small leak would.
 */
import assert from 'node:assert/strict'
import type { ClientOptions, SealmixClient } from '../../client/index.ts'
import { type CryptoSuite, FRAME, loadCrypto } from '../../mix/index.ts'
import { gaps, ks } from '../../tools/audit/analysis.ts'
import { Tap } from '../../tools/audit/tap.ts'
import { freePort } from '../../tools/index.ts'
import { type Chat, type Person, startChatNet } from '../helpers/chat.ts'
import { randomBytes, type Testnet, waitFor } from '../helpers/testnet.ts'

/** Send slots per second (Poisson) and loop cover per second: the network document's client rates. */
const RATE = 20
const LOOP = 2
const WINDOW_MS = 20_000
const WARMUP_MS = 2_000
const SEND_EVERY_MS = 250
/** busy vs idle: not distinguishable means p above this; the controls must fall below it. */
const ALPHA = 0.001
/**
 * The observed packet rate lies within [1 - RATE_BELOW, 1 + RATE_ABOVE] of RATE + LOOP: a Poisson
 * count over the window is within 3 standard deviations (about 14 % at 440 packets) of its mean,
 * and timers on a busy machine only fire late, which lowers the rate (18.7 a second seen at a load
 * of 5 on 2 cores), never raises it.
 */
const RATE_ABOVE = 0.15
const RATE_BELOW = 0.25
/** Two Poisson counts of one rate differ by under this many standard deviations (two-sided p 0.001). */
const COUNT_Z = 3.29

interface Frame {
  readonly t: number
  readonly size: number
  readonly kind: number
}

describe("client cover traffic: an observer of the client's link cannot tell real traffic from cover", function () {
  this.timeout(120_000)
  let c: CryptoSuite
  let net: Testnet
  let chat: Chat
  const taps: Tap[] = []
  const clients: SealmixClient[] = []

  before(async function () {
    c = await loadCrypto('sodium-native')
    ;({ net, chat } = await startChatNet(c, { clientRatePerSec: RATE, clientLoopRatePerSec: LOOP }))
  })
  after(async function () {
    for (const cl of clients) cl.close()
    for (const t of taps) await t.close()
    await chat?.stop()
    await net?.stop()
  })

  /** A client whose link to gwA runs through a recording tap (the document it is given names the tap's port). */
  async function observed(
    p: Person,
    o: Partial<ClientOptions> = {}
  ): Promise<{ client: SealmixClient; frames: Frame[] }> {
    const gw = net.byName('gwA')
    const port = await freePort()
    const frames: Frame[] = []
    const tap = new Tap(port, gw.port, (t, m) => frames.push({ t, size: m.length, kind: m[0]! }))
    await tap.start()
    taps.push(tap)
    const network = {
      ...net.doc,
      relays: net.doc.relays.map(r => (r.id === gw.keys.id ? { ...r, address: `ws://127.0.0.1:${port}` } : r))
    }
    const client = chat.client(p, { network, mailboxId: randomBytes(c, 32), ...o })
    clients.push(client)
    client.start()
    return { client, frames }
  }

  it('a client sending real messages and an idle one: one frame size, gaps not told apart, the configured Poisson rate; cover off or a lower rate is told apart', async function () {
    const busy = await observed(chat.alice)
    const idle = await observed(chat.bob)
    const dark = await observed(chat.alice, { cover: false })
    const slow = await observed(chat.bob, { rates: { clientRatePerSec: RATE / 4 } })
    const all = [busy, idle, dark, slow]
    await waitFor(() => all.every(x => x.client.connected), 10_000, 'every client connected')
    // Both senders send steadily from the start; the window opens after a warm-up.
    let sent = 0
    const sender = setInterval(() => {
      busy.client.send(chat.contact(chat.bob), `real ${sent}`)
      dark.client.send(chat.contact(chat.alice), `real ${sent}`)
      sent++
    }, SEND_EVERY_MS)
    await new Promise(resolve => setTimeout(resolve, WARMUP_MS))
    const t0 = performance.now()
    const realBefore = [busy.client.stats.realSent, dark.client.stats.realSent]
    await new Promise(resolve => setTimeout(resolve, WINDOW_MS))
    const t1 = performance.now()
    clearInterval(sender)
    const realInWindow = [busy.client.stats.realSent - realBefore[0]!, dark.client.stats.realSent - realBefore[1]!]
    const seconds = (t1 - t0) / 1000

    const inWindow = (x: { frames: Frame[] }): Frame[] => x.frames.filter(f => f.t >= t0 && f.t < t1)
    const view = (x: {
      frames: Frame[]
    }): {
      all: number[]
      packets: number[]
      sizes: number[]
      packetCount: number
      packetRate: number
      frameRate: number
    } => {
      const fs = inWindow(x)
      const ps = fs.filter(f => f.kind === FRAME.PACKET)
      return {
        all: gaps(fs.map(f => f.t)),
        packets: gaps(ps.map(f => f.t)),
        sizes: [...new Set(fs.map(f => f.size))].sort(),
        packetCount: ps.length,
        packetRate: ps.length / seconds,
        frameRate: fs.length / seconds
      }
    }
    const [b, i, d, s] = all.map(view) as [
      ReturnType<typeof view>,
      ReturnType<typeof view>,
      ReturnType<typeof view>,
      ReturnType<typeof view>
    ]
    const same = { all: ks(b.all, i.all), packets: ks(b.packets, i.packets) }
    const darkVsIdle = { all: ks(d.all, i.all), packets: ks(d.packets, i.packets) }
    const slowVsIdle = { all: ks(s.all, i.all), packets: ks(s.packets, i.packets) }
    const f = (x: { d: number; p: number }): string => `D ${x.d.toFixed(3)} p ${x.p.toExponential(2)}`
    console.log(
      `      ${seconds.toFixed(1)} s window; real packets sent busy ${realInWindow[0]} dark ${realInWindow[1]} (of ${(RATE * seconds) | 0} slots); delivered busy ${busy.client.stats.delivered} dark ${dark.client.stats.delivered}`
    )
    console.log(
      `      packet rate /s: busy ${b.packetRate.toFixed(2)} idle ${i.packetRate.toFixed(2)} dark ${d.packetRate.toFixed(2)} slow ${s.packetRate.toFixed(2)} (configured ${RATE + LOOP}; busy vs idle count z ${(Math.abs(b.packetCount - i.packetCount) / Math.sqrt(b.packetCount + i.packetCount)).toFixed(2)}); frame rate busy ${b.frameRate.toFixed(2)} idle ${i.frameRate.toFixed(2)}`
    )
    console.log(
      `      frames: busy ${b.all.length + 1} idle ${i.all.length + 1}; sizes busy ${b.sizes.join(',')} idle ${i.sizes.join(',')} dark ${d.sizes.join(',')} slow ${s.sizes.join(',')}`
    )
    console.log(`      KS busy vs idle: all frames ${f(same.all)}, packets ${f(same.packets)}`)
    console.log(
      `      KS dark vs idle: all frames ${f(darkVsIdle.all)}, packets ${f(darkVsIdle.packets)}; slow vs idle: all frames ${f(slowVsIdle.all)}, packets ${f(slowVsIdle.packets)}`
    )

    // Real traffic did flow, in the busy client's slots.
    assert.ok(
      realInWindow[0]! >= 0.8 * (WINDOW_MS / SEND_EVERY_MS),
      `busy sent ${realInWindow[0]} real packets in the window`
    )
    assert.ok(busy.client.stats.delivered > 0, "busy's messages reached the homeserver")
    // One frame size on every link.
    assert.equal(b.sizes.length, 1)
    assert.deepEqual(b.sizes, i.sizes)
    assert.deepEqual(d.sizes, i.sizes)
    // The configured Poisson rate, and the same rate for both.
    for (const [name, v] of [
      ['busy', b],
      ['idle', i]
    ] as const) {
      const ratio = v.packetRate / (RATE + LOOP)
      assert.ok(
        ratio >= 1 - RATE_BELOW && ratio <= 1 + RATE_ABOVE,
        `${name}: ${v.packetRate.toFixed(2)} packets/s, configured ${RATE + LOOP}`
      )
    }
    const z = Math.abs(b.packetCount - i.packetCount) / Math.sqrt(b.packetCount + i.packetCount)
    assert.ok(z < COUNT_Z, `busy sent ${b.packetCount} packets, idle ${i.packetCount}: z ${z.toFixed(2)}`)
    // Not told apart.
    assert.ok(same.all.p > ALPHA, `busy vs idle, all frames: ${f(same.all)}`)
    assert.ok(same.packets.p > ALPHA, `busy vs idle, packets: ${f(same.packets)}`)
    // The controls: the same observer and test tell them apart.
    assert.ok(
      darkVsIdle.all.p < ALPHA && darkVsIdle.packets.p < ALPHA,
      `cover off: ${f(darkVsIdle.all)}, ${f(darkVsIdle.packets)}`
    )
    assert.ok(
      slowVsIdle.all.p < ALPHA && slowVsIdle.packets.p < ALPHA,
      `a quarter of the slot rate: ${f(slowVsIdle.all)}, ${f(slowVsIdle.packets)}`
    )
  })
})

/**
 * One observation run of the audit: a real relay process (a layer-1 mix, `sealmix run`) between
 * instrumented senders (two gateways' authenticated links) and sinks (two layer-2 relays). The
 * senders offer Poisson traffic; every frame in and out is recorded with its time, link and size,
 * which is all a global passive observer sees. For ground truth only, each packet's forwarded
 * header (its α after the relay's hop) is computed in advance, so the sink knows which input
 * became which output; cover (link padding) matches no input.
 */
import WebSocket from 'ws'
import { dialHandshake, FrameReader, Listener } from '../../daemon/index.ts'
import {
  type CryptoSuite,
  encodeFrame,
  exponential,
  FRAME,
  NETWORK_GEOMETRY as G,
  type MixingParams,
  parseFrame,
  type RelayDescriptor,
  type Rng,
  randomInt,
  relayId,
  Sphinx,
  systemRng
} from '../../mix/index.ts'
import { scrape } from '../devnet/status.ts'
import { launchNetwork } from '../network/launch.ts'
import { RELAY_LAYOUT } from '../network/layout.ts'
import { freePort } from '../network/ports.ts'
import type { InEvent, OutEvent } from './analysis.ts'

export interface RunOptions {
  readonly mixing: MixingParams
  /** Offered packets per second, Poisson. */
  readonly rate: number
  readonly seconds: number
  /** Share of offered packets that are real (forwarded); the rest are drop cover ending at this relay. */
  readonly realShare?: number
}

export interface Observation {
  readonly ins: InEvent[]
  readonly outs: OutEvent[]
  readonly sinks: number[]
  /** Real packets sent, and how many of them came out. */
  readonly sent: number
  readonly arrived: number
  /** Send-to-arrival latency of real packets, ms. */
  readonly latencies: number[]
  /** The relay's own live estimate (sealmix_mix_pool_entropy), sampled every 250 ms while traffic flowed. */
  readonly gaugeEntropyBits: number[]
  /** The sinks' TCP ports (to pick this run's frames out of a packet capture). */
  readonly sinkPorts: number[]
}

interface Party {
  id: string
  identity: { publicKey: Uint8Array; secretKey: Uint8Array }
  mixSk: Buffer
  mixPk: Buffer
}

function party(c: CryptoSuite, rng: Rng): Party {
  const identity = c.signSeedKeypair(rng.bytes(32))
  const mixSk = rng.bytes(32)
  const mixPk = Buffer.alloc(32)
  c.x25519Base(mixPk, mixSk)
  return { id: relayId(c, identity.publicKey), identity, mixSk, mixPk }
}

/** The relay under test: the layout's layer-1 mix, alone; the parties around it are stand-ins this run plays. */
const UNDER_TEST = RELAY_LAYOUT.filter(r => r.layer === 1)
/** How long the relay under test gets to stop after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 5000

export async function observe(c: CryptoSuite, o: RunOptions): Promise<Observation> {
  const rng = systemRng(c)
  const sphinx = new Sphinx(c, G)
  const net = await launchNetwork(c, {
    mode: { kind: 'static', network: 'audit', mixing: o.mixing, validForMs: 3600_000 },
    relays: UNDER_TEST,
    format: 'json',
    logLevel: 'warn',
    config: { replay: { capacity: 1_000_000 } }
  })
  try {
    const node = net.relays[0]!
    const { keys: relay, port, metricsPort } = node
    const gateways = [party(c, rng), party(c, rng)]
    const sinks = [party(c, rng), party(c, rng)]
    const m3 = party(c, rng)
    const sinkPorts = [await freePort(), await freePort()]
    const desc = (p: Party, role: 'gateway' | 'mix', layer: number, address: string): RelayDescriptor => ({
      id: p.id,
      role,
      layer,
      address,
      identityKey: Buffer.from(p.identity.publicKey).toString('hex'),
      mixKey: p.mixPk.toString('hex')
    })
    net.signNetwork({
      others: [
        desc(gateways[0]!, 'gateway', 0, 'ws://127.0.0.1:1'),
        desc(gateways[1]!, 'gateway', 0, 'ws://127.0.0.1:2'),
        desc(sinks[0]!, 'mix', 2, `ws://127.0.0.1:${sinkPorts[0]!}`),
        desc(sinks[1]!, 'mix', 2, `ws://127.0.0.1:${sinkPorts[1]!}`),
        desc(m3, 'mix', 3, 'ws://127.0.0.1:3')
      ]
    })

    // Ground truth, built before the clock starts: each packet, its sink and its α after the relay's hop.
    const total = Math.max(1, Math.round(o.rate * o.seconds))
    const real = o.realShare ?? 1
    const packets: Array<{ bytes: Buffer; alpha: string | null }> = []
    for (let i = 0; i < total; i++) {
      const isReal = rng.bytes(4).readUInt32BE() / 2 ** 32 < real
      const to = sinks[randomInt(rng, 2)]!
      const hopRelay = {
        id: Buffer.from(relay.id, 'hex'),
        publicKey: relay.mix.publicKey,
        commands: isReal
          ? [{ type: 'node_delay' as const, delayMs: 0 }]
          : [
              { type: 'node_delay' as const, delayMs: 0 },
              { type: 'recipient' as const, id: Buffer.alloc(32) }
            ]
      }
      const path = isReal
        ? [
            hopRelay,
            {
              id: Buffer.from(to.id, 'hex'),
              publicKey: to.mixPk,
              commands: [
                { type: 'node_delay' as const, delayMs: 0 },
                { type: 'recipient' as const, id: Buffer.alloc(32, 1) }
              ]
            }
          ]
        : [hopRelay]
      const bytes = sphinx.createPacket(path, rng.bytes(G.userPayloadBytes), rng)
      const r = isReal ? sphinx.unwrap(bytes, { keys: [relay.mix.secretKey] }) : null
      packets.push({ bytes, alpha: r?.type === 'forward' ? r.packet.subarray(2, 34).toString('hex') : null })
    }
    const bySource = new Map(packets.map((p, i) => [p.alpha, i] as const).filter(([a]) => a !== null))

    const outs: OutEvent[] = []
    const listeners = sinks.map(
      (s, k) =>
        new Listener({
          crypto: c,
          geometry: G,
          identity: { id: Buffer.from(s.id, 'hex'), secretKey: s.identity.secretKey },
          host: '127.0.0.1',
          port: sinkPorts[k]!,
          maxConnections: 8,
          maxConnectionsPerIp: 8,
          reservedPeerSlots: 2,
          maxBufferedBytes: 1 << 24,
          handshakeTimeoutMs: 5000,
          pingIntervalMs: 60_000,
          kinds: new Set(['relay']),
          keyOf: (_k, id) => (id === relay.id ? relay.identity.publicKey : undefined),
          onOpen: () => {},
          onClose: () => {},
          onHandshakeFailed: () => {},
          onMessage: (_c, m) => {
            const t = performance.now()
            const f = parseFrame(G, m.data)
            const source =
              f?.kind === FRAME.PACKET ? (bySource.get(f.body.subarray(2, 34).toString('hex')) ?? null) : null
            outs.push({ t, link: k, size: m.data.length, source })
          }
        })
    )
    for (const l of listeners) await l.start()
    // Its stderr (a refusal at start) reaches the auditor, as the audit's own would.
    await net.start(node, 'process', {
      onErrLine: l => {
        process.stderr.write(`${l}\n`)
      }
    })
    try {
      await net.untilUp(node, 30_000)
      // Wait for the relay's links to both sinks (it dials them).
      const linked = Date.now() + 15_000
      while (Date.now() < linked && (await scrape(metricsPort)).get('sealmix_connections{link="peer"}') !== 2)
        await new Promise(r => setTimeout(r, 100))
      const links = await Promise.all(
        gateways.map(async g => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/relay`, { perMessageDeflate: false })
          const reader = new FrameReader(ws)
          await new Promise<void>((res, rej) => {
            ws.once('open', () => res())
            ws.once('error', rej)
          })
          if (
            !(await dialHandshake(
              c,
              G,
              ws,
              reader,
              { id: Buffer.from(g.id, 'hex'), secretKey: g.identity.secretKey },
              'relay',
              Buffer.from(relay.id, 'hex'),
              relay.identity.publicKey,
              5000
            ))
          )
            throw new Error('audit: handshake with the relay under test failed')
          return ws
        })
      )
      outs.length = 0 // cover sent before the run starts is not part of it
      const ins: InEvent[] = []
      const sendAt: number[] = []
      const gauge: number[] = []
      const sampler = setInterval(() => {
        void scrape(metricsPort).then(m => {
          const v = m.get('sealmix_mix_pool_entropy')
          if (v !== undefined && Number.isFinite(v)) gauge.push(v)
        })
      }, 250)
      const start = performance.now()
      let t = exponential(rng, 1000 / o.rate)
      for (let i = 0; i < total; i++, t += exponential(rng, 1000 / o.rate)) {
        const wait = start + t - performance.now()
        if (wait > 1) await new Promise(r => setTimeout(r, wait))
        const link = randomInt(rng, 2)
        links[link]!.send(encodeFrame(G, FRAME.PACKET, packets[i]!.bytes))
        const now = performance.now()
        sendAt.push(now)
        if (packets[i]!.alpha !== null) ins.push({ t: now, link })
      }
      clearInterval(sampler)
      await new Promise(r => setTimeout(r, Math.min(o.mixing.maxDelayMs, 2000) + 4 * o.mixing.intervalMs + 500))
      for (const ws of links) ws.close()
      // Re-number sources from packet indices to indices into `ins` (real packets only).
      const realIndex = new Map<number, number>()
      let n = 0
      packets.forEach((p, i) => {
        if (p.alpha !== null) realIndex.set(i, n++)
      })
      const remapped = outs.map(x => ({ ...x, source: x.source === null ? null : (realIndex.get(x.source) ?? null) }))
      const latencies = outs.filter(x => x.source !== null).map(x => x.t - sendAt[x.source!]!)
      return {
        ins,
        outs: remapped,
        sinks: [0, 1],
        sent: ins.length,
        arrived: remapped.filter(x => x.source !== null).length,
        latencies,
        gaugeEntropyBits: gauge,
        sinkPorts
      }
    } finally {
      await net.stop(STOP_GRACE_MS)
      for (const l of listeners) await l.close()
    }
  } finally {
    // Whatever failed before the relay started: its directory goes too (a second stop is the first one's).
    await net.stop(STOP_GRACE_MS)
  }
}

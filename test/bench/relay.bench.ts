/**
 * Relay bench: one relay process (a layer-1 mix with 2 unwrap workers, run from the
 * esbuild bundle that `npm run build` writes) is fed pre-built packets over an authenticated ws
 * link by this load process, which also runs the sink (the next layer's relay, counting).
 * Everything runs on this machine's cores. Each run (run.ts repeats it, default 3 times) measures:
 *
 * - the single-core unwrap rate, in this process, as the baseline;
 * - the burst-absorbed rate: 2 s steps up a ladder on one relay; a step counts if every packet of
 *   the burst arrives within 3 s after it. The load's 8 MiB ws buffer, the relay's 8,192-packet
 *   unwrap queue and the kernel's buffers hold a good part of such a burst, so this is not a rate
 *   the relay can keep up;
 * - the sustained rate (the headline): steps of at least 30 s, each on a fresh relay (fresh
 *   database and replay filter, 2 s warm-up), up a ladder then bisected. A rate holds when every
 *   packet arrives, the relay drops none, the load keeps its schedule, p99 latency is under the
 *   mixing interval + 100 ms, and the backlog (packets offered by the schedule and not yet at the
 *   sink: in the load's ws buffer, the kernel, the relay's queues, or dropped), sampled every
 *   500 ms, does not grow from the first to the last third of the step by more than 20 ms of
 *   traffic. A positive control then runs one step at 1.25x the burst-absorbed rate, which the
 *   growth test must flag; if it does not, the run's sustained rate is reported as invalid (NaN);
 * - added latency at half the sustained rate: each timed packet's latency minus its wait for the
 *   next mixing round (sustained.ts), beside the latency floors (floor.ts, bundled like the
 *   relay) and any relay variants, in interleaved rounds; the headline is the relay's p99 over
 *   that of the floor with its structure (2 workers on the same rings, 5 ms tick, synced write);
 *   and the same at 2,000/s, beside the two full-structure floors;
 * - with relay variants marked `sustained` (relay-variant.ts), each variant's sustained rate in
 *   the same run, searched the same way, before or after the relay's by turns;
 * - peak RSS, and a 3x overload followed by a recovery step.
 */

import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import WebSocket from 'ws'
import { ensureKeys, loadKeys, type RelayKeys } from '../../daemon/index.ts'
import { FrameReader } from '../../daemon/io/frame-reader.ts'
import { dialHandshake } from '../../daemon/io/handshake.ts'
import { Listener } from '../../daemon/relay/listener/server.ts'
import {
  type CryptoSuite,
  encodeFrame,
  FRAME,
  frameBytes,
  NETWORK_GEOMETRY as G,
  geometryHash,
  loadCrypto,
  parseFrame,
  type RelayDescriptor,
  relayId,
  Sphinx,
  signDocument,
  systemRng
} from '../../mix/index.ts'
import { scrape } from '../../tools/devnet/status.ts'
import { freePort } from '../../tools/index.ts'
import { FLOORS, startFloor } from './floor.ts'
import type { BenchResult } from './harness.ts'
import { Capture, type WireFrame } from './pcap-frames.ts'
import { type RelayVariant, relayVariants, startVariant, stopProcess } from './relay-variant.ts'
import {
  addedLatencies,
  type Bounds,
  describeGrowth,
  judge,
  type QueueSample,
  roundStarts,
  searchRate,
  type Verdict
} from './sustained.ts'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const INTERVAL_MS = 5

function num(k: string, d: number): number {
  const v = process.env[k]
  if (v === undefined || v === '') return d
  const n = Number(v)
  if (!Number.isFinite(n)) throw new Error(`bench: ${k}=${v} is not a number`)
  return n
}
function rates(k: string, d: string): number[] {
  const xs = (process.env[k] ?? d).split(',').map(Number)
  if (xs.some(x => !Number.isFinite(x) || x <= 0))
    throw new Error(`bench: ${k} must be a comma-separated list of rates`)
  return xs
}

// Knobs (bench code only; short verification: SEALMIX_BENCH_STEP_SECONDS=5 SEALMIX_BENCH_SUSTAINED_RATES=2000,4000 ...):
// - burst ladder: SEALMIX_BENCH_RATES=2000,...,16000 SEALMIX_BENCH_BURST_SECONDS=2
// - sustained search: SEALMIX_BENCH_STEP_SECONDS=30 SEALMIX_BENCH_SUSTAINED_RATES=4000,8000,12000,16000 (the ladder)
//   SEALMIX_BENCH_RESOLUTION=1000 (bisect until this far apart) SEALMIX_BENCH_MAX_STEPS=6 (ladder + bisection)
//   SEALMIX_BENCH_P99_BOUND_MS=100 (beyond the mixing interval) SEALMIX_BENCH_GROWTH_MS=20 SEALMIX_BENCH_SAMPLE_MS=500
//   SEALMIX_BENCH_CONTROL_RATE (default 1.25x the burst-absorbed rate) SEALMIX_BENCH_CONTROL_SECONDS=10
// - half load: SEALMIX_BENCH_HALF_RATE (default half the sustained rate) SEALMIX_BENCH_HALF_SECONDS=2
//   SEALMIX_BENCH_WIRE=1 (also time the half-load step on the wire with tcpdump)
//   SEALMIX_BENCH_FLOOR_ROUNDS=5 (0: skip the latency floors) SEALMIX_BENCH_FLOOR_RATE (default: half load)
//   SEALMIX_BENCH_FLOORS=0,1,5 (which floors, by index in floor.ts's FLOORS)
//   SEALMIX_BENCH_LOW_RATE=2000 SEALMIX_BENCH_LOW_ROUNDS (default: the floor rounds; 0: skip)
//   SEALMIX_BENCH_RELAY_VARIANTS='[{"name":"x","flags":"...","bundle":"..."}]' or '[{"name":"head","rev":"HEAD","sustained":true}]'
// - the relay: SEALMIX_BENCH_WORKERS=2 SEALMIX_BENCH_RELAY_CPUS=1 SEALMIX_BENCH_NODE_FLAGS='--trace-gc'
//   SEALMIX_BENCH_RELAY_STDOUT=file SEALMIX_BENCH_BUNDLE=dist/other.mjs (the relay under test) SEALMIX_BENCH_SHOW_ROUNDS=1
const BURST_RATES = rates('SEALMIX_BENCH_RATES', '2000,4000,6000,8000,10000,12000,14000,16000')
const BURST_MS = num('SEALMIX_BENCH_BURST_SECONDS', 2) * 1000
const STEP_MS = num('SEALMIX_BENCH_STEP_SECONDS', 30) * 1000
const SUSTAINED_RATES = rates('SEALMIX_BENCH_SUSTAINED_RATES', '4000,8000,12000,16000')
const RESOLUTION = num('SEALMIX_BENCH_RESOLUTION', 1000)
const MAX_STEPS = num('SEALMIX_BENCH_MAX_STEPS', 6)
const SAMPLE_MS = num('SEALMIX_BENCH_SAMPLE_MS', 500)
const CONTROL_MS = num('SEALMIX_BENCH_CONTROL_SECONDS', 10) * 1000
const HALF_MS = num('SEALMIX_BENCH_HALF_SECONDS', 2) * 1000
const DRAIN_MS = 3000
const WARM_RATE = 2000
const WARM_MS = 2000
const BOUNDS: Bounds = {
  intervalMs: INTERVAL_MS,
  p99BoundMs: num('SEALMIX_BENCH_P99_BOUND_MS', 100),
  growthMs: num('SEALMIX_BENCH_GROWTH_MS', 20),
  growthMinPackets: 50,
  lateMs: 250
}
const WORKERS = num('SEALMIX_BENCH_WORKERS', 2)
/** A packet frame's bytes in the load's ws buffer (frame, ws header with a 16-bit length and the client's mask). */
const FRAME_WIRE = frameBytes(G) + 8

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? 0 : Number(m[1]) / 1024
  } catch {
    return 0
  }
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!
}

interface Party {
  id: string
  identity: { publicKey: Uint8Array; secretKey: Uint8Array }
}
interface Setup {
  dir: string
  relay: RelayKeys
  floor: Party
  gw: Party
  sink: Party
  port: number
  sinkPort: number
  metricsPort: number
  config: string
  path: Array<{ id: string; key: string }>
}

async function setup(c: CryptoSuite): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'sealmix-bench-relay-'))
  ensureKeys(c, join(dir, 'relay'))
  const relay = loadKeys(c, join(dir, 'relay'))
  const mk = (): Party & { mix: Buffer } => {
    const identity = c.signSeedKeypair(rand(c, 32))
    const mix = Buffer.alloc(32)
    c.x25519Base(mix, rand(c, 32))
    return { id: relayId(c, identity.publicKey), identity, mix }
  }
  const gw = mk()
  const sink = mk()
  const m3 = mk()
  const gwB = mk()
  const floor = mk()
  const sinkSk = rand(c, 32)
  const sinkPk = Buffer.alloc(32)
  c.x25519Base(sinkPk, sinkSk)
  const signer = c.signSeedKeypair(rand(c, 32))
  const [port, sinkPort, metricsPort] = [await freePort(), await freePort(), await freePort()]
  const d = (
    id: string,
    role: 'gateway' | 'mix',
    layer: number,
    address: string,
    identityKey: Uint8Array,
    mixKey: Buffer
  ): RelayDescriptor => ({
    id,
    role,
    layer,
    address,
    identityKey: Buffer.from(identityKey).toString('hex'),
    mixKey: mixKey.toString('hex')
  })
  const doc = {
    version: 1,
    network: 'bench',
    epoch: 0,
    validFromMs: Date.now() - 60_000,
    validUntilMs: Date.now() + 24 * 3600_000,
    geometry: { hops: G.hops, userPayloadBytes: G.userPayloadBytes, hash: geometryHash(c, G).toString('hex') },
    mixing: {
      strategy: 'batch' as const,
      intervalMs: INTERVAL_MS,
      minPool: 0,
      flushFraction: 1,
      minBatch: 0,
      maxDelayMs: 1000,
      loopRatePerSec: 0
    },
    relays: [
      d(gw.id, 'gateway', 0, 'ws://127.0.0.1:1', gw.identity.publicKey, gw.mix),
      d(relay.id, 'mix', 1, `ws://127.0.0.1:${port}`, relay.identity.publicKey, relay.mix.publicKey),
      d(sink.id, 'mix', 2, `ws://127.0.0.1:${sinkPort}`, sink.identity.publicKey, sinkPk),
      d(m3.id, 'mix', 3, 'ws://127.0.0.1:1', m3.identity.publicKey, m3.mix),
      d(gwB.id, 'gateway', 0, 'ws://127.0.0.1:2', gwB.identity.publicKey, gwB.mix)
    ],
    ingresses: []
  }
  writeFileSync(join(dir, 'network.json'), JSON.stringify(signDocument(c, doc, [signer])))
  const config = join(dir, 'relay.json')
  writeFileSync(
    config,
    JSON.stringify({
      role: 'mix',
      dataDir: join(dir, 'relay'),
      listen: { host: '127.0.0.1', port },
      network: { file: join(dir, 'network.json'), signers: [Buffer.from(signer.publicKey).toString('hex')] },
      metrics: { port: metricsPort },
      limits: { workers: WORKERS },
      replay: { capacity: 2_000_000 },
      log: { level: 'warn' }
    })
  )
  return {
    dir,
    relay,
    floor: { id: floor.id, identity: floor.identity },
    gw,
    sink,
    port,
    sinkPort,
    metricsPort,
    config,
    path: [
      { id: relay.id, key: relay.mix.publicKey.toString('hex') },
      { id: sink.id, key: sinkPk.toString('hex') }
    ]
  }
}

function rand(c: CryptoSuite, n: number): Buffer {
  const b = Buffer.alloc(n)
  c.randomFill(b)
  return b
}

/** Packets for the relay under test, in send order, and the timed ones: forwarded α (hex) -> index. */
interface Batch {
  packets: Buffer[]
  samples: Map<string, number>
}

class Builder {
  readonly #workers = [0, 1].map(() => new Worker(new URL('./build-worker-entry.mjs', import.meta.url)))
  #next = 0
  constructor(private readonly s: Setup) {}
  async build(count: number): Promise<Batch> {
    const half = Math.ceil(count / 2)
    const parts = await Promise.all(
      this.#workers.map(
        async (w, k) =>
          await new Promise<{ out: ArrayBuffer; samples: Array<[number, string]> }>(resolve => {
            w.once('message', resolve)
            w.postMessage({
              count: k === 0 ? half : count - half,
              path: this.s.path,
              relaySk: this.s.relay.mix.secretKey.toString('hex'),
              sampleEvery: 10,
              first: this.#next + k * half
            })
          })
      )
    )
    const packets: Buffer[] = []
    const samples = new Map<string, number>()
    for (const p of parts) {
      const b = Buffer.from(p.out)
      for (let i = 0; i < b.length / G.packetBytes; i++)
        packets.push(b.subarray(i * G.packetBytes, (i + 1) * G.packetBytes))
      for (const [n, a] of p.samples) samples.set(a, n - this.#next)
    }
    this.#next += count
    return { packets, samples }
  }
  async close(): Promise<void> {
    await Promise.all(this.#workers.map(async w => await w.terminate()))
  }
}

/**
 * Packets for the sustained steps, built once per process and grown as a step needs more: each
 * step runs on a fresh relay (empty replay filter), so the same packets serve every step and run.
 */
class Pool {
  readonly packets: Buffer[] = []
  readonly samples = new Map<string, number>()
  constructor(private readonly builder: Builder) {}
  async ensure(n: number): Promise<void> {
    if (this.packets.length >= n) return
    const t0 = Date.now()
    console.log(`  building ${n - this.packets.length} more packets for the sustained steps (pool of ${n})`)
    while (this.packets.length < n) {
      const b = await this.builder.build(Math.min(20_000, n - this.packets.length))
      const off = this.packets.length
      for (const p of b.packets) this.packets.push(p)
      for (const [a, i] of b.samples) this.samples.set(a, off + i)
    }
    console.log(`  built in ${((Date.now() - t0) / 1000).toFixed(0)} s`)
  }
  take(from: number, n: number): Batch {
    const samples = new Map<string, number>()
    for (const [a, i] of this.samples) if (i >= from && i < from + n) samples.set(a, i - from)
    return { packets: this.packets.slice(from, from + n), samples }
  }
}

interface RelayCounters {
  received: number
  sent: number
  dropped: number
  rounds: number
  roundSec: number
}
function countersOf(m: Map<string, number>): RelayCounters | undefined {
  if (m.size === 0) return undefined
  let dropped = 0
  for (const [k, v] of m) if (k.startsWith('sealmix_packets_dropped_total')) dropped += v
  return {
    received: m.get('sealmix_packets_received_total{link="peer"}') ?? 0,
    sent:
      (m.get('sealmix_packets_sent_total{link="peer"}') ?? 0) - (m.get('sealmix_cover_sent_total{kind="link"}') ?? 0),
    dropped,
    rounds: m.get('sealmix_mix_round_duration_seconds_count') ?? 0,
    roundSec: m.get('sealmix_mix_round_duration_seconds_sum') ?? 0
  }
}
async function relayCounters(port: number): Promise<RelayCounters | undefined> {
  for (let i = 0; i < 5; i++) {
    const x = countersOf(await scrape(port))
    if (x !== undefined) return x
    await sleep(200)
  }
  return undefined
}

/** What a step is sent to: the relay (with its /metrics), a floor (its tick stats) or a variant. */
interface Target {
  ws: WebSocket
  pid: number
  tickMs: number
  metricsPort?: number
  ticks?: () => { count: number; sumMs: number }
}

interface Step {
  rate: number
  ms: number
  total: number
  sent: number
  received: number
  drops: number
  blocked: number
  lateMs: number
  zeroLoss: boolean
  /** latency, send call to the sink's receipt, of the timed packets (every 10th) */
  p50: number
  p99: number
  /** latency minus the wait for the next round (sustained.ts), and that wait */
  addedP50: number
  addedP99: number
  waitP50: number
  roundMs: number
  timed: number
  rss: number
  samples: QueueSample[]
}

interface Shared {
  c: CryptoSuite
  s: Setup
  builder: Builder
  pool: Pool
  warm: Batch
  sink: Listener
  state: { received: number; arrivals: Map<number, number>; watch: Set<number>; bursts: number[]; last: number }
  live: Set<ChildProcess>
}
let shared: Promise<Shared> | undefined

async function init(): Promise<Shared> {
  const c = await loadCrypto('sodium-native')
  const s = await setup(c)
  // Sink: the next layer's relay, counting packets, timing the sampled ones, and noting the start
  // of each burst (a round's frames leave the relay in one corked write).
  const state = {
    received: 0,
    arrivals: new Map<number, number>(),
    watch: new Set<number>(),
    bursts: [] as number[],
    last: 0
  }
  const sink = new Listener({
    crypto: c,
    geometry: G,
    identity: { id: Buffer.from(s.sink.id, 'hex'), secretKey: s.sink.identity.secretKey },
    host: '127.0.0.1',
    port: s.sinkPort,
    maxConnections: 64,
    maxConnectionsPerIp: 64,
    reservedPeerSlots: 4,
    maxBufferedBytes: 1 << 24,
    handshakeTimeoutMs: 5000,
    pingIntervalMs: 60_000,
    kinds: new Set(['relay']),
    keyOf: (_k, id) =>
      id === s.relay.id ? s.relay.identity.publicKey : id === s.floor.id ? s.floor.identity.publicKey : undefined,
    onOpen: () => {},
    onClose: () => {},
    onHandshakeFailed: () => {},
    onMessage: (_c, m) => {
      const f = parseFrame(G, m.data)
      if (f?.kind !== FRAME.PACKET) return
      const now = performance.now()
      if (now - state.last > 1) state.bursts.push(now)
      state.last = now
      state.received++
      // Keyed by the first 4 bytes of α (no string per packet: the load process's own work is part of every figure).
      const k = f.body.readUInt32BE(2)
      if (state.watch.has(k)) state.arrivals.set(k, now)
    }
  })
  await sink.start()
  const builder = new Builder(s)
  const live = new Set<ChildProcess>()
  process.once('exit', () => {
    for (const p of live) p.kill('SIGKILL')
    rmSync(s.dir, { recursive: true, force: true })
  })
  return {
    c,
    s,
    builder,
    pool: new Pool(builder),
    warm: await builder.build((WARM_RATE * WARM_MS) / 1000 + 50),
    sink,
    state,
    live
  }
}

export async function closeRelayBench(): Promise<void> {
  if (shared === undefined) return
  const sh = await shared
  shared = undefined
  await sh.builder.close()
  await sh.sink.close()
  rmSync(sh.s.dir, { recursive: true, force: true })
}

/** Warn when dist/ is older than the sources: the relay under test would not be this tree. */
function checkBundle(): void {
  if (process.env.SEALMIX_BENCH_BUNDLE !== undefined) return
  let bundle: number
  try {
    bundle = statSync(join(ROOT, 'dist', 'sealmix.mjs')).mtimeMs
  } catch {
    throw new Error('bench: dist/sealmix.mjs is missing: run `npm run build` (npm run bench:relay does)')
  }
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce(
      (m, e) =>
        Math.max(
          m,
          e.isDirectory() ? newest(join(dir, e.name)) : e.name.endsWith('.ts') ? statSync(join(dir, e.name)).mtimeMs : 0
        ),
      0
    )
  const src = Math.max(...['mix', 'daemon', 'cli'].map(d => newest(join(ROOT, d))))
  if (src > bundle)
    console.log(
      '  WARNING: sources are newer than dist/sealmix.mjs: the relay under test is an old build (run `npm run build`)'
    )
}

async function connect(sh: Shared, port: number, id: string, key: Uint8Array): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/relay`, { perMessageDeflate: false })
  const reader = new FrameReader(ws)
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  if (
    !(await dialHandshake(
      sh.c,
      G,
      ws,
      reader,
      { id: Buffer.from(sh.s.gw.id, 'hex'), secretKey: sh.s.gw.identity.secretKey },
      'relay',
      Buffer.from(id, 'hex'),
      key,
      5000
    ))
  )
    throw new Error('bench: handshake failed')
  return ws
}

interface Running {
  target: Target
  proc: ChildProcess
  port: number
  metricsPort: number
  stop: () => Promise<void>
}

/**
 * A fresh relay (a copy of the bench relay's keys, an empty database), connected, its link to
 * the sink up (probe packets until one arrives), and warmed up for WARM_MS at WARM_RATE.
 */
async function startRelay(sh: Shared, v?: RelayVariant): Promise<Running> {
  const stdout =
    process.env.SEALMIX_BENCH_RELAY_STDOUT === undefined
      ? ('ignore' as const)
      : openSync(process.env.SEALMIX_BENCH_RELAY_STDOUT, 'a')
  const r = await startVariant(ROOT, sh.s.config, {
    name: 'relay',
    flags: process.env.SEALMIX_BENCH_NODE_FLAGS,
    ...v,
    cpus: process.env.SEALMIX_BENCH_RELAY_CPUS,
    stdout
  })
  sh.live.add(r.proc)
  r.proc.once('exit', () => sh.live.delete(r.proc))
  const ws = await connect(sh, r.port, sh.s.relay.id, sh.s.relay.identity.publicKey)
  const target: Target = { ws, pid: r.proc.pid!, tickMs: INTERVAL_MS, metricsPort: r.metricsPort }
  const stop = async (): Promise<void> => {
    ws.close()
    await stopProcess(r.proc)
  }
  let used = 0
  const before = sh.state.received
  const end = Date.now() + 10_000
  while (sh.state.received === before && used < 50 && Date.now() < end) {
    ws.send(encodeFrame(G, FRAME.PACKET, sh.warm.packets[used++]!))
    await sleep(200)
  }
  if (sh.state.received === before) {
    await stop()
    throw new Error('bench: the relay forwarded nothing to the sink')
  }
  await runStep(sh, {
    rate: WARM_RATE,
    ms: WARM_MS,
    target,
    batch: { packets: sh.warm.packets.slice(50), samples: new Map() }
  })
  return { target, proc: r.proc, port: r.port, metricsPort: r.metricsPort, stop }
}

/** Input α -> forwarded α of the last step's timed packets, for the wire timing. */
let lastInAlphas = new Map<string, string>()

interface StepOptions {
  rate: number
  ms: number
  target: Target
  batch: Batch
  sample?: boolean
  maxMs?: number
}

async function runStep(sh: Shared, o: StepOptions): Promise<Step> {
  const { ws } = o.target
  const st = sh.state
  const { packets, samples } = o.batch
  const total = Math.min(packets.length, Math.round((o.rate * o.ms) / 1000))
  // A timed packet arrives under its forwarded α, or under its own when echoed (the echo floor).
  const watched = new Map<number, [number, number]>()
  for (const [alpha, i] of samples)
    if (i < total) watched.set(i, [Buffer.from(alpha, 'hex').readUInt32BE(0), packets[i]!.readUInt32BE(2)])
  lastInAlphas = new Map(
    [...samples].filter(([, i]) => i < total).map(([out, i]) => [packets[i]!.subarray(2, 34).toString('hex'), out])
  )
  st.watch = new Set([...watched.values()].flat())
  st.arrivals.clear()
  const relayBase = o.target.metricsPort === undefined ? undefined : await relayCounters(o.target.metricsPort)
  const ticksBase = o.target.ticks?.()
  const before = st.received
  const sendTimes = new Map<number, number>()
  const queue: QueueSample[] = []
  let sent = 0
  let rss = 0
  let blocked = 0
  let loops = 0
  let sampling = false
  let nextSample = SAMPLE_MS
  st.bursts = []
  const start = performance.now()
  const sample = (relay?: RelayCounters): void => {
    const t = performance.now() - start
    queue.push({
      t,
      due: Math.min(total, Math.floor((t / 1000) * o.rate)),
      sent,
      buffered: ws.bufferedAmount / FRAME_WIRE,
      arrived: st.received - before,
      relay:
        relay === undefined || relayBase === undefined
          ? undefined
          : {
              received: relay.received - relayBase.received,
              sent: relay.sent - relayBase.sent,
              dropped: relay.dropped - relayBase.dropped
            }
    })
  }
  const maxMs = o.maxMs ?? o.ms * 3
  while (sent < total) {
    const now = performance.now() - start
    const due = Math.min(total, Math.floor((now / 1000) * o.rate))
    while (sent < due) {
      if (ws.bufferedAmount > 8 << 20) {
        blocked++
        break
      } // the relay is not keeping up
      ws.send(encodeFrame(G, FRAME.PACKET, packets[sent]!))
      if (watched.has(sent)) sendTimes.set(sent, performance.now())
      sent++
    }
    if (o.sample === true && now >= nextSample && !sampling) {
      nextSample += SAMPLE_MS
      if (o.target.metricsPort === undefined) sample()
      else {
        sampling = true
        void scrape(o.target.metricsPort).then(m => {
          sample(countersOf(m))
          sampling = false
        })
      }
    }
    if (now > maxMs) break
    if (++loops % 20 === 0) rss = Math.max(rss, rssMiB(o.target.pid))
    await sleep(1)
  }
  const lateMs = performance.now() - start - o.ms
  const end = Date.now() + DRAIN_MS
  while (st.received - before < sent && Date.now() < end) {
    await sleep(20)
    rss = Math.max(rss, rssMiB(o.target.pid))
  }
  await sleep(100)
  while (sampling) await sleep(10)
  const relayAfter = o.target.metricsPort === undefined ? undefined : await relayCounters(o.target.metricsPort)
  const drops =
    relayAfter === undefined || relayBase === undefined
      ? o.target.metricsPort === undefined
        ? 0
        : NaN
      : relayAfter.dropped - relayBase.dropped
  // The mean round (start to last frame handed to the sockets) of this step, from the relay's
  // histogram or the floor's tick stats.
  let roundMs = NaN
  if (relayAfter !== undefined && relayBase !== undefined && relayAfter.rounds > relayBase.rounds)
    roundMs = ((relayAfter.roundSec - relayBase.roundSec) / (relayAfter.rounds - relayBase.rounds)) * 1000
  const ticksAfter = o.target.ticks?.()
  if (ticksBase !== undefined && ticksAfter !== undefined && ticksAfter.count > ticksBase.count)
    roundMs = (ticksAfter.sumMs - ticksBase.sumMs) / (ticksAfter.count - ticksBase.count)
  const timed: Array<{ sent: number; arrived: number }> = []
  for (const [i, [out, own]] of watched) {
    const a = st.arrivals.get(out) ?? st.arrivals.get(own)
    const t = sendTimes.get(i)
    if (a !== undefined && t !== undefined) timed.push({ sent: t, arrived: a })
  }
  st.arrivals.clear()
  const lat = timed.map(x => x.arrived - x.sent)
  const starts =
    o.target.tickMs > 0 ? roundStarts(st.bursts, Number.isFinite(roundMs) ? roundMs : 0, o.target.tickMs) : null
  const { added, waits } = addedLatencies(timed, starts)
  const got = st.received - before
  return {
    rate: o.rate,
    ms: o.ms,
    total,
    sent,
    received: got,
    drops,
    blocked,
    lateMs,
    zeroLoss: got === total && sent === total && drops === 0 && blocked === 0,
    p50: pct(lat, 0.5),
    p99: pct(lat, 0.99),
    addedP50: pct(added, 0.5),
    addedP99: pct(added, 0.99),
    waitP50: pct(waits, 0.5),
    roundMs,
    timed: timed.length,
    rss,
    samples: queue
  }
}

const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '-')
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-')

interface Judged {
  step: Step
  verdict: Verdict
}

/** One sustained step: a fresh relay, warmed up, then `ms` at `rate` from the pool, sampled and judged. */
async function sustainedStep(sh: Shared, rate: number, ms: number, label: string, v?: RelayVariant): Promise<Judged> {
  const total = Math.round((rate * ms) / 1000)
  await sh.pool.ensure(total)
  const r = await startRelay(sh, v)
  try {
    const step = await runStep(sh, {
      rate,
      ms,
      target: r.target,
      batch: sh.pool.take(0, total),
      sample: true,
      maxMs: ms + 5000
    })
    const verdict = judge(
      {
        rate,
        ms,
        total,
        sent: step.sent,
        arrived: step.received,
        drops: Number.isFinite(step.drops) ? step.drops : 0,
        blocked: step.blocked,
        lateMs: step.lateMs,
        p99: step.p99,
        drainMs: DRAIN_MS,
        samples: step.samples
      },
      BOUNDS
    )
    if (!Number.isFinite(step.drops)) verdict.reasons.push("the relay's drop counter could not be read")
    const g = verdict.growth
    console.log(
      `  ${label} ${rate}/s for ${ms / 1000} s: sent ${step.sent}, arrived ${step.received}, relay drops ${step.drops}, latency p50 ${f2(step.p50)} p99 ${f2(step.p99)} ms, backlog ${g === undefined ? '-' : `${Math.round(g.first)} -> ${Math.round(g.last)} (${g.ms >= 0 ? '+' : ''}${g.ms.toFixed(1)} ms of traffic, limit ${g.limitMs.toFixed(1)})`}, RSS ${step.rss.toFixed(0)} MiB: ${verdict.sustained ? 'HOLDS' : `does not hold: ${verdict.reasons.join('; ')}`}`
    )
    return { step, verdict: { ...verdict, sustained: verdict.sustained && Number.isFinite(step.drops) } }
  } finally {
    await r.stop()
  }
}

export async function benchRelay(run = 0, _of = 1): Promise<BenchResult[]> {
  shared ??= init()
  const sh = await shared
  const { c, s } = sh
  checkBundle()
  // Baseline, same run: single-core unwrap rate of one forwarding hop.
  const sphinx = new Sphinx(c, G)
  const probe = sphinx.createPacket(
    [
      {
        id: Buffer.from(s.path[0]!.id, 'hex'),
        publicKey: Buffer.from(s.path[0]!.key, 'hex'),
        commands: [{ type: 'node_delay', delayMs: 0 }]
      },
      {
        id: Buffer.from(s.path[1]!.id, 'hex'),
        publicKey: Buffer.from(s.path[1]!.key, 'hex'),
        commands: [
          { type: 'node_delay', delayMs: 0 },
          { type: 'recipient', id: Buffer.alloc(32, 1) }
        ]
      }
    ],
    rand(c, G.userPayloadBytes),
    systemRng(c)
  )
  let n = 0
  const t0 = Date.now()
  while (Date.now() - t0 < 1000) {
    sphinx.unwrap(probe, { keys: [s.relay.mix.secretKey] })
    n++
  }
  const unwrapRate = n / ((Date.now() - t0) / 1000)
  console.log(`  single-core unwrap rate ${Math.round(unwrapRate)}/s`)

  // 1. Burst absorption: 2 s steps up the ladder on one relay.
  let main = await startRelay(sh)
  const bursts: Step[] = []
  let burst = 0
  for (const r of BURST_RATES) {
    const st = await runStep(sh, {
      rate: r,
      ms: BURST_MS,
      target: main.target,
      batch: await sh.builder.build(Math.round((r * BURST_MS) / 1000))
    })
    bursts.push(st)
    console.log(
      `  burst ${r}/s for ${BURST_MS / 1000} s: sent ${st.sent}, arrived ${st.received}, relay drops ${st.drops}, latency p50 ${f2(st.p50)} ms p99 ${f2(st.p99)} ms, RSS ${st.rss.toFixed(0)} MiB${st.zeroLoss ? '' : '  <- loss'}`
    )
    if (!st.zeroLoss) break
    burst = r
  }
  await main.stop()

  // 2. Sustained rate: ladder, then bisection; each step on a fresh relay. Variants marked
  // `sustained` are searched the same way in this run, first on odd runs so that neither side
  // always has the later (or the earlier) part of the run.
  const judged: Judged[] = []
  const search = async (): Promise<{ rate: number; bounded: boolean }> =>
    await searchRate(SUSTAINED_RATES, RESOLUTION, MAX_STEPS, async rate => {
      const j = await sustainedStep(sh, rate, STEP_MS, 'sustained')
      judged.push(j)
      return j.verdict.sustained
    })
  const variantRates: Array<{ v: RelayVariant; rate: number; steps: string }> = []
  const searchVariants = async (): Promise<void> => {
    for (const v of relayVariants().filter(x => x.sustained === true)) {
      const steps: string[] = []
      const got = await searchRate(SUSTAINED_RATES, RESOLUTION, MAX_STEPS, async rate => {
        const j = await sustainedStep(sh, rate, STEP_MS, `variant ${v.name} sustained`, v)
        steps.push(`${rate}/s ${j.verdict.sustained ? 'held' : 'failed'}`)
        return j.verdict.sustained
      })
      variantRates.push({ v, rate: got.rate, steps: steps.join(' | ') })
    }
  }
  if (run % 2 === 1) await searchVariants()
  const found = await search()
  if (run % 2 === 0) await searchVariants()

  // 3. Positive control: clearly over capacity, the growth test must flag it.
  const controlRate =
    process.env.SEALMIX_BENCH_CONTROL_RATE !== undefined
      ? num('SEALMIX_BENCH_CONTROL_RATE', 0)
      : Math.ceil((1.25 * Math.max(burst, found.rate, 1000)) / 500) * 500
  const control = await sustainedStep(sh, controlRate, CONTROL_MS, 'control')
  // Flagged for the right reason: the backlog grew on the relay's side of the load (its ws
  // buffer, the kernel, the relay, drops), or the relay's back-pressure held the load back; not
  // merely a load process too slow to keep its own schedule.
  const cg = control.verdict.growth
  const loadOwn = cg?.parts['load behind schedule']
  const relaySide = cg === undefined ? NaN : loadOwn === undefined ? cg.packets : cg.packets - (loadOwn[1] - loadOwn[0])
  const controlFlagged = cg?.growing === true && (relaySide > cg.limitPackets || control.step.blocked > 0)
  if (!controlFlagged)
    console.log(
      `  CONTROL NOT FLAGGED: the step at ${controlRate}/s showed no backlog growth on the relay's side; this run's sustained rate is invalid`
    )
  const sustained = controlFlagged ? found.rate : NaN
  const atSustained = judged.find(j => j.step.rate === found.rate && j.verdict.sustained)

  // 4. Half load, timed twice: by this process (send call to sink event) and, with
  // SEALMIX_BENCH_WIRE, on the wire (tcpdump's kernel timestamps of the frame entering the relay
  // and of the frame leaving it). Then the floors, the 3x overload and the recovery.
  main = await startRelay(sh)
  const relayTarget = main.target
  const halfRate =
    process.env.SEALMIX_BENCH_HALF_RATE !== undefined
      ? num('SEALMIX_BENCH_HALF_RATE', 0)
      : Math.round(Math.max(found.rate, 2000) / 2 / 100) * 100
  const capture =
    process.env.SEALMIX_BENCH_WIRE !== undefined ? new Capture(join(s.dir, 'half.pcap'), [main.port, s.sinkPort]) : null
  await capture?.start()
  const half = await runStep(sh, {
    rate: halfRate,
    ms: HALF_MS,
    target: relayTarget,
    batch: await sh.builder.build(Math.round((halfRate * HALF_MS) / 1000))
  })
  console.log(
    `  half load ${half.rate}/s for ${HALF_MS / 1000} s: latency p50 ${f2(half.p50)} ms p99 ${f2(half.p99)} ms; added (minus each packet's wait for the next round, median wait ${f2(half.waitP50)} ms, mean round ${f2(half.roundMs)} ms) p50 ${f2(half.addedP50)} ms p99 ${f2(half.addedP99)} ms${half.zeroLoss ? '' : '  <- loss'}`
  )
  const wire = capture === null ? [] : wireLatencies(await capture.stop(35), main.port, s.sinkPort, lastInAlphas)
  if (capture !== null)
    console.log(
      `  half load on the wire: ${wire.length} sampled packets, latency p50 ${f2(pct(wire, 0.5))} ms p99 ${f2(pct(wire, 0.99))} ms`
    )
  const floorKeys = {
    relayId: s.floor.id,
    relayIdentitySk: Buffer.from(s.floor.identity.secretKey).toString('hex'),
    relayMixSk: s.relay.mix.secretKey.toString('hex'),
    gwId: s.gw.id,
    gwIdentityPk: Buffer.from(s.gw.identity.publicKey).toString('hex'),
    sinkId: s.sink.id,
    sinkIdentityPk: Buffer.from(s.sink.identity.publicKey).toString('hex'),
    sinkAddress: `ws://127.0.0.1:${s.sinkPort}`
  }
  const contenders: Contender[] = [
    ...FLOORS.filter((_, i) => FLOOR_PICK.includes(i)).map(v => ({
      name: v.name,
      start: async () => {
        const port = await freePort()
        const f = await startFloor(v, { ...floorKeys, port })
        sh.live.add(f.proc)
        return {
          target: {
            ws: await connect(sh, port, s.floor.id, s.floor.identity.publicKey),
            pid: f.proc.pid!,
            tickMs: v.tickMs,
            ticks: f.ticks
          },
          stop: async () => {
            await stopProcess(f.proc, 1000)
            sh.live.delete(f.proc)
          }
        }
      }
    })),
    ...relayVariants().map(v => ({
      name: `variant ${v.name}`,
      start: async () => {
        const r = await startVariant(ROOT, s.config, v)
        sh.live.add(r.proc)
        return {
          target: {
            ws: await connect(sh, r.port, s.relay.id, s.relay.identity.publicKey),
            pid: r.proc.pid!,
            tickMs: INTERVAL_MS,
            metricsPort: r.metricsPort
          },
          stop: async () => {
            await stopProcess(r.proc)
            sh.live.delete(r.proc)
          }
        }
      }
    }))
  ]
  const floorRate = process.env.SEALMIX_BENCH_FLOOR_RATE !== undefined ? num('SEALMIX_BENCH_FLOOR_RATE', 0) : halfRate
  const floors = await compareFloors(sh, floorRate, contenders, relayTarget, FLOOR_ROUNDS, '')
  // At 2,000/s: the relay beside the two full-structure floors (by message and on rings), the
  // variants, and what the budget is up against on this machine: the same structure without its
  // synced write, and a bare echo (the load generator, the link and the sink, no relay).
  const full = new Set([FLOORS[0]!.name, RING_FLOOR.name, NO_SYNC_FLOOR.name, ECHO_FLOOR.name])
  const low = await compareFloors(
    sh,
    LOW_RATE,
    contenders.filter(v => full.has(v.name) || v.name.startsWith('variant ')),
    relayTarget,
    LOW_ROUNDS,
    `-at-${LOW_RATE}`
  )
  const overRate = Math.max(3 * Math.max(burst, found.rate), 6000)
  const over = await runStep(sh, {
    rate: overRate,
    ms: 1500,
    target: relayTarget,
    batch: await sh.builder.build(Math.round(overRate * 1.5))
  })
  const alive = main.proc.exitCode === null && main.proc.signalCode === null
  console.log(
    `  overload ${over.rate}/s for 1.5 s: sent ${over.sent}, arrived ${over.received}, relay drops ${over.drops}, RSS ${over.rss.toFixed(0)} MiB, relay ${alive ? 'alive' : 'DEAD'}`
  )
  await sleep(1000)
  const rec = alive
    ? await runStep(sh, { rate: 2000, ms: 2000, target: relayTarget, batch: await sh.builder.build(4000) })
    : undefined
  console.log(`  recovery 2000/s: ${rec?.zeroLoss === true ? 'zero loss' : 'LOSS'}`)
  if (process.env.SEALMIX_BENCH_SHOW_ROUNDS !== undefined) {
    const text = await new Promise<string>(resolve =>
      request({ host: '127.0.0.1', port: main.metricsPort, path: '/metrics' }, r => {
        let b = ''
        r.on('data', (d: Buffer) => {
          b += d.toString()
        })
        r.on('end', () => resolve(b))
      }).end()
    )
    console.log(
      text
        .split('\n')
        .filter(l =>
          /^sealmix_mix_round_duration_seconds_bucket|^sealmix_nodejs_eventloop_lag_p99|^sealmix_nodejs_gc_duration_seconds_(sum|count)/.test(
            l
          )
        )
        .join('\n')
    )
  }
  await main.stop()

  const peakRss = Math.max(...bursts.map(x => x.rss), ...judged.map(j => j.step.rss), control.step.rss, over.rss)
  // The load the relay carries: bursts without loss and sustained steps that held (not the
  // overloaded steps, where the bounded queues fill and freed buffers wait for a collection).
  const carriedRss = Math.max(
    ...bursts.filter(x => x.zeroLoss).map(x => x.rss),
    ...judged.filter(j => j.verdict.sustained).map(j => j.step.rss)
  )
  const steps = judged
    .map(j => `${j.step.rate}/s ${j.verdict.sustained ? 'held' : `failed (${j.verdict.reasons.join('; ')})`}`)
    .join(' | ')
  const lastBurst = bursts.find(b => b.rate === burst)
  const g = control.verdict.growth
  const controlNote = `control: ${controlRate}/s for ${CONTROL_MS / 1000} s ${controlFlagged ? 'flagged by the growth test' : 'NOT flagged by the growth test: run invalid'} (${control.verdict.reasons.join('; ') || 'judged sustainable'})`
  return [
    {
      name: 'relay/sustained-rate',
      unit: 'packets/s',
      value: sustained,
      floor: Math.round(unwrapRate),
      ratio: Math.round((sustained / unwrapRate) * 1000) / 1000,
      note: `highest rate whose ${STEP_MS / 1000} s step, on a fresh relay after a ${WARM_MS / 1000} s warm-up, had every packet arrive, no relay drop, the load on schedule, p99 latency under ${INTERVAL_MS + BOUNDS.p99BoundMs} ms and no backlog growth over ${BOUNDS.growthMs} ms of traffic from the first to the last third${found.bounded ? '' : ' (NOT bounded above: the highest rate tried held)'}; steps: ${steps}; ${controlNote}; floor = single-core unwrap rate in the same run; 1 relay process (${WORKERS} workers) + load + sink share the machine`
    },
    {
      name: 'relay/latency-p99-at-sustained-rate',
      unit: 'ms',
      value: round2(atSustained?.step.p99 ?? NaN),
      note:
        atSustained === undefined
          ? 'no rate held'
          : `at ${found.rate}/s for ${STEP_MS / 1000} s: p50 ${f2(atSustained.step.p50)} ms; added p50 ${f2(atSustained.step.addedP50)} ms, p99 ${f2(atSustained.step.addedP99)} ms`
    },
    {
      name: 'relay/sustained-control-growth',
      unit: 'ms',
      value: round2(g?.ms ?? NaN),
      floor: round2(g?.limitMs ?? NaN),
      ratio: round2((g?.ms ?? NaN) / (g?.limitMs ?? NaN)),
      note: `positive control: backlog growth from the first to the last third, in ms of traffic (floor = the limit; ratio > 1 = flagged); ${controlNote}${g === undefined || g.growing ? '' : `; ${describeGrowth(g)}`}`
    },
    {
      name: 'relay/burst-absorbed-rate',
      unit: 'packets/s',
      value: burst,
      floor: Math.round(unwrapRate),
      ratio: Math.round((burst / unwrapRate) * 1000) / 1000,
      note: `highest rate of a ${BURST_MS / 1000} s burst (ladder ${BURST_RATES.join(', ')} on one relay) whose every packet arrived within ${DRAIN_MS / 1000} s after it with no relay drop; the load's 8 MiB ws buffer, the relay's 8,192-packet unwrap queue and the kernel's buffers absorb part of a burst, so this is not a sustainable rate${lastBurst === undefined ? '' : `; latency at ${burst}/s p50 ${f1(lastBurst.p50)} ms, p99 ${f1(lastBurst.p99)} ms`}`
    },
    {
      name: 'relay/added-latency-p50-at-half-load',
      unit: 'ms',
      value: round2(half.addedP50),
      note: `latency minus each timed packet's wait for the next mixing round (round starts from the bursts at the sink less the relay's mean round of ${f2(half.roundMs)} ms; median wait ${f2(half.waitP50)} ms), at ${half.rate}/s for ${HALF_MS / 1000} s; latency p50 ${f2(half.p50)} ms`
    },
    {
      name: 'relay/added-latency-p99-at-half-load',
      unit: 'ms',
      value: round2(half.addedP99),
      note: `as the p50, at ${half.rate}/s; latency p99 ${f2(half.p99)} ms${capture === null ? '' : `; on the wire p50 ${f2(pct(wire, 0.5))} ms, p99 ${f2(pct(wire, 0.99))} ms`}`
    },
    ...floors,
    ...low,
    ...variantRates.map(x => ({
      name: `relay/sustained-rate-vs-variant-${slug(x.v.name)}`,
      unit: 'packets/s' as const,
      value: sustained,
      floor: x.rate,
      ratio: Math.round((sustained / x.rate) * 1000) / 1000,
      note: `the relay's sustained rate (value) beside variant ${x.v.name}'s (floor: ${x.v.rev !== undefined ? `the bundle of ${x.v.rev}` : (x.v.bundle ?? x.v.flags ?? '')}), searched the same way in the same run (${run % 2 === 1 ? 'variant first' : 'relay first'}); variant steps: ${x.steps}`
    })),
    {
      name: 'relay/peak-rss',
      unit: 'MiB',
      value: Math.round(peakRss),
      note: 'relay process VmRSS, highest over all steps (burst, sustained, control, overload)'
    },
    {
      name: 'relay/peak-rss-carried',
      unit: 'MiB',
      value: Math.round(carriedRss),
      note: 'relay process VmRSS, highest over the steps it carried: bursts without loss and sustained steps that held'
    },
    {
      name: 'relay/overload-3x',
      unit: 'packets/s',
      value: over.rate,
      note: `3x the higher of the burst-absorbed and sustained rates for 1.5 s: sent ${over.sent}, arrived ${over.received}, relay-counted drops ${over.drops}, relay ${alive ? 'stayed up' : 'died'}; recovery step ${rec?.zeroLoss === true ? 'zero loss' : 'lost packets'}`
    }
  ]
}

const FLOOR_ROUNDS = num('SEALMIX_BENCH_FLOOR_ROUNDS', 5)
/** Indices into FLOORS to run (default all), e.g. SEALMIX_BENCH_FLOORS=0,1,5 */
const FLOOR_PICK = (process.env.SEALMIX_BENCH_FLOORS ?? FLOORS.map((_, i) => i).join(',')).split(',').map(Number)
/** The floor with the relay's structure and hand-off: 2 workers on the same rings, 5 ms tick, synced write. */
const RING_FLOOR = FLOORS.find(f => f.ring === true && f.sync && f.workers === 2)!
const NO_SYNC_FLOOR = FLOORS.find(f => f.ring !== true && !f.sync && f.workers === 2)!
const ECHO_FLOOR = FLOORS.find(f => !f.unwrap)!
const LOW_RATE = num('SEALMIX_BENCH_LOW_RATE', 2000)
const LOW_ROUNDS = num('SEALMIX_BENCH_LOW_ROUNDS', FLOOR_ROUNDS)

const slug = (name: string): string => name.replace(/[^a-z0-9]+/gi, '-').replace(/-+$/, '')

/** Something compared with the relay at the same rate: a latency floor or a relay variant, started fresh each round. */
interface Contender {
  readonly name: string
  start: () => Promise<{ target: Target; stop: () => Promise<void> }>
}

/**
 * The relay's p99 added latency beside the latency floors (floor.ts) and any relay variants
 * (relay-variant.ts) at the same rate: rounds of one step each on the relay and on every
 * contender, interleaved so that they share the machine's noise; the median of each target's p99
 * over the rounds is reported. A contender gets a warm-up step first (the relay is warm). Added
 * latency is computed the same way for all: latency minus each packet's wait for the next
 * round of that target (no wait for one that forwards at once).
 *
 * Headline (`relay/added-latency-p99-vs-floor` + suffix): the relay over the floor of its own
 * structure, on the same rings (RING_FLOOR); beside it, the relay over the floor that hands over by
 * message (FLOORS[0], the relay's structure before its rings), so that either ratio can be compared
 * with earlier runs.
 */
async function compareFloors(
  sh: Shared,
  rate: number,
  contenders: Contender[],
  relay: Target,
  rounds: number,
  suffix: string
): Promise<BenchResult[]> {
  if (rounds <= 0) return []
  const p99s = new Map<string, number[]>([['relay', []], ...contenders.map(v => [v.name, []] as [string, number[]])])
  const stepOn = async (t: Target, ms: number): Promise<Step> =>
    await runStep(sh, { rate, ms, target: t, batch: await sh.builder.build(Math.round((rate * ms) / 1000)) })
  for (let r = 0; r < rounds; r++) {
    const st = await stepOn(relay, 2000)
    p99s.get('relay')!.push(st.addedP99)
    console.log(
      `  round ${r + 1} relay at ${rate}/s: p99 added ${f2(st.addedP99)} ms (latency p99 ${f2(st.p99)} ms)${st.zeroLoss ? '' : '  <- loss'}`
    )
    for (const v of contenders) {
      const f = await v.start()
      await stepOn(f.target, 1000)
      const fs = await stepOn(f.target, 2000)
      f.target.ws.close()
      await f.stop()
      p99s.get(v.name)!.push(fs.addedP99)
      console.log(
        `  round ${r + 1} ${v.name} at ${rate}/s: p99 added ${f2(fs.addedP99)} ms (latency p99 ${f2(fs.p99)} ms)${fs.zeroLoss ? '' : '  <- loss'}`
      )
    }
  }
  const med = (xs: number[]): number => round2(pct(xs, 0.5))
  const each = (name: string): string =>
    p99s
      .get(name)!
      .map(x => f1(x))
      .join(', ')
  const relayP99 = med(p99s.get('relay')!)
  const ratioTo = (floor: string, name: string, note: string): BenchResult[] => {
    if (!p99s.has(floor)) return []
    const f = med(p99s.get(floor)!)
    return [
      {
        name,
        unit: 'ms' as const,
        value: relayP99,
        floor: f,
        ratio: round2(relayP99 / f),
        note: `${note}; relay p99 added latency (value), median over ${rounds} interleaved rounds at ${rate}/s (each: ${each('relay')}), beside ${floor} (floor; each: ${each(floor)}; test/bench/floor-relay.ts, bundled) on the same machine`
      }
    ]
  }
  return [
    ...ratioTo(
      RING_FLOOR.name,
      `relay/added-latency-p99-vs-floor${suffix}`,
      'headline: the floor of the same structure and rings'
    ),
    ...ratioTo(
      FLOORS[0]!.name,
      `relay/added-latency-p99-vs-message-floor${suffix}`,
      'the floor that hands over by message, as the relay did before its rings'
    ),
    ...(suffix === ''
      ? []
      : [
          {
            name: `relay/added-latency-p99${suffix}`,
            unit: 'ms' as const,
            value: relayP99,
            note: `relay p99 added latency, median over ${rounds} interleaved rounds at ${rate}/s (each: ${each('relay')})`
          }
        ]),
    ...contenders.map(v => ({
      name: `relay/${slug(v.name)}-p99${suffix}`,
      unit: 'ms' as const,
      value: med(p99s.get(v.name)!),
      note: `p99 added latency (beyond each packet's wait for the next tick), median over ${rounds} rounds at ${rate}/s (each: ${each(v.name)})`
    }))
  ]
}

/** Per sampled packet: wire time from its frame reaching the relay's port to its forwarded frame reaching the sink's (ms). */
function wireLatencies(
  frames: WireFrame[],
  relayPort: number,
  sinkPort: number,
  inToOut: Map<string, string>
): number[] {
  const inAt = new Map<string, number>()
  const outAt = new Map<string, number>()
  for (const f of frames) {
    if (f.head[0] !== FRAME.PACKET || f.head.length < 35) continue
    const alpha = f.head.subarray(3, 35).toString('hex')
    if (f.dport === relayPort && inToOut.has(alpha)) inAt.set(inToOut.get(alpha)!, f.t)
    if (f.dport === sinkPort) outAt.set(alpha, f.t)
  }
  const out: number[] = []
  for (const [alpha, t] of inAt) {
    const u = outAt.get(alpha)
    if (u !== undefined) out.push((u - t) * 1000)
  }
  return out
}

function round2(x: number): number {
  return Math.round(x * 100) / 100
}
async function sleep(ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/**
 * Relay step test (issue 3): one relay process (a layer-1 mix with 2 unwrap workers) is fed
 * pre-built packets over an authenticated ws link by this load process, which also runs the sink
 * (the next layer's relay, counting). The offered load steps up; a step has zero loss when every
 * packet sent arrives at the sink and the relay counted no drop. Reported beside the single-core
 * unwrap rate measured in the same run, with added latency at half the zero-loss rate, peak RSS,
 * and a 3x overload followed by a recovery step. Everything runs on this machine's 2 cores.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import WebSocket from 'ws'
import { ensureKeys, freePort, loadKeys, type RelayKeys } from '../../daemon/index.ts'
import { FrameReader } from '../../daemon/transport/frame-reader.ts'
import { dialHandshake } from '../../daemon/transport/handshake.ts'
import { Listener } from '../../daemon/transport/server.ts'
import { encodeFrame, FRAME, geometryHash, loadCrypto, NETWORK_GEOMETRY as G, parseFrame, relayId, signDocument, Sphinx, systemRng, type CryptoSuite, type RelayDescriptor } from '../../mix/index.ts'
import type { BenchResult } from './harness.ts'
import { Capture, type WireFrame } from './pcap-frames.ts'
import { FLOORS, startFloor } from './floor.ts'
import { relayVariants, scrapeDrops, spawnRelay, startVariant, waitReady } from './relay-variant.ts'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const INTERVAL_MS = 5
const STEP_MS = 2000
// Knobs for exploring (bench code only): SEALMIX_BENCH_RATES=6000,8000 SEALMIX_BENCH_WORKERS=1
// SEALMIX_BENCH_RELAY_CPUS=1 SEALMIX_BENCH_NODE_FLAGS='--trace-gc' SEALMIX_BENCH_RELAY_STDOUT=file
// SEALMIX_BENCH_WIRE=1 (also time the half-load step on the wire with tcpdump)
// SEALMIX_BENCH_FLOOR_ROUNDS=3 (0: skip the latency floors) SEALMIX_BENCH_FLOOR_RATE=5000 (default: half load)
// SEALMIX_BENCH_FLOORS=0,4 (which floors) SEALMIX_BENCH_BUNDLE=dist/other.mjs (the relay under test) SEALMIX_BENCH_RELAY_VARIANTS='[{"name":"x","flags":"...","bundle":"..."}]'
const RATES = (process.env.SEALMIX_BENCH_RATES ?? '2000,4000,6000,8000,10000,12000,14000,16000').split(',').map(Number)
const WORKERS = Number(process.env.SEALMIX_BENCH_WORKERS ?? 2)


function rssMiB (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? 0 : Number(m[1]) / 1024
}

function pct (xs: number[], p: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!
}

interface Setup { dir: string, relay: RelayKeys, floor: { id: string, identity: { publicKey: Uint8Array, secretKey: Uint8Array } }, gw: { id: string, identity: { publicKey: Uint8Array, secretKey: Uint8Array } }, sink: { id: string, identity: { publicKey: Uint8Array, secretKey: Uint8Array } }, port: number, sinkPort: number, metricsPort: number, config: string, path: Array<{ id: string, key: string }> }

async function setup (c: CryptoSuite): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'sealmix-bench-relay-'))
  ensureKeys(c, join(dir, 'relay'))
  const relay = loadKeys(c, join(dir, 'relay'))
  const mk = (): { id: string, identity: { publicKey: Uint8Array, secretKey: Uint8Array }, mix: Buffer } => {
    const identity = c.signSeedKeypair(rand(c, 32)); const mix = Buffer.alloc(32); c.x25519Base(mix, rand(c, 32))
    return { id: relayId(c, identity.publicKey), identity, mix }
  }
  const gw = mk(); const sink = mk(); const m3 = mk(); const gwB = mk(); const floor = mk()
  const sinkSk = rand(c, 32); const sinkPk = Buffer.alloc(32); c.x25519Base(sinkPk, sinkSk)
  const signer = c.signSeedKeypair(rand(c, 32))
  const [port, sinkPort, metricsPort] = [await freePort(), await freePort(), await freePort()]
  const d = (id: string, role: 'gateway' | 'mix', layer: number, address: string, identityKey: Uint8Array, mixKey: Buffer): RelayDescriptor => ({ id, role, layer, address, identityKey: Buffer.from(identityKey).toString('hex'), mixKey: mixKey.toString('hex') })
  const doc = {
    version: 1, network: 'bench', epoch: 0, validFromMs: Date.now() - 60_000, validUntilMs: Date.now() + 3600_000,
    geometry: { hops: G.hops, userPayloadBytes: G.userPayloadBytes, hash: geometryHash(c, G).toString('hex') },
    mixing: { strategy: 'batch' as const, intervalMs: INTERVAL_MS, minPool: 0, flushFraction: 1, minBatch: 0, maxDelayMs: 1000, loopRatePerSec: 0 },
    relays: [d(gw.id, 'gateway', 0, 'ws://127.0.0.1:1', gw.identity.publicKey, gw.mix), d(relay.id, 'mix', 1, `ws://127.0.0.1:${port}`, relay.identity.publicKey, relay.mix.publicKey),
      d(sink.id, 'mix', 2, `ws://127.0.0.1:${sinkPort}`, sink.identity.publicKey, sinkPk), d(m3.id, 'mix', 3, 'ws://127.0.0.1:1', m3.identity.publicKey, m3.mix), d(gwB.id, 'gateway', 0, 'ws://127.0.0.1:2', gwB.identity.publicKey, gwB.mix)],
    ingresses: []
  }
  writeFileSync(join(dir, 'network.json'), JSON.stringify(signDocument(c, doc, [signer])))
  const config = join(dir, 'relay.json')
  writeFileSync(config, JSON.stringify({ role: 'mix', dataDir: join(dir, 'relay'), listen: { host: '127.0.0.1', port }, network: { file: join(dir, 'network.json'), signers: [Buffer.from(signer.publicKey).toString('hex')] }, metrics: { port: metricsPort }, limits: { workers: WORKERS }, replay: { capacity: 2_000_000 }, log: { level: 'warn' } }))
  return { dir, relay, floor: { id: floor.id, identity: floor.identity }, gw, sink, port, sinkPort, metricsPort, config, path: [{ id: relay.id, key: relay.mix.publicKey.toString('hex') }, { id: sink.id, key: sinkPk.toString('hex') }] }
}

function rand (c: CryptoSuite, n: number): Buffer { const b = Buffer.alloc(n); c.randomFill(b); return b }

class Builder {
  readonly #workers = [0, 1].map(() => new Worker(new URL('./build-worker-entry.mjs', import.meta.url)))
  #next = 0
  constructor (private readonly s: Setup) {}
  async build (count: number): Promise<{ packets: Buffer[], samples: Map<string, number> }> {
    const half = Math.ceil(count / 2)
    const parts = await Promise.all(this.#workers.map(async (w, k) => await new Promise<{ out: ArrayBuffer, samples: Array<[number, string]> }>(resolve => {
      w.once('message', resolve)
      w.postMessage({ count: k === 0 ? half : count - half, path: this.s.path, relaySk: this.s.relay.mix.secretKey.toString('hex'), sampleEvery: 10, first: this.#next + k * half })
    })))
    const packets: Buffer[] = []
    const samples = new Map<string, number>()
    for (const p of parts) {
      const b = Buffer.from(p.out)
      for (let i = 0; i < b.length / G.packetBytes; i++) packets.push(b.subarray(i * G.packetBytes, (i + 1) * G.packetBytes))
      for (const [n, a] of p.samples) samples.set(a, n - this.#next)
    }
    this.#next += count
    return { packets, samples }
  }
  async close (): Promise<void> { await Promise.all(this.#workers.map(async w => await w.terminate())) }
}

interface Target { ws: WebSocket, pid: number, drops: () => Promise<number> }
interface Step { rate: number, sent: number, received: number, drops: number, zeroLoss: boolean, p50: number, p99: number, rss: number }

export async function benchRelay (): Promise<BenchResult[]> {
  const c = await loadCrypto('sodium-native')
  const s = await setup(c)
  // Baseline, same run: single-core unwrap rate of one forwarding hop.
  const sphinx = new Sphinx(c, G)
  const probe = sphinx.createPacket([{ id: Buffer.from(s.path[0]!.id, 'hex'), publicKey: Buffer.from(s.path[0]!.key, 'hex'), commands: [{ type: 'node_delay', delayMs: 0 }] }, { id: Buffer.from(s.path[1]!.id, 'hex'), publicKey: Buffer.from(s.path[1]!.key, 'hex'), commands: [{ type: 'node_delay', delayMs: 0 }, { type: 'recipient', id: Buffer.alloc(32, 1) }] }], rand(c, G.userPayloadBytes), systemRng(c))
  let n = 0; const t0 = Date.now()
  while (Date.now() - t0 < 1000) { sphinx.unwrap(probe, { keys: [s.relay.mix.secretKey] }); n++ }
  const unwrapRate = n / ((Date.now() - t0) / 1000)

  // Sink: the next layer's relay, counting packets and timing the sampled ones.
  let received = 0
  // Arrival times of sampled packets only, keyed by the first 4 bytes of α (no string per packet:
  // the load process's own work is part of every figure this bench reports).
  const arrivals = new Map<number, number>()
  let watch = new Set<number>()
  const sink = new Listener({
    crypto: c, geometry: G, identity: { id: Buffer.from(s.sink.id, 'hex'), secretKey: s.sink.identity.secretKey }, host: '127.0.0.1', port: s.sinkPort,
    maxConnections: 16, maxConnectionsPerIp: 16, reservedPeerSlots: 4, maxBufferedBytes: 1 << 24, handshakeTimeoutMs: 5000, pingIntervalMs: 60_000,
    kinds: new Set(['relay']), keyOf: (_k, id) => id === s.relay.id ? s.relay.identity.publicKey : id === s.floor.id ? s.floor.identity.publicKey : undefined,
    onOpen: () => {}, onClose: () => {}, onHandshakeFailed: () => {},
    onMessage: (_c, m) => { const f = parseFrame(G, m.data); if (f?.kind === FRAME.PACKET) { received++; const k = f.body.readUInt32BE(2); if (watch.has(k)) arrivals.set(k, performance.now()) } }
  })
  await sink.start()
  const proc = spawnRelay(ROOT, s.config, { flags: process.env.SEALMIX_BENCH_NODE_FLAGS, cpus: process.env.SEALMIX_BENCH_RELAY_CPUS, stdout: process.env.SEALMIX_BENCH_RELAY_STDOUT === undefined ? 'ignore' : openSync(process.env.SEALMIX_BENCH_RELAY_STDOUT, 'w') })
  const killRelay = (): void => { if (proc.exitCode === null) proc.kill('SIGKILL') }
  process.once('exit', killRelay)
  await waitReady(s.metricsPort)
  const connect = async (port: number, id: string, key: Uint8Array): Promise<WebSocket> => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/relay`, { perMessageDeflate: false })
    const reader = new FrameReader(ws)
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject) })
    if (!await dialHandshake(c, G, ws, reader, { id: Buffer.from(s.gw.id, 'hex'), secretKey: s.gw.identity.secretKey }, 'relay', Buffer.from(id, 'hex'), key, 5000)) throw new Error('bench: handshake failed')
    return ws
  }
  const relayTarget: Target = { ws: await connect(s.port, s.relay.id, s.relay.identity.publicKey), pid: proc.pid!, drops: async () => await scrapeDrops(s.metricsPort) }
  const ws = relayTarget.ws
  const builder = new Builder(s)
  for (const _ of [0]) { const start = Date.now(); while (Date.now() - start < 3000 && received === 0) { ws.send(encodeFrame(G, FRAME.PACKET, (await builder.build(2)).packets[0]!)); await sleep(200) } }

  let lastInAlphas = new Map<string, string>()
  async function step (rate: number, ms = STEP_MS, target = relayTarget): Promise<Step> {
    const { ws } = target
    const total = Math.round(rate * ms / 1000)
    const { packets, samples } = await builder.build(total)
    // Input alpha -> output alpha of the sampled packets, for the wire timing.
    lastInAlphas = new Map([...samples].map(([out, i]) => [packets[i]!.subarray(2, 34).toString('hex'), out]))
    const sendTimes = new Map<number, number>()
    // A sampled packet arrives under its forwarded α, or under its own when echoed (the echo floor).
    const watched = new Map<number, number[]>() // packet index -> α keys it may arrive under
    for (const [alpha, i] of samples) watched.set(i, [Buffer.from(alpha, 'hex').readUInt32BE(0), packets[i]!.readUInt32BE(2)])
    watch = new Set([...watched.values()].flat())
    const before = received
    const dropsBefore = await target.drops()
    let sent = 0; let rss = 0; let blocked = 0; let ticks = 0
    const start = performance.now()
    while (sent < total) {
      const due = Math.min(total, Math.floor((performance.now() - start) / 1000 * rate))
      while (sent < due) {
        if (ws.bufferedAmount > 8 << 20) { blocked++; break } // the relay is not keeping up
        ws.send(encodeFrame(G, FRAME.PACKET, packets[sent]!))
        if (watched.has(sent)) sendTimes.set(sent, performance.now())
        sent++
      }
      if (performance.now() - start > ms * 3) break
      if (++ticks % 20 === 0) rss = Math.max(rss, rssMiB(target.pid))
      await sleep(1)
    }
    const end = Date.now() + 3000
    while (received - before < sent && Date.now() < end) { await sleep(20); rss = Math.max(rss, rssMiB(target.pid)) }
    await sleep(100)
    const drops = await target.drops() - dropsBefore
    const lat: number[] = []
    for (const [i, [out, own]] of watched) { const a = arrivals.get(out!) ?? arrivals.get(own!); const t = sendTimes.get(i); if (a !== undefined && t !== undefined) lat.push(a - t) }
    arrivals.clear()
    const got = received - before
    return { rate, sent, received: got, drops, zeroLoss: got === total && sent === total && drops === 0 && blocked === 0, p50: pct(lat, 0.5), p99: pct(lat, 0.99), rss }
  }

  const steps: Step[] = []
  let best = 0
  for (const r of RATES) {
    const st = await step(r)
    steps.push(st)
    console.log(`  offered ${r}/s: sent ${st.sent}, arrived ${st.received}, relay drops ${st.drops}, latency p50 ${st.p50.toFixed(2)} ms p99 ${st.p99.toFixed(2)} ms, RSS ${st.rss.toFixed(0)} MiB${st.zeroLoss ? '' : '  <- loss'}`)
    if (!st.zeroLoss) break
    best = r
  }
  // Half load, timed twice: by this process (send call to sink event) and on the wire (tcpdump's
  // kernel timestamps of the frame entering the relay and of the frame leaving it).
  const capture = process.env.SEALMIX_BENCH_WIRE !== undefined ? new Capture(join(s.dir, 'half.pcap'), [s.port, s.sinkPort]) : null
  await capture?.start()
  const half = best > 0 ? await step(Math.round(best / 2)) : undefined
  if (half !== undefined) console.log(`  half load ${half.rate}/s: latency p50 ${half.p50.toFixed(2)} ms p99 ${half.p99.toFixed(2)} ms (mixing interval ${INTERVAL_MS} ms)`)
  const wire = capture === null ? [] : wireLatencies(await capture.stop(35), s.port, s.sinkPort, lastInAlphas)
  if (capture !== null) console.log(`  half load on the wire: ${wire.length} sampled packets, latency p50 ${pct(wire, 0.5).toFixed(2)} ms p99 ${pct(wire, 0.99).toFixed(2)} ms`)
  const floorKeys = { relayId: s.floor.id, relayIdentitySk: Buffer.from(s.floor.identity.secretKey).toString('hex'), relayMixSk: s.relay.mix.secretKey.toString('hex'), gwId: s.gw.id, gwIdentityPk: Buffer.from(s.gw.identity.publicKey).toString('hex'), sinkId: s.sink.id, sinkIdentityPk: Buffer.from(s.sink.identity.publicKey).toString('hex'), sinkAddress: `ws://127.0.0.1:${s.sinkPort}` }
  const contenders: Contender[] = [
    ...FLOORS.filter((_, i) => FLOOR_PICK.includes(i)).map(v => ({ name: v.name, tickMs: v.tickMs, start: async () => {
      const port = await freePort()
      const p = await startFloor(v, { ...floorKeys, port })
      return { target: { ws: await connect(port, s.floor.id, s.floor.identity.publicKey), pid: p.pid!, drops: async () => 0 }, stop: () => { p.kill('SIGKILL') } }
    } })),
    ...relayVariants().map(v => ({ name: `variant ${v.name}`, tickMs: INTERVAL_MS, start: async () => {
      const r = await startVariant(ROOT, s.config, v)
      return { target: { ws: await connect(r.port, s.relay.id, s.relay.identity.publicKey), pid: r.proc.pid!, drops: async () => await scrapeDrops(r.metricsPort) }, stop: () => { r.proc.kill('SIGKILL') } }
    } }))
  ]
  const floors = half === undefined ? [] : await compareFloors(Number(process.env.SEALMIX_BENCH_FLOOR_RATE ?? half.rate), step, contenders, relayTarget)
  const over = await step(Math.max(3 * best, 6000), 1500)
  const alive = proc.exitCode === null
  console.log(`  overload ${over.rate}/s: sent ${over.sent}, arrived ${over.received}, relay drops ${over.drops}, RSS ${over.rss.toFixed(0)} MiB, relay ${alive ? 'alive' : 'DEAD'}`)
  await sleep(1000)
  const rec = alive ? await step(2000) : undefined
  console.log(`  recovery 2000/s: ${rec?.zeroLoss === true ? 'zero loss' : 'LOSS'}`)

  if (process.env.SEALMIX_BENCH_SHOW_ROUNDS !== undefined) {
    const text = await new Promise<string>(resolve => request({ host: '127.0.0.1', port: s.metricsPort, path: '/metrics' }, r => { let b = ''; r.on('data', (d: Buffer) => { b += d.toString() }); r.on('end', () => resolve(b)) }).end())
    console.log(text.split('\n').filter(l => /^sealmix_mix_round_duration_seconds_bucket|^sealmix_nodejs_eventloop_lag_p99|^sealmix_nodejs_gc_duration_seconds_(sum|count)/.test(l)).join('\n'))
  }
  ws.close(); await builder.close(); proc.kill('SIGTERM'); await new Promise(resolve => proc.once('exit', resolve)); await sink.close()
  rmSync(s.dir, { recursive: true, force: true })
  const peakRss = Math.max(...steps.map(x => x.rss), over.rss)
  return [
    { name: 'relay/zero-loss-rate', unit: 'packets/s', value: best, floor: Math.round(unwrapRate), ratio: Math.round(best / unwrapRate * 1000) / 1000, note: `highest offered rate (steps of ${STEP_MS} ms) with every packet arriving and no relay drop; floor = single-core unwrap rate in the same run; 1 relay process (2 workers) + load + sink on 2 cores` },
    { name: 'relay/added-latency-p50-at-half-load', unit: 'ms', value: round2((half?.p50 ?? NaN) - INTERVAL_MS), note: `latency minus the ${INTERVAL_MS} ms mixing interval, at ${half?.rate ?? 0}/s` },
    { name: 'relay/added-latency-p99-at-half-load', unit: 'ms', value: round2((half?.p99 ?? NaN) - INTERVAL_MS), note: `latency minus the ${INTERVAL_MS} ms mixing interval, at ${half?.rate ?? 0}/s` },
    ...floors,
    { name: 'relay/peak-rss', unit: 'MiB', value: Math.round(peakRss), note: 'relay process VmRSS, all steps including overload' },
    { name: 'relay/overload-3x', unit: 'packets/s', value: over.rate, note: `sent ${over.sent}, arrived ${over.received}, relay-counted drops ${over.drops}, relay ${alive ? 'stayed up' : 'died'}; recovery step ${rec?.zeroLoss === true ? 'zero loss' : 'lost packets'}` }
  ]
}

const FLOOR_ROUNDS = Number(process.env.SEALMIX_BENCH_FLOOR_ROUNDS ?? 3)
/** Indices into FLOORS to run (default all), e.g. SEALMIX_BENCH_FLOORS=0,4 */
const FLOOR_PICK = (process.env.SEALMIX_BENCH_FLOORS ?? FLOORS.map((_, i) => i).join(',')).split(',').map(Number)

/** Something compared with the relay at the same rate: a latency floor or a relay variant, started fresh each round. */
interface Contender { readonly name: string, readonly tickMs: number, start: () => Promise<{ target: Target, stop: () => void }> }

/**
 * The relay's p99 added latency beside the latency floors (floor.ts) and any relay variants
 * (relay-variant.ts) at the same rate: rounds of one step each on the relay and on every
 * contender, interleaved so that they share the machine's noise; the median of each target's p99
 * over the rounds is reported. A contender gets a warm-up step first (the relay is warm).
 */
async function compareFloors (rate: number, step: (rate: number, ms: number, t: Target) => Promise<Step>, contenders: Contender[], relay: Target): Promise<BenchResult[]> {
  if (FLOOR_ROUNDS <= 0) return []
  const p99s = new Map<string, number[]>([['relay', []], ...contenders.map(v => [v.name, []] as [string, number[]])])
  for (let r = 0; r < FLOOR_ROUNDS; r++) {
    const st = await step(rate, STEP_MS, relay)
    p99s.get('relay')!.push(st.p99 - INTERVAL_MS)
    console.log(`  round ${r + 1} relay at ${rate}/s: p99 added ${(st.p99 - INTERVAL_MS).toFixed(2)} ms${st.zeroLoss ? '' : '  <- loss'}`)
    for (const v of contenders) {
      const f = await v.start()
      await step(rate, STEP_MS / 2, f.target)
      const fs = await step(rate, STEP_MS, f.target)
      f.target.ws.close(); f.stop()
      p99s.get(v.name)!.push(fs.p99 - v.tickMs)
      console.log(`  round ${r + 1} ${v.name}: p99 added ${(fs.p99 - v.tickMs).toFixed(2)} ms${fs.zeroLoss ? '' : '  <- loss'}`)
    }
  }
  const med = (xs: number[]): number => round2(pct(xs, 0.5))
  const relayP99 = med(p99s.get('relay')!)
  const full = contenders.find(v => v.name === FLOORS[0]!.name)
  return [
    ...(full === undefined ? [] : [{ name: 'relay/added-latency-p99-vs-floor', unit: 'ms' as const, value: relayP99, floor: med(p99s.get(full.name)!), ratio: round2(relayP99 / med(p99s.get(full.name)!)), note: `median over ${FLOOR_ROUNDS} interleaved rounds at ${rate}/s; floor = ${full.name} (test/bench/floor-relay.ts) on the same machine` }]),
    ...contenders.map(v => ({ name: `relay/${v.name.replace(/[^a-z0-9]+/gi, '-').replace(/-+$/, '')}-p99`, unit: 'ms' as const, value: med(p99s.get(v.name)!), note: `p99 latency beyond the ${v.tickMs} ms tick, median over ${FLOOR_ROUNDS} rounds at ${rate}/s (each: ${p99s.get(v.name)!.map(x => x.toFixed(1)).join(', ')})` }))
  ]
}

/** Per sampled packet: wire time from its frame reaching the relay's port to its forwarded frame reaching the sink's (ms). */
function wireLatencies (frames: WireFrame[], relayPort: number, sinkPort: number, inToOut: Map<string, string>): number[] {
  const inAt = new Map<string, number>()
  const outAt = new Map<string, number>()
  for (const f of frames) {
    if (f.head[0] !== FRAME.PACKET || f.head.length < 35) continue
    const alpha = f.head.subarray(3, 35).toString('hex')
    if (f.dport === relayPort && inToOut.has(alpha)) inAt.set(inToOut.get(alpha)!, f.t)
    if (f.dport === sinkPort) outAt.set(alpha, f.t)
  }
  const out: number[] = []
  for (const [alpha, t] of inAt) { const u = outAt.get(alpha); if (u !== undefined) out.push((u - t) * 1000) }
  return out
}

function round2 (x: number): number { return Math.round(x * 100) / 100 }
async function sleep (ms: number): Promise<void> { await new Promise(resolve => setTimeout(resolve, ms)) }

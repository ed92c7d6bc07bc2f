/**
 * Latency floor for the relay bench (not a relay): the fewest steps the relay's mandated structure
 * needs, with none of its bookkeeping. Accepts the bench's authenticated link, unwraps each packet
 * (inline, or on N worker threads in batches as the relay does), and forwards it to the sink
 * (immediately, or at the next tick of a fixed interval, optionally after one synced LevelDB write
 * of that tick's tags); or, with `unwrap: false`, echoes each packet unchanged. No replay filter,
 * pool, padding, metrics or logs. Its hand-off to the workers is written out here on purpose (not
 * the relay's UnwrapPool) so that none of the relay's per-packet bookkeeping is in the floor: by
 * message, a batch per turn of the event loop (as the relay did before its rings), or, with
 * `ring`, through the relay's shared-memory rings (daemon/relay/unwrap/ring.ts: the same ring,
 * capacity, choice of worker and wake-ups) with a plain FIFO queue in front instead of the fair one.
 *
 *   node dist/bench/floor-relay.mjs SPEC.json   (floor.ts bundles it and its worker with esbuild,
 *                                                 as `npm run build` bundles the relay)
 * SPEC: FloorSpec below (ports, keys of the bench's three parties, the variant, the worker's file).
 * With a tick, it prints `ticks COUNT SUM_MS` every 100 ms: ticks so far and their summed
 * duration (tick start to last frame handed to the socket), as the relay's round histogram does.
 */
import { readFileSync } from 'node:fs'
import { Worker } from 'node:worker_threads'
import { Level } from 'level'
import { OutLink } from '../../daemon/io/link.ts'
import { Listener } from '../../daemon/relay/listener/server.ts'
import { pick, ResultBell, RING_SLOTS, Ring } from '../../daemon/relay/unwrap/ring.ts'
import { encodeFrame, FRAME, NETWORK_GEOMETRY as G, loadCrypto, parseFrame, Sphinx } from '../../mix/index.ts'

export interface FloorSpec {
  port: number
  dataDir: string
  workers: number
  tickMs: number
  sync: boolean
  unwrap: boolean
  /** Hand packets to the workers through the relay's rings rather than by message. */
  ring: boolean
  /** The unwrap worker's script (the bundled floor-worker.ts). */
  worker: string
  relayIdentitySk: string
  relayId: string
  gwId: string
  gwIdentityPk: string
  relayMixSk: string
  sinkId: string
  sinkIdentityPk: string
  sinkAddress: string
}

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as FloorSpec
const c = await loadCrypto('sodium-native')
const sphinx = new Sphinx(c, G)
const mixSk = Buffer.from(spec.relayMixSk, 'hex')
const identity = { id: Buffer.from(spec.relayId, 'hex'), secretKey: Buffer.from(spec.relayIdentitySk, 'hex') }
const db = spec.sync
  ? new Level<Uint8Array, Uint8Array>(spec.dataDir, { keyEncoding: 'view', valueEncoding: 'view' })
  : null
await db?.open()

const out = new OutLink({
  crypto: c,
  geometry: G,
  identity,
  role: 'relay',
  peerId: spec.sinkId,
  peerKey: Buffer.from(spec.sinkIdentityPk, 'hex'),
  address: spec.sinkAddress,
  maxBufferedBytes: 1 << 24,
  handshakeTimeoutMs: 5000,
  pingIntervalMs: 60_000,
  minRetryMs: 200
})
out.start()

let staged: Buffer[] = []
let tags: Buffer[] = []
function forward(packet: Buffer, tag: Buffer): void {
  if (spec.tickMs === 0) {
    out.send(encodeFrame(G, FRAME.PACKET, packet))
    return
  }
  staged.push(packet)
  tags.push(tag)
}
let ticks = 0
let tickSumMs = 0
if (spec.tickMs > 0) {
  const tick = async (): Promise<void> => {
    const started = performance.now()
    const p = staged
    const t = tags
    staged = []
    tags = []
    if (db !== null && t.length > 0) await db.put(t[0]!, Buffer.concat(t), { sync: true })
    for (const x of p) out.send(encodeFrame(G, FRAME.PACKET, x))
    ticks++
    tickSumMs += performance.now() - started
    setTimeout(
      () => {
        void tick()
      },
      Math.max(0, spec.tickMs - (performance.now() - started))
    )
  }
  setTimeout(() => {
    void tick()
  }, spec.tickMs)
  setInterval(() => {
    process.stdout.write(`ticks ${ticks} ${tickSumMs.toFixed(3)}\n`)
  }, 100)
}

const P = G.packetBytes
/** Ring mode: a slot holds the packet (then the forwarded packet), its tag at P and a forward flag at P + 32. */
const SLOT_BYTES = Math.ceil((P + 33) / 64) * 64
const rings = spec.ring ? Array.from({ length: spec.workers }, () => Ring.create(RING_SLOTS, SLOT_BYTES)) : []
const bell = new ResultBell()
const workers = Array.from(
  { length: spec.workers },
  (_, i) =>
    new Worker(spec.worker, {
      workerData: { mixSk: spec.relayMixSk, ...(spec.ring ? { ring: rings[i]!.shared, bell: bell.shared } : {}) }
    })
)
for (const w of workers) {
  w.on('message', (m: { out: ArrayBuffer; tags: ArrayBuffer; ok: number[] }) => {
    const o = Buffer.from(m.out)
    const t = Buffer.from(m.tags)
    m.ok.forEach((ok, i) => {
      if (ok === 1) forward(o.subarray(i * P, (i + 1) * P), t.subarray(i * 32, (i + 1) * 32))
    })
  })
}
const queue: Buffer[] = []
let next = 0
let scheduled = false
function flush(): void {
  scheduled = false
  if (spec.ring) {
    const written = rings.map(() => 0)
    let k = 0
    for (; k < queue.length; k++) {
      const i = pick(rings, written)
      if (i < 0) break
      queue[k]!.copy(rings[i]!.slot((rings[i]!.tail + written[i]!) | 0), 0)
      written[i]!++
    }
    queue.splice(0, k)
    written.forEach((n, i) => {
      if (n > 0) rings[i]!.publish(n)
    })
    return
  }
  while (queue.length > 0) {
    const batch = queue.splice(0, 64)
    const data = Buffer.alloc(batch.length * P)
    batch.forEach((b, i) => {
      b.copy(data, i * P)
    })
    workers[next++ % workers.length]!.postMessage({ count: batch.length, data: data.buffer }, [data.buffer])
  }
}
/** Ring mode: read every result (copied out: the slot is reused), free the slots, refill, forward. */
function collect(): void {
  const got: Array<[Buffer, Buffer]> = []
  for (const r of rings) {
    const n = r.results()
    for (let k = 0; k < n; k++) {
      const slot = r.slot((r.done + k) | 0)
      if (slot[P + 32] === 1) got.push([Buffer.from(slot.subarray(0, P)), Buffer.from(slot.subarray(P, P + 32))])
    }
    if (n > 0) r.release(n)
  }
  if (queue.length > 0) flush()
  for (const [p, t] of got) forward(p, t)
}
function waitResults(): void {
  while (!bell.arm(() => rings.some(r => r.results() > 0), woken)) collect()
}
function woken(): void {
  collect()
  waitResults()
}
if (spec.ring) waitResults()

const listener = new Listener({
  crypto: c,
  geometry: G,
  identity,
  host: '127.0.0.1',
  port: spec.port,
  maxConnections: 16,
  maxConnectionsPerIp: 16,
  reservedPeerSlots: 4,
  maxBufferedBytes: 1 << 24,
  handshakeTimeoutMs: 5000,
  pingIntervalMs: 60_000,
  kinds: new Set(['relay']),
  keyOf: (_k, id) => (id === spec.gwId ? Buffer.from(spec.gwIdentityPk, 'hex') : undefined),
  onOpen: () => {},
  onClose: () => {},
  onHandshakeFailed: () => {},
  onMessage: (_c, m) => {
    const f = parseFrame(G, m.data)
    if (f?.kind !== FRAME.PACKET) return
    if (!spec.unwrap) {
      out.send(encodeFrame(G, FRAME.PACKET, f.body))
      return
    }
    if (workers.length === 0) {
      const r = sphinx.unwrap(f.body, { keys: [mixSk] })
      if (r.type === 'forward') forward(r.packet, r.replayTag)
      return
    }
    queue.push(f.body)
    if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
  }
})
await listener.start()
// Ready once the link to the sink is up.
const wait = setInterval(() => {
  if (out.ready) {
    clearInterval(wait)
    process.stdout.write('ready\n')
  }
}, 20)
process.on('SIGTERM', () => process.exit(0))

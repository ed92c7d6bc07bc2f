/**
 * The unwrap workers' shared-memory ring (daemon/relay/unwrap/ring.ts): every packet handed over is
 * read back exactly once, in order, across the int32 wrap of its counters and with the ring full;
 * the same checks catch a ring with a wrong index update (the controls); and through the unwrap
 * pool, a full ring leaves packets in the fair queue, and a key hand-over applies from the next
 * packet on, as the batches of one message queue did.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { build } from 'esbuild'
import { UnwrapPool, type Unwrapped } from '../../../daemon/relay/unwrap/pool.ts'
import { ResultBell, RING_SLOTS, Ring } from '../../../daemon/relay/unwrap/ring.ts'
import { NETWORK_GEOMETRY as G, loadCrypto, Sphinx, systemRng } from '../../../mix/index.ts'
import { makeRelays } from '../../helpers/sphinx.ts'
import { PROJECT, waitFor } from '../../helpers/testnet.ts'

/** The stand-in for an unwrap: a packet is a uint32 at 0, its result that times 3 plus 1, at 4. */
const result = (x: number): number => (x * 3 + 1) >>> 0

/**
 * Main thread and worker taking turns in an order drawn from `seed`: the producer hands over up to
 * room() packets numbered 0, 1, ..., the worker turns up to 3 waiting packets into results, the
 * collector reads every result and frees its slot. Returns the results in the order read.
 */
function interleave(ring: Ring, total: number, seed: number): number[] {
  let s = seed >>> 0
  const random = (): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    return s / 2 ** 32
  }
  const got: number[] = []
  let next = 0
  for (let step = 0; got.length < total && step < total * 100; step++) {
    const x = random()
    if (x < 0.4) {
      const k = Math.min(ring.room(), total - next, 1 + Math.floor(random() * ring.capacity))
      for (let i = 0; i < k; i++) ring.slot(ring.tail + i).writeUInt32LE(next++, 0)
      if (k > 0) ring.publish(k)
    } else if (x < 0.75) {
      const k = Math.min(ring.pending(), 1 + Math.floor(random() * 3))
      for (let i = 0; i < k; i++) {
        const slot = ring.slot(ring.head)
        slot.writeUInt32LE(result(slot.readUInt32LE(0)), 4)
        ring.finish()
      }
    } else {
      const k = ring.results()
      for (let i = 0; i < k; i++) got.push(ring.slot(ring.done + i).readUInt32LE(4))
      if (k > 0) ring.release(k)
    }
    assert.ok(ring.room() >= 0 && ring.room() <= ring.capacity, `room ${ring.room()} out of [0, capacity]`)
  }
  return got
}

/** Every packet's result once, in order: the first one wrong, or null. */
function firstWrong(got: number[], total: number): string | null {
  for (let i = 0; i < Math.max(got.length, total); i++)
    if (got[i] !== result(i)) return `result ${i}: ${String(got[i])}, expected ${result(i)} (${got.length} read)`
  return null
}

/** What is wrong with a ring over one interleaving (a count out of bounds, a result lost or repeated), or null. */
function check(ring: Ring, total: number, seed: number): string | null {
  try {
    return firstWrong(interleave(ring, total, seed), total)
  } catch (e) {
    return (e as Error).message
  }
}

/** Controls: rings with one wrong index update each. */
class RoomFromHead extends Ring {
  /** Frees the slots the worker has finished, not those whose results were read. */
  override room(): number {
    return this.capacity - ((this.tail - this.head) | 0)
  }
}
class ReleasesOneMore extends Ring {
  override release(n: number): void {
    super.release(n + 1)
  }
}

describe('unwrap ring', function () {
  it('reads back every packet once, in order, as the counters wrap past 2^31', function () {
    for (let seed = 1; seed <= 20; seed++) {
      const ring = Ring.create(4, 16, 2 ** 31 - 7)
      assert.equal(check(ring, 500, seed), null, `seed ${seed}`)
      assert.ok(ring.tail < 0, 'the tail counter wrapped')
    }
  })

  it('a full ring takes nothing more until its results are read', function () {
    const ring = Ring.create(8, 16, 2 ** 31 - 3)
    for (let i = 0; i < 8; i++) ring.slot(ring.tail + i).writeUInt32LE(i, 0)
    ring.publish(8)
    assert.equal(ring.room(), 0)
    for (let i = 0; i < 8; i++) ring.finish()
    assert.equal(ring.room(), 0, 'unwrapped but unread results still hold their slots')
    assert.equal(ring.results(), 8)
    ring.release(3)
    assert.equal(ring.room(), 3)
    assert.equal(ring.inFlight(), 5)
  })

  it('catches a ring that frees slots before their results are read (control)', function () {
    const wrong = [1, 2, 3, 4, 5].map(seed => check(RoomFromHead.create(4, 16), 500, seed))
    assert.ok(
      wrong.every(w => w !== null),
      `every seed lost or duplicated a packet: ${wrong.join('; ')}`
    )
  })

  it('catches a ring that frees one slot too many (control)', function () {
    const wrong = [1, 2, 3, 4, 5].map(seed => check(ReleasesOneMore.create(4, 16), 500, seed))
    assert.ok(
      wrong.every(w => w !== null),
      `every seed lost or duplicated a packet: ${wrong.join('; ')}`
    )
  })

  it('hands 50,000 packets to a worker thread and back, each once and in order', async function () {
    this.timeout(60_000)
    const dir = mkdtempSync(join(tmpdir(), 'sealmix-ring-'))
    try {
      // The worker runs ring.ts itself, bundled (a worker thread does not get the tsx loader everywhere).
      const file = join(dir, 'echo.mjs')
      await build({
        stdin: {
          contents: `
            import { workerData } from 'node:worker_threads'
            import { ResultBell, Ring, serve } from './daemon/relay/unwrap/ring.ts'
            serve(new Ring(workerData.ring), new ResultBell(workerData.bell), {
              each: slot => slot.writeUInt32LE((slot.readUInt32LE(0) * 3 + 1) >>> 0, 4)
            })`,
          resolveDir: PROJECT,
          loader: 'ts'
        },
        bundle: true,
        platform: 'node',
        format: 'esm',
        logLevel: 'warning',
        outfile: file
      })
      const ring = Ring.create(16, 64, 2 ** 31 - 1000)
      const bell = new ResultBell()
      const w = new Worker(file, { workerData: { ring: ring.shared, bell: bell.shared } })
      const total = 50_000
      const got: number[] = []
      let next = 0
      const produce = (): void => {
        const k = Math.min(ring.room(), total - next, 1 + Math.floor(Math.random() * 16))
        for (let i = 0; i < k; i++) ring.slot(ring.tail + i).writeUInt32LE(next++, 0)
        if (k > 0) ring.publish(k)
      }
      const collect = (): void => {
        const k = ring.results()
        for (let i = 0; i < k; i++) got.push(ring.slot(ring.done + i).readUInt32LE(4))
        if (k > 0) ring.release(k)
        produce()
      }
      await new Promise<void>(resolve => {
        const wait = (): void => {
          while (got.length < total && !bell.arm(() => ring.results() > 0, woken)) collect()
          if (got.length >= total) resolve()
        }
        const woken = (): void => {
          collect()
          wait()
        }
        produce()
        wait()
      })
      await w.terminate()
      assert.equal(firstWrong(got, total), null)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('unwrap pool over rings', function () {
  let pool: { close: () => Promise<void> } | undefined
  afterEach(async function () {
    await pool?.close()
    pool = undefined
  })

  it('a full ring leaves the rest in the fair queue (back-pressure), and all come back', async function () {
    const got: number[] = []
    const p = new UnwrapPool<number>({
      workers: 1,
      geometry: G,
      maxQueued: 8192,
      onResults: (r: Array<Unwrapped<number>>) => {
        for (const x of r) got.push(x.ctx)
      }
    })
    pool = p
    await p.init({ binding: 'sodium-native', keys: [], epochs: [], maxDelayMs: 1000 })
    const n = RING_SLOTS * 4
    for (let i = 0; i < n; i++) assert.ok(p.submit(Buffer.alloc(G.packetBytes), i))
    // The pool hands over on the next turn of the event loop: after it, one ring's worth is out.
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(p.queued('peer'), n - RING_SLOTS)
    assert.equal(p.backlog, n)
    await waitFor(() => got.length === n, 30_000, 'every packet back')
    assert.deepEqual(
      got,
      [...got].sort((a, b) => a - b)
    )
    assert.equal(new Set(got).size, n)
    assert.equal(p.backlog, 0)
  })

  it('unwraps a packet with the keys of its hand-over: before setKeys without, after it with', async function () {
    const c = await loadCrypto('sodium-native')
    const rng = systemRng(c)
    const [relay, next] = makeRelays(c, rng, 2)
    const s = new Sphinx(c, G)
    const packet = (): Buffer =>
      s.createPacket(
        [
          { id: relay!.id, publicKey: relay!.pk, commands: [{ type: 'node_delay', delayMs: 3 }] },
          {
            id: next!.id,
            publicKey: next!.pk,
            commands: [
              { type: 'node_delay', delayMs: 0 },
              { type: 'recipient', id: Buffer.alloc(32, 1) }
            ]
          }
        ],
        rng.bytes(G.userPayloadBytes),
        rng
      )
    const got: Array<Unwrapped<string>> = []
    const p = new UnwrapPool<string>({
      workers: 2,
      geometry: G,
      maxQueued: 8192,
      onResults: r => got.push(...r)
    })
    pool = p
    await p.init({ binding: 'sodium-native', keys: [], epochs: [], maxDelayMs: 1000 })
    for (let i = 0; i < 20; i++) p.submit(packet(), 'before')
    // Handed over (in the rings) before the new keys, as a batch was posted before them.
    await new Promise(resolve => setImmediate(resolve))
    p.setKeys([Buffer.from(relay!.sk)], [7])
    for (let i = 0; i < 20; i++) p.submit(packet(), 'after')
    await waitFor(() => got.length === 40, 30_000, 'all 40 back')
    for (const u of got) {
      if (u.ctx === 'before') assert.equal(u.result.kind, 'drop')
      else {
        assert.equal(u.result.kind, 'forward')
        assert.ok(u.result.kind === 'forward' && u.result.epoch === 7 && u.result.delayMs === 3)
        assert.ok(u.result.kind === 'forward' && u.result.nextHop === next!.id.toString('hex'))
        assert.equal(u.bytes.length, G.packetBytes)
      }
    }
  })
})

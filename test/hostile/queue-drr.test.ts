/**
 * The unwrap pool's queue on its own: one worker with no mix key, so every packet is
 * unwrapped and dropped (the cost of garbage), and the order in which results come back is the
 * order the queue served the sources in.
 */
import assert from 'node:assert/strict'
import { RelayMetrics } from '../../daemon/relay/metrics.ts'
import { type Lane, type Source, UnwrapPool, type Unwrapped } from '../../daemon/relay/unwrap/pool.ts'
import { type CryptoSuite, NETWORK_GEOMETRY as G, loadCrypto } from '../../mix/index.ts'
import { randomBytes, waitFor } from '../helpers/testnet.ts'

interface Ctx {
  from: string
}

describe('hostile: the unwrap queue serves its sources in turn', function () {
  let c: CryptoSuite
  let pool: UnwrapPool<Ctx> | undefined
  let order: string[]
  let metrics: RelayMetrics
  before(async function () {
    c = await loadCrypto('sodium-native')
  })
  afterEach(async function () {
    await pool?.close()
    pool = undefined
  })

  async function start(o: { maxQueued?: number; maxQueuedPerClient?: number } = {}): Promise<UnwrapPool<Ctx>> {
    order = []
    metrics = new RelayMetrics('gateway')
    pool = new UnwrapPool<Ctx>({
      workers: 1,
      geometry: G,
      maxQueued: o.maxQueued ?? 8192,
      maxQueuedPerClient: o.maxQueuedPerClient,
      metrics,
      onResults: (r: Array<Unwrapped<Ctx>>) => {
        for (const x of r) order.push(x.ctx.from)
      }
    })
    await pool.init({ binding: 'sodium-native', keys: [], epochs: [], maxDelayMs: 1000 })
    return pool
  }
  const packet = (): Buffer => {
    const p = randomBytes(c, G.packetBytes)
    p[0] = 0
    p[1] = 0
    return p
  }
  function offer(p: UnwrapPool<Ctx>, from: string, source: Source, lane: Lane, n: number): number {
    let taken = 0
    for (let i = 0; i < n; i++) if (p.submit(packet(), { from }, source, lane)) taken++
    return taken
  }

  it('a client that queued 2,000 packets first does not make a later one wait behind them', async function () {
    const p = await start({ maxQueuedPerClient: 4096 })
    assert.equal(offer(p, 'flood', {}, 'client', 2000), 2000)
    assert.equal(offer(p, 'legit', {}, 'client', 10), 10)
    await waitFor(() => order.length === 2010, 30_000, 'all unwrapped')
    const last = order.lastIndexOf('legit')
    assert.ok(last < 64, `the legitimate client's 10 packets were all in the first batch (the last at ${last})`)
  })

  it('relay links keep at least half of the workers while clients flood', async function () {
    const p = await start({ maxQueuedPerClient: 4096 })
    for (let k = 0; k < 4; k++) offer(p, 'client', {}, 'client', 1000)
    offer(p, 'peer', {}, 'peer', 1000)
    await waitFor(() => order.length === 5000, 60_000, 'all unwrapped')
    const firstThousand = order.slice(0, 1000).filter(x => x === 'peer').length
    assert.ok(firstThousand >= 480, `the relay link had ${firstThousand} of the first 1000`)
  })

  it('pauses a client that fills its share and resumes it as its queue drains; a relay link is never paused', async function () {
    const p = await start({ maxQueuedPerClient: 256 })
    const calls: string[] = []
    const client: Source = { pause: () => calls.push('pause'), resume: () => calls.push('resume') }
    const relay: Source = { pause: () => calls.push('relay pause'), resume: () => {} }
    const taken = offer(p, 'client', client, 'client', 400)
    offer(p, 'peer', relay, 'peer', 400)
    assert.equal(taken, 256, 'at most maxQueuedPerClient waiting from one client')
    assert.deepEqual(calls, ['pause'], 'paused at three quarters, once')
    await waitFor(() => calls.includes('resume'), 30_000, 'resumed')
    assert.ok(!calls.includes('relay pause'))
  })

  it('when the queue is full, a source under its share pushes out the newest packet of the longest queue', async function () {
    const p = await start({ maxQueued: 512 })
    assert.equal(offer(p, 'flood', {}, 'peer', 600), 512, 'the flood fills the queue and is then refused')
    assert.equal(offer(p, 'legit', {}, 'peer', 5), 5, 'a newcomer still gets in')
    const dropped = (await metrics.dropped.get()).values.find(v => v.labels.reason === 'queue_full')?.value ?? 0
    assert.equal(dropped, 5, 'each push-out counted')
    await waitFor(() => order.length === 512, 30_000, 'all unwrapped')
    assert.equal(order.filter(x => x === 'legit').length, 5)
  })
})

/**
 * The mixing round against a real LevelDB: replay tags are durable before any packet of the round
 * leaves; every ready link carries the same count per round; idle rounds carry minBatch cover;
 * poisson delays hold packets; a full pool drops (counted).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Db, openDatabase } from '../../../daemon/io/db.ts'
import { ReplayStore } from '../../../daemon/relay/keys/replay-store.ts'
import { RelayMetrics } from '../../../daemon/relay/metrics.ts'
import { Mixer, type Outbound } from '../../../daemon/relay/mixer.ts'
import { createPool, deterministicRng, loadCrypto, type MixingParams, type Rng } from '../../../mix/index.ts'

const PARAMS: MixingParams = {
  strategy: 'batch',
  intervalMs: 10,
  minPool: 0,
  flushFraction: 1,
  minBatch: 0,
  maxDelayMs: 1000,
  loopRatePerSec: 0
}

describe('Mixer', function () {
  let dir: string
  let db: Db
  let rng: Rng
  let now: number
  let sent: Array<{ to: string; packet: Buffer; cover: boolean; corked: boolean }>
  let corked = false
  let corks = 0
  let metrics: RelayMetrics
  const COVER = Buffer.from('cover')

  beforeEach(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sealmix-mixer-'))
    db = await openDatabase(join(dir, 'db'))
    rng = deterministicRng(await loadCrypto('sodium-native'), 'mixer')
    now = 1_000_000
    sent = []
    corked = false
    corks = 0
    metrics = new RelayMetrics('mix')
  })
  afterEach(async function () {
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  })

  function mixer(params: Partial<MixingParams> = {}, links = ['a', 'b', 'c'], capacity = 1000): Mixer {
    const p = { ...PARAMS, ...params }
    return new Mixer({
      db,
      pool: createPool<Outbound>(p, capacity),
      params: p,
      rng,
      now: () => now,
      replay: new ReplayStore(db),
      spool: null,
      mailbox: null,
      metrics,
      links: {
        ready: () => links,
        send: (to, packet) => {
          sent.push({ to, packet, cover: packet === COVER, corked })
          return true
        },
        cover: () => COVER,
        cork: () => {
          corks++
          corked = true
        },
        uncork: () => {
          corked = false
        }
      },
      spooled: () => {},
      extraOps: () => [],
      onError: e => {
        throw e
      }
    })
  }

  it("commits the round's replay tags in a synced batch before any of its packets leaves", async function () {
    const events: string[] = []
    const batch = db.batch.bind(db) as (ops: unknown, o: { sync: boolean }) => Promise<void>
    ;(db as unknown as { batch: (ops: unknown, o: { sync: boolean }) => Promise<void> }).batch = async (ops, o) => {
      events.push(`commit-start sync=${String(o.sync)}`)
      await batch(ops, o)
      events.push('commit-done')
    }
    const tags = Array.from({ length: 20 }, () => rng.bytes(32))
    const m = mixer({}, ['a'])
    tags.forEach((t, i) => {
      m.stage({ out: { kind: 'peer', to: 'a', frame: Buffer.from([i]) }, tag: t, epoch: 0, delayMs: 0 })
    })
    const send = sent
    const origPush = send.push.bind(send)
    send.push = (...x) => {
      events.push('send')
      return origPush(...x)
    }
    await m.round()
    assert.deepEqual(events, ['commit-start sync=true', 'commit-done', ...new Array(20).fill('send')])
    const { ReplayFilter } = await import('../../../mix/index.ts')
    const f = new ReplayFilter(1000, 1e-6)
    assert.equal(await new ReplayStore(db).load(0, f), 20, 'all 20 tags are in LevelDB')
    assert.ok(tags.every(t => f.has(t)))
  })

  it('sends real and cover frames in one shuffled order per link, links interleaved in a fixed order', async function () {
    const m = mixer({ minBatch: 8 }, ['b', 'a'])
    const firstIsReal: boolean[] = []
    for (let round = 0; round < 200; round++) {
      sent = []
      m.stage({ out: { kind: 'peer', to: 'a', frame: Buffer.from([1]) }, delayMs: 0 })
      m.stage({ out: { kind: 'peer', to: 'b', frame: Buffer.from([2]) }, delayMs: 0 })
      await m.round()
      // Round robin over the links in sorted order: a, b, a, b, ...
      assert.deepEqual(
        sent.map(x => x.to),
        Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? 'a' : 'b'))
      )
      firstIsReal.push(!sent[0]!.cover)
    }
    // One real among 4 frames on link a: it comes first in about a quarter of the rounds, not always.
    const share = firstIsReal.filter(Boolean).length / firstIsReal.length
    assert.ok(
      share > 0.15 && share < 0.35,
      `the real frame led link a's burst in ${(share * 100).toFixed(0)}% of rounds`
    )
  })

  it("sends each round's frames, real and cover, inside one cork of the links", async function () {
    const m = mixer({ minBatch: 4 }, ['a', 'b'])
    for (let round = 0; round < 3; round++) {
      m.stage({ out: { kind: 'peer', to: 'a', frame: Buffer.from([round]) }, delayMs: 0 })
      await m.round()
    }
    assert.ok(sent.length >= 6, 'both links carried frames in every round')
    assert.ok(sent.some(x => x.cover) && sent.some(x => !x.cover))
    assert.ok(
      sent.every(x => x.corked),
      'every send happened while the links were corked'
    )
    assert.equal(corks, 3, 'one cork per round')
    assert.equal(corked, false, 'uncorked after each round')
  })

  it('gives every ready link the same number of packets per round, filling with cover', async function () {
    const m = mixer()
    for (let i = 0; i < 3; i++) m.stage({ out: { kind: 'peer', to: 'a', frame: Buffer.from([i]) }, delayMs: 0 })
    m.stage({ out: { kind: 'peer', to: 'b', frame: Buffer.from([9]) }, delayMs: 0 })
    await m.round()
    const per = (l: string): number => sent.filter(s => s.to === l).length
    assert.deepEqual([per('a'), per('b'), per('c')], [3, 3, 3])
    assert.equal(sent.filter(s => s.cover).length, 5)
    assert.equal(sent.filter(s => !s.cover).length, 4)
  })

  it('sends minBatch cover in an idle round, and the round shuffles real packets', async function () {
    const m = mixer({ minBatch: 4 }, ['a', 'b'])
    await m.round()
    assert.deepEqual(sent.map(s => s.to).sort(), ['a', 'a', 'b', 'b'])
    assert.ok(sent.every(s => s.cover))
    sent = []
    const orders = new Set<string>()
    for (let r = 0; r < 20; r++) {
      sent = []
      for (let i = 0; i < 6; i++) m.stage({ out: { kind: 'peer', to: 'a', frame: Buffer.from([i]) }, delayMs: 0 })
      await m.round()
      orders.add(
        sent
          .filter(s => !s.cover)
          .map(s => s.packet[0])
          .join('')
      )
    }
    assert.ok(orders.size > 10, `release order varies (${orders.size} distinct orders in 20 rounds)`)
  })

  it('poisson: holds a packet for its delay', async function () {
    const m = mixer({ strategy: 'poisson', minPool: 0 }, ['a'])
    m.stage({ out: { kind: 'peer', to: 'a', frame: Buffer.from([1]) }, delayMs: 50 })
    await m.round()
    assert.equal(sent.filter(s => !s.cover).length, 0)
    now += 49
    await m.round()
    assert.equal(sent.filter(s => !s.cover).length, 0)
    now += 1
    await m.round()
    assert.equal(sent.filter(s => !s.cover).length, 1)
  })

  it('a full pool drops a random packet and counts it as queue_full', async function () {
    const m = mixer({ strategy: 'poisson', minPool: 0 }, ['a'], 5)
    for (let i = 0; i < 12; i++) m.stage({ out: { kind: 'peer', to: 'a', frame: Buffer.from([i]) }, delayMs: 500 })
    await m.round()
    const v = (await metrics.dropped.get()).values.find(x => x.labels.reason === 'queue_full')?.value
    assert.equal(v, 7)
  })
})

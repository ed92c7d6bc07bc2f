/**
 * The store under faults, in process against a real LevelDB.
 * - Ages to the second (ages kept to the hour can make 60 s-old data read 1,132 s, and the age
 *   alerts fire up to an hour early), while what is at rest keeps the hour only; the TTL is exact
 *   for what the process stored and never cut short for what it loaded.
 * - A write that fails as LevelDB fails on a full disk (a fault injected into the batch): the
 *   round is dropped and reported, its acknowledgements are written with the next round, the
 *   database is opened again before the next write, and the counts stay true, so the relay
 *   starts again on it.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { commit, type Db, openDatabase } from '../../daemon/io/db.ts'
import { Health } from '../../daemon/io/health.ts'
import { createLogger } from '../../daemon/io/log.ts'
import { QueueStore } from '../../daemon/relay/gateway/queue-store.ts'
import { ReplayStore } from '../../daemon/relay/keys/replay-store.ts'
import { RelayMetrics } from '../../daemon/relay/metrics.ts'
import { Mixer, type Outbound } from '../../daemon/relay/mixer.ts'
import { createPool, deterministicRng, loadCrypto, type MixingParams, type Rng } from '../../mix/index.ts'

const HOUR = 3_600_000
/** Half past an hour. */
const T0 = 1_700_001_800_000

describe('store under faults', function () {
  let dir: string
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'sealmix-hostile-store-'))
  })
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true })
  })

  describe('ages to the second', function () {
    let db: Db
    beforeEach(async function () {
      db = await openDatabase(join(dir, 'db'))
    })
    afterEach(async function () {
      await db.close()
    })
    const dest = Buffer.alloc(32, 5)

    it('a record stored 60 s ago is 60 s old, and expires at its TTL to the second', async function () {
      const q = new QueueStore(db, 'spool', { quota: 10, ttlMs: 120_000 })
      const p = q.put(dest, Buffer.from('x'), T0)
      await commit(db, [p.op])
      p.applied()
      assert.equal(q.oldestAgeSeconds(T0 + 60_000), 60)
      assert.equal(q.expire(T0 + 119_000).expired, 0)
      const x = q.expire(T0 + 121_000)
      assert.equal(x.expired, 1)
    })

    it('after a restart the age is never too high (the hour at rest bounds it), and the TTL is never cut short', async function () {
      const q = new QueueStore(db, 'spool', { quota: 10, ttlMs: 2 * HOUR })
      const p = q.put(dest, Buffer.from('x'), T0)
      await commit(db, [p.op])
      p.applied()
      const again = new QueueStore(db, 'spool', { quota: 10, ttlMs: 2 * HOUR })
      const start = T0 + 600_000
      await again.load(start)
      // Stored at T0 (in its hour), loaded 10 min later: the age counts from the process start at most.
      assert.equal(again.oldestAgeSeconds(start + 60_000), 60)
      assert.ok(
        again.oldestAgeSeconds(T0 + 3 * HOUR) <= 3 * 3600 && again.oldestAgeSeconds(T0 + 3 * HOUR) >= 3 * 3600 - 1800
      )
      assert.equal(again.expire(T0 + 2 * HOUR).expired, 0, 'not before its TTL')
      assert.equal(again.expire(T0 + 3 * HOUR).expired, 1)
    })
  })

  describe('a failed write (injected as LevelDB reports ENOSPC)', function () {
    let rng: Rng
    before(async function () {
      rng = deterministicRng(await loadCrypto('sodium-native'), 'store-faults')
    })
    const PARAMS: MixingParams = {
      strategy: 'batch',
      intervalMs: 10,
      minPool: 0,
      flushFraction: 1,
      minBatch: 0,
      maxDelayMs: 1000,
      loopRatePerSec: 0
    }
    const ENOSPC = (): Error =>
      Object.assign(new Error('IO error: /x/db/000005.log: No space left on device'), { code: 'LEVEL_IO_ERROR' })

    it('drops the round, reports not ready, writes its acks with the next round, reopens the database, and keeps the counts true', async function () {
      const dataDir = join(dir, 'relay')
      mkdirSync(join(dataDir, 'keys'), { recursive: true })
      const lines: string[] = []
      const log = createLogger('info', {
        write: (s: string) => {
          lines.push(s)
          return true
        }
      } as unknown as NodeJS.WritableStream)
      const health = new Health(() => log)
      const replay = await ReplayStore.open(dataDir, health)
      const db = replay.db
      const spool = new QueueStore(db, 'spool', { quota: 100, ttlMs: HOUR })
      const metrics = new RelayMetrics('gateway')
      let extra: ReturnType<QueueStore['ack']>[] = []
      const now = Date.now()
      const mixer = new Mixer({
        db,
        pool: createPool<Outbound>(PARAMS, 1000),
        params: PARAMS,
        rng,
        now: () => now,
        replay,
        spool,
        mailbox: null,
        metrics,
        health,
        links: { ready: () => [], send: () => true, cover: () => Buffer.alloc(0), cork: () => {}, uncork: () => {} },
        spooled: () => {},
        extraOps: () => {
          const o = extra.filter(x => x !== null)
          extra = []
          return o
        },
        onError: e => {
          throw e
        }
      })
      const ing = 'ab'.repeat(32)
      const dest = Buffer.from(ing, 'hex')
      const tag = (i: number): Buffer => {
        const b = Buffer.alloc(32)
        b.writeUInt32BE(i + 1)
        return b
      }
      // Round 1 commits two spool records and two tags.
      for (const i of [0, 1])
        mixer.stage({
          out: { kind: 'ingress', to: ing, payload: Buffer.from(`m${i}`) },
          tag: tag(i),
          epoch: 0,
          delayMs: 0
        })
      await mixer.round()
      assert.equal(spool.count, 2)
      const [first] = await spool.read(dest, 0, 10)
      // The ingress acknowledges the first; the next round's batch fails as LevelDB fails on a full disk.
      extra.push(spool.ack(dest, first!.seq))
      const batch = db.batch.bind(db)
      let opens = 0
      const open = db.open.bind(db)
      ;(db as unknown as { open: typeof db.open }).open = async (o?: unknown) => {
        opens++
        return await open(o as never)
      }
      ;(db as unknown as { batch: unknown }).batch = async () => {
        throw ENOSPC()
      }
      mixer.stage({ out: { kind: 'ingress', to: ing, payload: Buffer.from('m2') }, tag: tag(2), epoch: 0, delayMs: 0 })
      await mixer.round()
      assert.equal(health.reason()?.includes('mixing rounds cannot be committed'), true)
      assert.equal(spool.count, 1, 'the failed round stored nothing')
      assert.equal((await metrics.dropped.get()).values.find(v => v.labels.reason === 'store')?.value, 1)
      assert.ok(
        lines.some(l => l.includes('"event":"store_failing"') && l.includes('"code":"ENOSPC"')),
        'logged with its code'
      )
      // Space is back: the next round opens the database again first, then writes the ack with its own records.
      ;(db as unknown as { batch: unknown }).batch = batch
      mixer.stage({ out: { kind: 'ingress', to: ing, payload: Buffer.from('m3') }, tag: tag(3), epoch: 0, delayMs: 0 })
      await mixer.round()
      assert.equal(health.reason(), null, 'ready again')
      assert.ok(opens >= 1, 'the database was opened again after the failed write')
      assert.ok(lines.some(l => l.includes('"event":"store_recovered"')))
      assert.deepEqual(
        (await spool.read(dest, 0, 10)).map(r => r.record.toString()),
        ['m1', 'm3'],
        'the ack of the failed round was written; nothing acknowledged came back, nothing committed was lost'
      )
      assert.equal(await replay.count(0), 3, 'the tags of the committed rounds')
      await db.close()
      // The counts are true: the relay starts on this database.
      const again = await ReplayStore.open(dataDir, health)
      assert.equal(await again.count(0), 3)
      await again.db.close()
    })
  })
})

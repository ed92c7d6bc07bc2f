/** The spool/mailbox store on a real LevelDB: FIFO, ack before delete, quota, TTL, reload. */
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { commit, type Db, openDatabase } from '../../../daemon/io/db.ts'
import { QueueStore } from '../../../daemon/relay/gateway/queue-store.ts'

const HOUR = 3_600_000
const T0 = 1_700_000_000_000

describe('QueueStore', function () {
  let dir: string
  let db: Db
  beforeEach(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sealmix-queue-'))
    db = await openDatabase(join(dir, 'db'))
  })
  afterEach(async function () {
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const dest = (n: number): Buffer => Buffer.alloc(32, n)
  async function put(q: QueueStore, d: Buffer, rec: string, now = T0): Promise<number> {
    const p = q.put(d, Buffer.from(rec), now)
    await commit(db, [p.op])
    p.applied()
    return p.seq
  }

  it('keeps records per destination in FIFO order and deletes only on ack', async function () {
    const q = new QueueStore(db, 'spool', { quota: 10, ttlMs: 24 * HOUR })
    for (const r of ['a', 'b', 'c']) await put(q, dest(1), r)
    await put(q, dest(2), 'x')
    const recs = await q.read(dest(1), 0, 10)
    assert.deepEqual(
      recs.map(r => r.record.toString()),
      ['a', 'b', 'c']
    )
    assert.deepEqual(
      (await q.read(dest(1), recs[0]!.seq, 10)).map(r => r.record.toString()),
      ['b', 'c']
    )
    await commit(db, [q.ack(dest(1), recs[1]!.seq)!])
    assert.deepEqual(
      (await q.read(dest(1), 0, 10)).map(r => r.record.toString()),
      ['a', 'c']
    )
    assert.equal(q.ack(dest(1), recs[1]!.seq), null, 'a second ack of the same record is nothing')
    assert.equal(q.count, 3)
    assert.equal(q.bytes, 3)
  })

  it('reloads its index after a restart', async function () {
    const q = new QueueStore(db, 'spool', { quota: 10, ttlMs: 24 * HOUR })
    for (const r of ['a', 'b']) await put(q, dest(1), r)
    await db.close()
    db = await openDatabase(join(dir, 'db'))
    const again = new QueueStore(db, 'spool', { quota: 10, ttlMs: 24 * HOUR })
    await again.load()
    assert.equal(again.count, 2)
    const seq = await put(again, dest(1), 'c')
    assert.ok(seq > 2, 'sequence numbers continue after the highest stored')
    assert.deepEqual(
      (await again.read(dest(1), 0, 10)).map(r => r.record.toString()),
      ['a', 'b', 'c']
    )
  })

  it('enforces the per-destination quota', async function () {
    const q = new QueueStore(db, 'mailbox', { quota: 2, ttlMs: 24 * HOUR })
    await put(q, dest(1), 'a')
    await put(q, dest(1), 'b')
    assert.equal(q.hasRoom(dest(1)), false)
    assert.equal(q.hasRoom(dest(2)), true)
  })

  it('expires records older than the TTL (hour resolution) and reports the oldest age', async function () {
    const q = new QueueStore(db, 'spool', { quota: 10, ttlMs: 2 * HOUR })
    await put(q, dest(1), 'old', T0)
    await put(q, dest(1), 'new', T0 + 2 * HOUR)
    assert.ok(q.oldestAgeSeconds(T0 + 2 * HOUR) >= 2 * 3600 - 3600)
    const x = q.expire(T0 + 3 * HOUR + 1)
    assert.equal(x.expired, 1)
    await commit(db, x.ops)
    assert.deepEqual(
      (await q.read(dest(1), 0, 10)).map(r => r.record.toString()),
      ['new']
    )
  })

  it('stores no timestamp finer than the hour at rest', async function () {
    const q = new QueueStore(db, 'spool', { quota: 10, ttlMs: 24 * HOUR })
    const when = T0 + 1234_567
    await put(q, dest(7), 'payload', when)
    await db.close()
    const files = readdirSync(join(dir, 'db')).map(f => readFileSync(join(dir, 'db', f)))
    const ms = Buffer.alloc(8)
    ms.writeBigUInt64BE(BigInt(when))
    assert.ok(
      files.every(f => !f.includes(ms)),
      'the millisecond time is not at rest'
    )
    db = await openDatabase(join(dir, 'db'))
  })
})

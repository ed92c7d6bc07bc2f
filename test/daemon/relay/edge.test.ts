/**
 * The gateway's edge keeps, per client connection, only the few mailboxes it pulled last: with
 * every id pulled kept, 60k PULLs of random ids then 300 ACKs would freeze a gateway for 30 s,
 * every ACK walking every id pulled. A real mailbox on LevelDB; the connection is a stand-in that takes every frame.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { commit, type Db, openDatabase } from '../../../daemon/io/db.ts'
import { Edge, PULLED_PER_CONNECTION } from '../../../daemon/relay/gateway/edge.ts'
import { QueueStore } from '../../../daemon/relay/gateway/queue-store.ts'
import type { Conn } from '../../../daemon/relay/listener/server.ts'
import { RelayMetrics } from '../../../daemon/relay/metrics.ts'
import { type CryptoSuite, loadCrypto, NETWORK_GEOMETRY } from '../../../mix/index.ts'

describe('gateway edge: mailbox pulls', function () {
  let dir: string
  let db: Db
  let c: CryptoSuite
  before(async function () {
    c = await loadCrypto()
  })
  beforeEach(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sealmix-edge-'))
    db = await openDatabase(join(dir, 'db'))
  })
  afterEach(async function () {
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('remembers only the last few mailboxes a connection pulled; an ACK for an older one waits for the next pull', async function () {
    const g = NETWORK_GEOMETRY
    const mailbox = new QueueStore(db, 'mailbox', { quota: 100, ttlMs: 3_600_000 })
    const spool = new QueueStore(db, 'spool', { quota: 100, ttlMs: 3_600_000 })
    const edge = new Edge({
      crypto: c,
      geometry: g,
      spool,
      mailbox,
      mailboxKey: Buffer.alloc(32, 7),
      pullBatch: 2,
      metrics: new RelayMetrics('gateway')
    })
    const conn = {
      kind: 'client',
      peerId: undefined,
      send: () => true,
      close: () => {},
      bufferedAmount: 0
    } as unknown as Conn
    const mine = Buffer.alloc(32, 1)
    const p = mailbox.put(edge.mailboxKeyOf(mine), Buffer.alloc(16 + g.bodyBytes, 9), Date.now())
    await commit(db, [p.op])
    p.applied()
    await edge.pull(conn, mine)
    const other = Buffer.alloc(32, 2)
    for (let i = 0; i < 10_000; i++) {
      other.writeUInt32BE(i, 0)
      await edge.pull(conn, other)
    }
    assert.equal(edge.pulledBy(conn), PULLED_PER_CONNECTION, 'bounded, whatever the number of ids pulled')
    const ack = Buffer.alloc(8)
    ack.writeBigUInt64BE(BigInt(p.seq))
    edge.clientAck(conn, ack)
    assert.deepEqual(edge.takeOps(), [], 'its mailbox is no longer among the last pulled: nothing deleted')
    assert.equal(mailbox.count, 1, 'the record stays stored')
    await edge.pull(conn, mine)
    edge.clientAck(conn, ack)
    const ops = edge.takeOps()
    assert.equal(ops.length, 1, 'pulled again, the ACK deletes it')
    await commit(db, ops)
  })
})

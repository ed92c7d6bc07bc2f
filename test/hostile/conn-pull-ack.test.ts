/**
 * PULL and ACK abuse on the gateway edge: what one client connection can make the
 * gateway hold or do stays bounded whatever it sends. A real mailbox on LevelDB; the connection is
 * a stand-in, and the mailbox store is watched to count the work each frame costs.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { commit, type Db, openDatabase } from '../../daemon/io/db.ts'
import { Edge, PULLED_PER_CONNECTION } from '../../daemon/relay/gateway/edge.ts'
import { QueueStore } from '../../daemon/relay/gateway/queue-store.ts'
import type { Conn } from '../../daemon/relay/listener/server.ts'
import { RelayMetrics } from '../../daemon/relay/metrics.ts'
import { type CryptoSuite, FRAME, NETWORK_GEOMETRY as G, loadCrypto, parseFrame } from '../../mix/index.ts'

const PULL_BATCH = 16

describe('hostile: PULL and ACK on the gateway edge', function () {
  let dir: string
  let db: Db
  let c: CryptoSuite
  let mailbox: QueueStore
  let edge: Edge
  let metrics: RelayMetrics
  /** Work done by the store on the edge's behalf. */
  const work = { acks: 0, reads: 0, readsNow: 0, readsMax: 0 }
  before(async function () {
    c = await loadCrypto()
  })
  beforeEach(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sealmix-pullack-'))
    db = await openDatabase(join(dir, 'db'))
    mailbox = new QueueStore(db, 'mailbox', { quota: 1000, ttlMs: 3_600_000 })
    Object.assign(work, { acks: 0, reads: 0, readsNow: 0, readsMax: 0 })
    const ack = mailbox.ack.bind(mailbox)
    const read = mailbox.read.bind(mailbox)
    mailbox.ack = (dest, seq) => {
      work.acks++
      return ack(dest, seq)
    }
    mailbox.read = async (dest, after, limit) => {
      work.reads++
      work.readsNow++
      work.readsMax = Math.max(work.readsMax, work.readsNow)
      try {
        return await read(dest, after, limit)
      } finally {
        work.readsNow--
      }
    }
    metrics = new RelayMetrics('gateway')
    edge = new Edge({
      crypto: c,
      geometry: G,
      spool: new QueueStore(db, 'spool', { quota: 100, ttlMs: 3_600_000 }),
      mailbox,
      mailboxKey: Buffer.alloc(32, 7),
      pullBatch: PULL_BATCH,
      metrics
    })
  })
  afterEach(async function () {
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  })

  function conn(o: { accept?: () => boolean } = {}): Conn & { frames: Buffer[]; offered: number } {
    const frames: Buffer[] = []
    const k = {
      kind: 'client',
      peerId: undefined,
      frames,
      offered: 0,
      send: (f: Buffer) => {
        k.offered++
        if (o.accept?.() === false) return false
        frames.push(f)
        return true
      },
      close: () => {},
      bufferedAmount: 0,
      pause: () => {},
      resume: () => {}
    }
    return k as unknown as Conn & { frames: Buffer[]; offered: number }
  }
  async function fill(id: Buffer, n: number): Promise<void> {
    const ops = []
    const done = []
    for (let i = 0; i < n; i++) {
      const p = mailbox.put(edge.mailboxKeyOf(id), Buffer.alloc(16 + G.bodyBytes, i), Date.now())
      ops.push(p.op)
      done.push(p.applied)
    }
    await commit(db, ops)
    for (const f of done) f()
  }
  const ackOf = (seq: number): Buffer => {
    const b = Buffer.alloc(8)
    b.writeBigUInt64BE(BigInt(seq))
    return b
  }
  const idOf = (f: Buffer): number => Number(parseFrame(G, f)!.body.readBigUInt64BE(0))

  it('an ACK costs one lookup: an id never handed over touches no mailbox, a handed one exactly one', async function () {
    const cl = conn()
    const boxes = Array.from({ length: PULLED_PER_CONNECTION }, (_, i) => Buffer.alloc(32, i + 1))
    for (const b of boxes) await fill(b, 900)
    for (const b of boxes) await edge.pull(cl, b)
    // The attack: 300,000 ACKs of ids never handed to this connection.
    for (let i = 0; i < 300_000; i++) edge.clientAck(cl, ackOf(1_000_000 + i))
    assert.equal(work.acks, 0, 'no mailbox was walked for an unknown id')
    assert.equal(
      edge.handedTo(cl),
      PULLED_PER_CONNECTION * PULL_BATCH,
      'what a connection may acknowledge is bounded by its last pulls'
    )
    const real = cl.frames.filter(f => parseFrame(G, f)?.kind === FRAME.MAILBOX).map(idOf)
    for (const seq of real) edge.clientAck(cl, ackOf(seq))
    assert.equal(work.acks, real.length, 'one store lookup per handed id')
    assert.equal(edge.takeOps().length, PULLED_PER_CONNECTION * PULL_BATCH, 'each deleted once')
    for (const seq of real) edge.clientAck(cl, ackOf(seq))
    assert.equal(work.acks, real.length, 'an id acknowledged twice costs nothing the second time')
  })

  it('a flood of PULLs is answered one at a time: one read in progress, one pull waiting, the rest counted and dropped', async function () {
    const cl = conn()
    const mine = Buffer.alloc(32, 9)
    await fill(mine, 3)
    const pulls = []
    for (let i = 0; i < 10_000; i++) pulls.push(edge.pull(cl, mine))
    await Promise.all(pulls)
    assert.ok(work.readsMax <= 1, `at most one read at a time (${work.readsMax})`)
    assert.ok(work.reads <= 2, `the first pull and the last one waiting (${work.reads} reads)`)
    assert.equal(cl.frames.length, work.reads * PULL_BATCH, 'every answered pull is exactly pullBatch frames')
    const dropped = (await metrics.dropped.get()).values.find(v => v.labels.reason === 'queue_full')?.value ?? 0
    assert.equal(dropped, 10_000 - work.reads, 'every pull not answered is counted')
  })

  it('a connection that does not read costs one frame per PULL, not pullBatch', async function () {
    const cl = conn({ accept: () => false })
    for (let i = 0; i < 1000; i++) await edge.pull(cl, Buffer.alloc(32, 5))
    assert.equal(cl.offered, 1000, 'the first refused frame ends the answer')
    const dropped = (await metrics.dropped.get()).values.find(v => v.labels.reason === 'queue_full')?.value ?? 0
    assert.equal(dropped, 1000 * PULL_BATCH, 'the frames not sent are counted all the same')
  })
})

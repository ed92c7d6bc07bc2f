/**
 * Mailbox pushes (docs/PROTOCOL.md §17): a PULL whose mode byte is 1 makes the gateway's edge push
 * that mailbox to the connection, exactly pushBatch frames per push whether the mailbox holds
 * anything or not, records oldest first and each once, a bounded number unacknowledged. A PULL
 * of an older client (mode 0) gets no pushes: the positive control. A real mailbox on LevelDB;
 * the connection is a stand-in that records its frames (or takes none).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { commit, type Db, openDatabase } from '../../../daemon/io/db.ts'
import { Edge, PUSH_CHUNK, PUSH_UNACKED } from '../../../daemon/relay/gateway/edge.ts'
import { QueueStore } from '../../../daemon/relay/gateway/queue-store.ts'
import type { Conn } from '../../../daemon/relay/listener/server.ts'
import { RelayMetrics } from '../../../daemon/relay/metrics.ts'
import { type CryptoSuite, FRAME, frameBytes, loadCrypto, NETWORK_GEOMETRY } from '../../../mix/index.ts'

const G = NETWORK_GEOMETRY

describe('gateway edge: mailbox pushes', function () {
  let dir: string
  let db: Db
  let c: CryptoSuite
  let mailbox: QueueStore
  let edge: Edge
  before(async function () {
    c = await loadCrypto()
  })
  beforeEach(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sealmix-edge-push-'))
    db = await openDatabase(join(dir, 'db'))
    mailbox = new QueueStore(db, 'mailbox', { quota: 1000, ttlMs: 3_600_000 })
    edge = new Edge({
      crypto: c,
      geometry: G,
      spool: new QueueStore(db, 'spool', { quota: 100, ttlMs: 3_600_000 }),
      mailbox,
      mailboxKey: Buffer.alloc(32, 7),
      pullBatch: 4,
      metrics: new RelayMetrics('gateway'),
      // A long interval: the tests run the pushes themselves.
      pushIntervalMs: 3_600_000,
      pushBatch: 2
    })
  })
  afterEach(async function () {
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  })

  function conn(take = true): Conn & { frames: Buffer[] } {
    const frames: Buffer[] = []
    return {
      kind: 'client',
      peerId: undefined,
      frames,
      send: (f: Buffer) => {
        if (take) frames.push(f)
        return take
      },
      close: () => {},
      bufferedAmount: 0
    } as unknown as Conn & { frames: Buffer[] }
  }

  /** Store `n` replies for a mailbox; their delivery ids (seqs) in order. */
  async function store(id: Buffer, n: number): Promise<number[]> {
    const seqs: number[] = []
    for (let i = 0; i < n; i++) {
      const p = mailbox.put(edge.mailboxKeyOf(id), Buffer.alloc(16 + G.bodyBytes, i + 1), Date.now())
      await commit(db, [p.op])
      p.applied()
      seqs.push(p.seq)
    }
    return seqs
  }

  const pullBody = (id: Buffer, mode: number): Buffer => Buffer.concat([id, Buffer.of(mode), Buffer.alloc(100)])
  const seqOf = (f: Buffer): number => Number(f.readBigUInt64BE(1))
  const ack = (cn: Conn, seq: number): void => {
    const b = Buffer.alloc(8)
    b.writeBigUInt64BE(BigInt(seq))
    edge.clientAck(cn, b)
  }

  it('pushes exactly pushBatch frames each time, the records after the pull first, each once', async function () {
    const id = Buffer.alloc(32, 1)
    const seqs = await store(id, 7)
    const cn = conn()
    await edge.pull(cn, pullBody(id, 1))
    assert.equal(cn.frames.length, 4, 'the pull is answered with pullBatch frames')
    assert.deepEqual(cn.frames.map(seqOf), seqs.slice(0, 4))
    assert.equal(edge.subscribers, 1)
    for (const s of seqs.slice(0, 4)) ack(cn, s)
    const pushes: Buffer[][] = []
    for (let i = 0; i < 4; i++) {
      const before = cn.frames.length
      await edge.pushRound()
      pushes.push(cn.frames.slice(before))
    }
    assert.deepEqual(
      pushes.map(p => p.length),
      [2, 2, 2, 2],
      'the same number of frames every time'
    )
    assert.ok(
      cn.frames.every(f => f.length === frameBytes(G) && f[0] === FRAME.MAILBOX),
      'all of one size and kind'
    )
    assert.deepEqual(pushes[0]!.map(seqOf), seqs.slice(4, 6))
    assert.equal(seqOf(pushes[1]![0]!), seqs[6], 'the last record, then cover')
    assert.ok(!seqs.includes(seqOf(pushes[1]![1]!)) && !seqs.includes(seqOf(pushes[2]![0]!)), 'cover: random ids')
    for (const s of seqs.slice(4)) ack(cn, s)
    assert.equal(edge.takeOps().length, 7, 'every record acknowledged is deleted')
  })

  it('positive control: a PULL of a client before pushes (mode 0) gets its answer and no pushes', async function () {
    const id = Buffer.alloc(32, 2)
    await store(id, 6)
    const cn = conn()
    await edge.pull(cn, pullBody(id, 0))
    await edge.pull(cn, id) // a bare 32-byte body: mode 0 as well
    assert.equal(edge.subscribers, 0)
    const before = cn.frames.length
    await edge.pushRound()
    assert.equal(cn.frames.length, before, 'nothing pushed')
  })

  it('holds at most PUSH_UNACKED records unacknowledged (then cover), and stops pushing to a connection that takes nothing', async function () {
    const id = Buffer.alloc(32, 3)
    await store(id, PUSH_UNACKED + 10)
    const cn = conn()
    await edge.pull(cn, pullBody(id, 1))
    for (let i = 0; i < PUSH_UNACKED; i++) await edge.pushRound()
    const real = new Set(cn.frames.map(seqOf).filter(s => s <= PUSH_UNACKED + 10))
    assert.equal(real.size, PUSH_UNACKED, 'no more real records than the bound while none is acknowledged')
    assert.equal(edge.handedTo(cn), PUSH_UNACKED)

    const dead = conn(false)
    await edge.pull(dead, pullBody(Buffer.alloc(32, 4), 1))
    assert.equal(edge.subscribers, 1, 'its pull was not taken: not pushed to')
    const slow = conn()
    await edge.pull(slow, pullBody(Buffer.alloc(32, 5), 1))
    assert.equal(edge.subscribers, 2)
    ;(slow as unknown as { send: () => boolean }).send = () => false
    await edge.pushRound()
    assert.equal(edge.subscribers, 1, 'a connection that stops taking frames is pushed no more')
  })

  it('sends a push to many connections in chunks, yielding between them, each connection its pushBatch frames', async function () {
    const n = 2 * PUSH_CHUNK + 10
    const conns: Array<Conn & { frames: Buffer[] }> = []
    for (let i = 0; i < n; i++) {
      const cn = conn()
      const id = Buffer.alloc(32)
      id.writeUInt32BE(i + 100)
      await edge.pull(cn, pullBody(id, 1))
      conns.push(cn)
    }
    const withMail = Buffer.alloc(32)
    withMail.writeUInt32BE(n - 1 + 100)
    const [seq] = await store(withMail, 1)
    const before = conns.map(cn => cn.frames.length)
    const sent = (): number => conns.reduce((a, cn, i) => a + cn.frames.length - before[i]!, 0)
    // Frames sent when the event loop next turns after the first frame of the push: a push that
    // sent everything in one go would have sent them all by then (the control of the chunking).
    let sentAtTurn = -1
    const first = conns[0]!
    const send = first.send
    first.send = (f: Buffer) => {
      if (sentAtTurn === -1) {
        sentAtTurn = 0
        setImmediate(() => {
          sentAtTurn = sent()
        })
      }
      return send(f)
    }
    await edge.pushRound()
    assert.deepEqual(
      new Set(conns.map((cn, i) => cn.frames.length - before[i]!)),
      new Set([2]),
      'every connection got exactly pushBatch frames'
    )
    assert.equal(seqOf(conns[n - 1]!.frames.at(-2)!), seq, 'the last connection, in the last chunk, got its record')
    assert.ok(
      sentAtTurn > 0 && sentAtTurn < 2 * n && sentAtTurn % (2 * PUSH_CHUNK) === 0,
      `frames sent when the loop turned: ${sentAtTurn} (whole chunks of ${PUSH_CHUNK} connections, not all ${n})`
    )
  })
})

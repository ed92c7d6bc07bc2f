/**
 * The router alone, its collaborators stand-ins: each unwrap result kind goes where it should
 * (staged for the mixer with its output, or counted as a drop with its reason and its replay tag
 * still staged), every frame kind goes to the pool, the edge or the drop counter, and the kinds it
 * switches on are checked against mix's at compile time.
 */
import assert from 'node:assert/strict'
import type { RawMessage } from '../../../daemon/io/index.ts'
import { drop } from '../../../daemon/relay/drops.ts'
import type { Conn, ConnKind } from '../../../daemon/relay/listener/server.ts'
import { DROP_REASONS as METRIC_REASONS, RelayMetrics } from '../../../daemon/relay/metrics.ts'
import type { Staged } from '../../../daemon/relay/mixer.ts'
import { type PacketCtx, Router, type RouterDeps } from '../../../daemon/relay/router.ts'
import type { Unwrapped } from '../../../daemon/relay/unwrap/pool.ts'
import type { WorkerResult, WorkerResultKind } from '../../../daemon/relay/unwrap/protocol.ts'
import {
  DROP_REASONS,
  type DropReason,
  encodeFrame,
  FRAME,
  NETWORK_GEOMETRY,
  type UnwrapResult
} from '../../../mix/index.ts'

const g = NETWORK_GEOMETRY
const SELF = 'aa'.repeat(32)
const NEXT = 'bb'.repeat(32) // a relay of layer 2, link up
const DOWN = 'bc'.repeat(32) // a relay of layer 2, link down
const SAME = 'cc'.repeat(32) // a relay of this relay's own layer
const INGRESS = 'dd'.repeat(32) // an ingress this gateway serves
const STRANGER = 'ee'.repeat(32) // listed nowhere
const COVER = '00'.repeat(32)
const MAILBOX = '11'.repeat(32)
const SURB_ID = '22'.repeat(16)
const EPOCH = 7

/**
 * Checked by tsc (run before the suite), never called: the worker protocol has exactly mix's
 * unwrap kinds under mix's names, and nothing outside mix's lists type-checks. The router's own
 * switch ends in a `never` check, so a kind added to mix fails to compile until it is routed.
 */
export function compileTimeChecks(
  m: RelayMetrics
): Record<WorkerResultKind, true> & Record<UnwrapResult['type'], true> {
  // @ts-expect-error: a kind mix does not produce is not a WorkerResult
  const bounce: WorkerResult = { kind: 'bounce', epoch: EPOCH }
  // @ts-expect-error: a drop reason outside mix's list does not type-check
  drop(m, 'lost')
  void bounce
  return { drop: true, forward: true, deliver: true, surb_reply: true }
}

interface Fixture {
  readonly router: Router
  readonly metrics: RelayMetrics
  readonly staged: Staged[]
  readonly submitted: Array<{ ctx: PacketCtx; lane: string }>
  readonly loops: Buffer[]
  readonly edgeCalls: string[]
  readonly tags: Set<string>
  readonly batches: () => number
}

function fixture(
  o: {
    layer?: number
    gateway?: boolean
    filterFull?: boolean
    noFilter?: boolean
    accept?: boolean
    stopping?: boolean
  } = {}
): Fixture {
  const layer = o.layer ?? 1
  const metrics = new RelayMetrics(o.gateway === true ? 'gateway' : 'mix')
  const f = {
    metrics,
    staged: [] as Staged[],
    submitted: [] as Array<{ ctx: PacketCtx; lane: string }>,
    loops: [] as Buffer[],
    edgeCalls: [] as string[],
    tags: new Set<string>()
  }
  let routed = 0
  const filter = {
    get full() {
      return o.filterFull === true
    },
    add: (tag: Buffer) => {
      const h = tag.toString('hex')
      if (f.tags.has(h)) return false
      f.tags.add(h)
      return true
    }
  }
  const layers = new Map([
    [NEXT, (layer + 1) % 4],
    [DOWN, (layer + 1) % 4],
    [SAME, layer]
  ])
  const deps: RouterDeps = {
    geometry: g,
    metrics,
    self: { id: SELF, layer },
    layerOf: id => layers.get(id),
    servesIngress: id => id === INGRESS,
    filter: epoch => (o.noFilter === true || epoch !== EPOCH ? undefined : filter),
    linkUp: id => id === NEXT,
    pool: {
      submit: (_p, ctx, _s, lane) => {
        f.submitted.push({ ctx, lane: lane ?? 'peer' })
        return o.accept !== false
      }
    },
    mixer: {
      stage: s => {
        f.staged.push(s)
      }
    },
    loopReturned: p => {
      f.loops.push(p)
    },
    edge:
      o.gateway === true
        ? {
            ingressAck: id => {
              f.edgeCalls.push(`ingressAck ${id}`)
            },
            pull: async () => {
              f.edgeCalls.push('pull')
            },
            clientAck: () => {
              f.edgeCalls.push('clientAck')
            },
            mailboxKeyOf: id => Buffer.concat([Buffer.from('key:'), Buffer.from(id)])
          }
        : null,
    stopping: () => o.stopping === true,
    routed: () => {
      routed++
    }
  }
  return { ...f, router: new Router(deps), batches: () => routed }
}

let tagSeq = 0
function unwrapped(result: WorkerResult, link: ConnKind = 'relay', fill = 0x5a): Unwrapped<PacketCtx> {
  const tag = Buffer.alloc(32)
  tag.writeUInt32BE(++tagSeq)
  return { ctx: { link }, result, bytes: Buffer.alloc(g.packetBytes, fill), tag }
}

async function drops(m: RelayMetrics): Promise<Partial<Record<DropReason, number>>> {
  const out: Partial<Record<DropReason, number>> = {}
  for (const v of (await m.dropped.get()).values) if (v.value > 0) out[v.labels.reason as DropReason] = v.value
  return out
}

function conn(kind: ConnKind, peerId?: string): Conn {
  return { kind, peerId, send: () => true, close: () => {}, bufferedAmount: 0, pause: () => {}, resume: () => {} }
}

const forward = (nextHop: string, delayMs = 30): WorkerResult => ({ kind: 'forward', nextHop, delayMs, epoch: EPOCH })
const deliver = (recipient: string, delayMs = 40): WorkerResult => ({
  kind: 'deliver',
  recipient,
  delayMs,
  epoch: EPOCH
})
const reply = (recipient: string): WorkerResult => ({ kind: 'surb_reply', recipient, surbId: SURB_ID, epoch: EPOCH })

describe('router', function () {
  it("has one list of drop reasons: the metric labels are mix's list itself", function () {
    assert.equal(METRIC_REASONS, DROP_REASONS)
    assert.deepEqual(
      [...DROP_REASONS],
      ['malformed', 'mac', 'replay', 'replay_full', 'unknown_hop', 'link_down', 'queue_full', 'quota', 'ttl', 'store']
    )
  })

  describe('unwrap results', function () {
    it("drop: counted with unwrap's reason, nothing staged and no replay check", async function () {
      const f = fixture()
      f.router.route([
        unwrapped({ kind: 'drop', reason: 'mac', detail: 'mac_mismatch' }),
        unwrapped({ kind: 'drop', reason: 'malformed', detail: 'bad_version' })
      ])
      assert.deepEqual(await drops(f.metrics), { mac: 1, malformed: 1 })
      assert.equal(f.staged.length, 0)
      assert.equal(f.tags.size, 0)
      assert.equal(f.batches(), 1, 'one call per batch')
    })

    it('forward: a relay of the next layer with its link up gets a PACKET frame, with the delay, tag and epoch', async function () {
      const f = fixture()
      const u = unwrapped(forward(NEXT, 30))
      f.router.route([u])
      assert.equal(f.staged.length, 1)
      const s = f.staged[0]!
      assert.deepEqual(s.out, { kind: 'peer', to: NEXT, frame: Buffer.concat([Buffer.from([FRAME.PACKET]), u.bytes]) })
      assert.equal(s.delayMs, 30)
      assert.equal(s.epoch, EPOCH)
      assert.deepEqual(s.tag, u.tag)
      assert.deepEqual(await drops(f.metrics), {})
    })

    it('forward: not the next layer, unlisted, link down, or a non-relay link at a mix: unknown_hop, tag still staged', async function () {
      const f = fixture()
      f.router.route([
        unwrapped(forward(SAME)),
        unwrapped(forward(STRANGER)),
        unwrapped(forward(DOWN)),
        unwrapped(forward(NEXT), 'client')
      ])
      assert.deepEqual(await drops(f.metrics), { unknown_hop: 4 })
      assert.equal(f.staged.length, 4)
      for (const s of f.staged) {
        assert.equal(s.out, null)
        assert.equal(s.delayMs, 0)
        assert.equal(s.epoch, EPOCH)
        assert.ok(s.tag !== undefined)
      }
    })

    it('forward: a gateway (layer 0) forwards what its clients send', async function () {
      const f = fixture({ layer: 0, gateway: true })
      f.router.route([unwrapped(forward(NEXT), 'client')])
      assert.equal(f.staged[0]!.out?.kind, 'peer')
      assert.deepEqual(await drops(f.metrics), {})
    })

    it('deliver: cover is counted and discarded, a loop of this relay goes back to the loops', async function () {
      const f = fixture()
      f.router.route([unwrapped(deliver(COVER)), unwrapped(deliver(SELF), 'relay', 0x33)])
      assert.equal(await f.metrics.coverReceived.get().then(m => m.values[0]?.value), 1)
      assert.equal(f.loops.length, 1)
      assert.deepEqual(f.loops[0], Buffer.alloc(g.userPayloadBytes, 0x33))
      assert.deepEqual(
        f.staged.map(s => s.out),
        [null, null],
        'their tags are still committed'
      )
      assert.deepEqual(await drops(f.metrics), {})
    })

    it('deliver: a gateway spools a payload for an ingress it serves, with the delay', async function () {
      const f = fixture({ layer: 0, gateway: true })
      f.router.route([unwrapped(deliver(INGRESS, 40), 'relay', 0x44)])
      assert.deepEqual(f.staged[0]!.out, {
        kind: 'ingress',
        to: INGRESS,
        payload: Buffer.alloc(g.userPayloadBytes, 0x44)
      })
      assert.equal(f.staged[0]!.delayMs, 40)
      assert.deepEqual(await drops(f.metrics), {})
    })

    it('deliver: to an ingress not served, or at a mix relay: unknown_hop', async function () {
      const gw = fixture({ layer: 0, gateway: true })
      gw.router.route([unwrapped(deliver(STRANGER))])
      assert.deepEqual(await drops(gw.metrics), { unknown_hop: 1 })
      const mix = fixture()
      mix.router.route([unwrapped(deliver(INGRESS))])
      assert.deepEqual(await drops(mix.metrics), { unknown_hop: 1 })
      assert.deepEqual(
        [...gw.staged, ...mix.staged].map(s => s.out),
        [null, null]
      )
    })

    it('surb_reply: a gateway puts SURB id ‖ body into the mailbox keyed by its storage key, no delay', async function () {
      const f = fixture({ layer: 0, gateway: true })
      f.router.route([unwrapped(reply(MAILBOX), 'relay', 0x55)])
      const out = f.staged[0]!.out
      assert.equal(out?.kind, 'mailbox')
      if (out?.kind !== 'mailbox') return
      assert.deepEqual(out.to, Buffer.concat([Buffer.from('key:'), Buffer.from(MAILBOX, 'hex')]))
      assert.deepEqual(out.record, Buffer.concat([Buffer.from(SURB_ID, 'hex'), Buffer.alloc(g.bodyBytes, 0x55)]))
      assert.equal(f.staged[0]!.delayMs, 0)
    })

    it('surb_reply: at a mix relay: unknown_hop', async function () {
      const f = fixture()
      f.router.route([unwrapped(reply(MAILBOX))])
      assert.deepEqual(await drops(f.metrics), { unknown_hop: 1 })
      assert.equal(f.staged[0]!.out, null)
    })

    it('replay: a tag seen before is dropped, nothing staged', async function () {
      const f = fixture()
      const u = unwrapped(forward(NEXT))
      f.router.route([u, { ...u, result: deliver(COVER) }])
      assert.deepEqual(await drops(f.metrics), { replay: 1 })
      assert.equal(f.staged.length, 1)
    })

    it('replay_full: a full filter, or a key retired while its packets were in a worker, refuses every kind', async function () {
      for (const o of [{ filterFull: true }, { noFilter: true }]) {
        const f = fixture({ layer: 0, gateway: true, ...o })
        f.router.route([unwrapped(forward(NEXT)), unwrapped(deliver(INGRESS)), unwrapped(reply(MAILBOX))])
        assert.deepEqual(await drops(f.metrics), { replay_full: 3 })
        assert.equal(f.staged.length, 0)
      }
    })

    it('an unknown kind (a worker of other software) throws rather than pass silently', function () {
      const f = fixture()
      assert.throws(
        () => f.router.route([unwrapped({ kind: 'bounce', epoch: EPOCH } as unknown as WorkerResult)]),
        /no known kind/
      )
    })
  })

  describe('frames', function () {
    const packet = (): RawMessage => ({
      data: encodeFrame(g, FRAME.PACKET, Buffer.alloc(g.packetBytes, 1)),
      isBinary: true
    })
    const ack = (): RawMessage => ({ data: encodeFrame(g, FRAME.ACK, Buffer.alloc(8)), isBinary: true })
    const pull = (): RawMessage => ({ data: encodeFrame(g, FRAME.PULL, Buffer.alloc(32)), isBinary: true })

    it('a PACKET frame goes to the pool, in the lane of its link, and is counted received', async function () {
      const f = fixture({ layer: 0, gateway: true })
      f.router.receive(conn('client'), packet())
      f.router.receive(conn('relay', NEXT), packet())
      f.router.receive(conn('ingress', INGRESS), packet())
      assert.deepEqual(f.submitted, [
        { ctx: { link: 'client' }, lane: 'client' },
        { ctx: { link: 'relay' }, lane: 'peer' },
        { ctx: { link: 'ingress' }, lane: 'peer' }
      ])
      const received = Object.fromEntries((await f.metrics.received.get()).values.map(v => [v.labels.link, v.value]))
      assert.deepEqual(received, { client: 1, peer: 1, ingress: 1 })
      assert.deepEqual(await drops(f.metrics), {})
    })

    it('refused by the pool, or while stopping: queue_full', async function () {
      const full = fixture({ accept: false })
      full.router.receive(conn('relay', NEXT), packet())
      assert.deepEqual(await drops(full.metrics), { queue_full: 1 })
      const stopping = fixture({ stopping: true })
      stopping.router.receive(conn('relay', NEXT), packet())
      assert.deepEqual(await drops(stopping.metrics), { queue_full: 1 })
      assert.equal(stopping.submitted.length, 0)
    })

    it('ACK and PULL go to the edge from the links that may send them', async function () {
      const f = fixture({ layer: 0, gateway: true })
      f.router.receive(conn('ingress', INGRESS), ack())
      f.router.receive(conn('client'), pull())
      f.router.receive(conn('client'), ack())
      assert.deepEqual(f.edgeCalls, [`ingressAck ${INGRESS}`, 'pull', 'clientAck'])
      assert.deepEqual(await drops(f.metrics), {})
    })

    it('a text frame, a wrong size, an unknown kind, or a frame its link may not send: malformed', async function () {
      const f = fixture({ layer: 0, gateway: true })
      const bad = Buffer.alloc(g.packetBytes + 1)
      bad[0] = 0x7f
      f.router.receive(conn('client'), { data: packet().data, isBinary: false })
      f.router.receive(conn('client'), { data: Buffer.alloc(10, FRAME.PACKET), isBinary: true })
      f.router.receive(conn('client'), { data: bad, isBinary: true })
      f.router.receive(conn('relay', NEXT), ack())
      f.router.receive(conn('ingress', INGRESS), pull())
      f.router.receive(conn('client'), { data: encodeFrame(g, FRAME.HELLO), isBinary: true })
      assert.deepEqual(await drops(f.metrics), { malformed: 6 })
      assert.deepEqual(f.edgeCalls, [])
      assert.equal(f.submitted.length, 0)
    })
  })

  it('drop(): counts n packets under one reason', async function () {
    const m = new RelayMetrics('mix')
    drop(m, 'ttl', 5)
    drop(m, 'store')
    assert.deepEqual(await drops(m), { ttl: 5, store: 1 })
  })
})

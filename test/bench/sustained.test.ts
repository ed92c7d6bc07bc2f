import assert from 'node:assert/strict'
import { addedLatencies, type Bounds, growthOf, judge, type QueueSample, roundStarts, searchRate } from './sustained.ts'

const B: Bounds = { intervalMs: 5, p99BoundMs: 100, growthMs: 20, growthMinPackets: 50, lateMs: 250 }

/** Samples every 500 ms of a `ms` step at `rate`, with `backlog(t)` packets offered and not delivered. */
function samples(rate: number, ms: number, backlog: (t: number) => number): QueueSample[] {
  const out: QueueSample[] = []
  for (let t = 500; t <= ms; t += 500) {
    const due = Math.floor((t / 1000) * rate)
    const b = backlog(t)
    out.push({ t, due, sent: due, buffered: 0, arrived: due - b, relay: { received: due, sent: due - b, dropped: 0 } })
  }
  return out
}

describe('bench: sustained-rate judgement', () => {
  const facts = (rate: number, ms: number, s: QueueSample[]): Parameters<typeof judge>[0] => ({
    rate,
    ms,
    total: (rate * ms) / 1000,
    sent: (rate * ms) / 1000,
    arrived: (rate * ms) / 1000,
    drops: 0,
    blocked: 0,
    lateMs: 2,
    p99: 20,
    drainMs: 3000,
    samples: s
  })

  it('holds with a steady backlog, even with a few spikes (GC pauses)', () => {
    const s = samples(10_000, 30_000, t => (t % 7000 === 0 ? 1500 : 80))
    const v = judge(facts(10_000, 30_000, s), B)
    assert.equal(v.sustained, true, v.reasons.join('; '))
  })

  it('flags a backlog that grows by more than the limit, and says where', () => {
    // 1% over capacity at 10,000/s: 100 packets/s more in the relay every second.
    const s = samples(10_000, 30_000, t => 80 + (t / 1000) * 100)
    const v = judge(facts(10_000, 30_000, s), B)
    assert.equal(v.sustained, false)
    assert.equal(v.growth?.growing, true)
    assert.match(v.reasons.join(), /queue grew.*inside the relay/)
  })

  it('counts drops as growth: a relay that sheds its excess does not look steady', () => {
    const s = samples(10_000, 10_000, t => 8192 + (t / 1000) * 3000).map(x => ({
      ...x,
      relay: { received: x.due, sent: x.due - 8192 - (x.due - x.arrived - 8192), dropped: x.due - x.arrived - 8192 }
    }))
    const g = growthOf(10_000, 10_000, s, B)!
    assert.equal(g.growing, true)
    assert.ok(g.parts['dropped by the relay']![1] > g.parts['dropped by the relay']![0])
  })

  it('fails on loss, drops, a late load and p99, each with its reason', () => {
    const s = samples(1000, 6000, () => 5)
    const v = judge({ ...facts(1000, 6000, s), arrived: 5990, drops: 10, lateMs: 900, p99: 140 }, B)
    assert.equal(v.sustained, false)
    assert.equal(v.reasons.length, 4)
  })

  it('will not judge growth from too few samples', () => {
    const v = judge(
      facts(
        1000,
        1000,
        samples(1000, 1000, () => 5)
      ),
      B
    )
    assert.equal(v.sustained, false)
    assert.match(v.reasons.join(), /too few queue samples/)
  })
})

describe('bench: added latency from the round schedule', () => {
  it("fills rounds that left no burst, and subtracts each packet's wait for the next round", () => {
    // Bursts at 10.5, 15.5 and 30.5 ms with rounds of 0.5 ms: starts 10, 15, (20, 25), 30.
    const starts = roundStarts([10.5, 15.5, 30.5], 0.5, 5)
    assert.deepEqual(
      starts.map(x => Math.round(x * 10) / 10),
      [10, 15, 20, 25, 30]
    )
    // Sent at 12 (waits 3 ms for the round at 15), arrived at 15.7: added 0.7 ms.
    // Sent at 14.9 but missed the round at 15: arrived at 20.8, added 5.7 ms.
    const { added, waits } = addedLatencies(
      [
        { sent: 12, arrived: 15.7 },
        { sent: 14.9, arrived: 20.8 }
      ],
      starts
    )
    assert.deepEqual(
      waits.map(x => Math.round(x * 10) / 10),
      [3, 0.1]
    )
    assert.deepEqual(
      added.map(x => Math.round(x * 10) / 10),
      [0.7, 5.8]
    )
    assert.deepEqual(addedLatencies([{ sent: 1, arrived: 3 }], null).added, [2])
  })
})

describe('bench: rate search', () => {
  it('climbs the ladder, then bisects to the resolution', async () => {
    const tried: number[] = []
    const r = await searchRate([4000, 8000, 12000, 16000], 1000, 8, async x => {
      tried.push(x)
      return x <= 9300
    })
    assert.deepEqual(tried, [4000, 8000, 12000, 10000, 9000])
    assert.deepEqual(r, { rate: 9000, bounded: true, tried: 5 })
  })
  it('stops at the step budget, and says when no rate failed', async () => {
    assert.deepEqual(await searchRate([1000, 2000], 100, 8, async () => true), { rate: 2000, bounded: false, tried: 2 })
    assert.deepEqual(await searchRate([1000, 2000, 3000], 100, 2, async () => true), {
      rate: 2000,
      bounded: false,
      tried: 2
    })
  })
})

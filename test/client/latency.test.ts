/** The latency breakdown of an acknowledged message: stages cut at the client's own instants, summing to the total. */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { type AckTimes, ReadLog, STAGES, stagesOf } from '../../client/latency.ts'
import { tailBreakdown } from '../../tools/devnet/tail.ts'

const total = (t: AckTimes): number => Math.max(0, t.ackMs - t.createdMs)
const sum = (s: ReturnType<typeof stagesOf>): number => STAGES.reduce((a, k) => a + s[k], 0)

describe('latency breakdown (client/latency.ts)', function () {
  it('splits a re-sent message at its slots and mailbox reads', function () {
    const t: AckTimes = {
      createdMs: 1000,
      firstSlotMs: 1150,
      slotMs: 16_300,
      prevReadMs: 18_000,
      readMs: 19_000,
      ackMs: 19_004
    }
    assert.deepEqual(stagesOf(t), { slotMs: 150, resendMs: 15_150, flightMs: 2200, mailboxMs: 500, answerMs: 4 })
    assert.equal(sum(stagesOf(t)), total(t))
  })

  it('puts the ack in the mailbox halfway between the slot and the read when it came within one read gap, and counts flight when no read is known', function () {
    const fast: AckTimes = { createdMs: 0, firstSlotMs: 10, slotMs: 10, prevReadMs: 5, readMs: 900, ackMs: 901 }
    assert.deepEqual(stagesOf(fast), { slotMs: 10, resendMs: 0, flightMs: 445, mailboxMs: 445, answerMs: 1 })
    const unknown: AckTimes = { createdMs: 0, firstSlotMs: 10, slotMs: 10, ackMs: 3000 }
    assert.deepEqual(stagesOf(unknown), { slotMs: 10, resendMs: 0, flightMs: 2990, mailboxMs: 0, answerMs: 0 })
  })

  it('stages are never negative and always sum to the total, whatever the clock did', function () {
    const time = fc.integer({ min: 0, max: 100_000 })
    fc.assert(
      fc.property(
        fc.record({
          createdMs: time,
          firstSlotMs: time,
          slotMs: time,
          prevReadMs: fc.option(time, { nil: undefined }),
          readMs: fc.option(time, { nil: undefined }),
          ackMs: time
        }),
        t => {
          const s = stagesOf(t)
          for (const k of STAGES) assert.ok(s[k] >= 0, `${k} ${s[k]}`)
          assert.equal(sum(s), total(t))
        }
      ),
      { numRuns: 2000 }
    )
  })

  it('a read log finds the read that brought a frame and the one before', function () {
    const log = new ReadLog(3)
    assert.deepEqual(log.around(5), {})
    for (const t of [1000, 2000, 3000, 4000]) log.read(t)
    assert.deepEqual(log.around(3500), { readMs: 3000, prevReadMs: 2000 })
    assert.deepEqual(log.around(4000), { readMs: 4000, prevReadMs: 3000 })
    assert.deepEqual(log.around(2100), { readMs: 2000, prevReadMs: undefined }, 'bounded: 1000 is forgotten')
    assert.deepEqual(log.around(1500), {})
  })

  it("the tail breakdown's stage means over the tail add up to the tail's mean latency", function () {
    const acks = Array.from({ length: 200 }, (_, i) => {
      const t: AckTimes = {
        createdMs: 0,
        firstSlotMs: i % 7,
        slotMs: i % 50 === 0 ? 15_000 : i % 7,
        prevReadMs: 2000 + i * 10,
        readMs: 3000 + i * 10,
        ackMs: 3001 + i * 10 + (i % 50 === 0 ? 15_000 : 0)
      }
      return { atMs: i, latencyMs: total(t), stages: stagesOf(t), epochs: i % 60 === 0 ? 1 : 0 }
    })
    const b = tailBreakdown(acks)
    assert.equal(b.staged, 200)
    const tail = acks.filter(a => a.latencyMs >= b.latency.p99)
    const mean = tail.reduce((s, a) => s + a.latencyMs, 0) / tail.length
    assert.ok(Math.abs(STAGES.reduce((s, k) => s + b.tail99.mean[k], 0) - mean) < 1e-6)
    assert.equal(b.resent.n, 4, 'the four acks of a re-sent attempt')
    assert.ok(b.tail99.mean.resendMs > 10_000, 'and they make the tail')
    assert.equal(b.epochCrossed.n, 4)
  })
})

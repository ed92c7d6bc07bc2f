/** The one retry schedule of every outbound link, with its jitter injected. */
import assert from 'node:assert/strict'
import { Backoff, RETRY_JITTER } from '../../mix/index.ts'

describe('link backoff', function () {
  it('doubles from min to max, never below min, and starts over on reset', function () {
    const b = new Backoff({ minMs: 1000, maxMs: 5000 }, () => 0)
    assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [1000, 2000, 4000, 5000, 5000])
    b.reset()
    assert.equal(b.next(), 1000)
  })

  it('stretches each wait by at most the jitter, so links lost together spread out', function () {
    const top = new Backoff({ minMs: 1000, maxMs: 8000 }, () => 0.999999)
    const waits = [top.next(), top.next()]
    assert.ok(waits[0]! > 1000 && waits[0]! < 1000 * (1 + RETRY_JITTER))
    assert.ok(waits[1]! > 2000 && waits[1]! < 2000 * (1 + RETRY_JITTER))
  })
})

/** The sender's bookkeeping: re-send after a missing ack with doubling timeouts, give up, and settle on the ingress's answers. */
import assert from 'node:assert/strict'
import { Outbox } from '../../client/outbox.ts'
import { ACK_STATUS } from '../../mix/index.ts'
import { RateLimiter } from '../../mix/rate-limit.ts'

describe('Outbox', function () {
  const frags = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => Buffer.of(i))

  it('sends fragments in order, re-sends a missing ack after 1x, 2x, 4x the timeout, then fails', function () {
    const o = new Outbox({ ackTimeoutMs: 1000, maxAttempts: 3, maxFragments: 10 })
    assert.ok(o.add('m', 'i', frags(2), 0))
    const a = o.next()!
    const b = o.next()!
    assert.deepEqual([a.index, b.index, o.next()], [0, 1, undefined])
    o.markSent(a, 0)
    o.markSent(b, 0)
    assert.deepEqual(
      o.onAck('m', 1, ACK_STATUS.received, 100).map(e => e.type),
      ['acked']
    )
    assert.deepEqual(o.tick(999), [])
    assert.deepEqual(o.tick(1000), [])
    assert.equal(o.next(), a, 'fragment 0 is re-sent after the timeout; fragment 1 was acked')
    o.markSent(a, 1000)
    o.tick(2999)
    assert.equal(o.next(), undefined)
    o.tick(3000)
    assert.equal(o.next(), a)
    o.markSent(a, 3000)
    assert.deepEqual(o.tick(7000), [{ type: 'failed', messageId: 'm', code: 'CLIENT_ACK_TIMEOUT' }])
    assert.equal(o.messages, 0)
    assert.equal(o.fragments, 0)
  })

  it('settles on delivered (with latency) or refused; a received fragment is sent again if the message never completes', function () {
    const o = new Outbox({ ackTimeoutMs: 1000, maxAttempts: 5, maxFragments: 10 })
    o.add('d', 'i', frags(2), 0)
    const [f0, f1] = [o.next()!, o.next()!]
    o.markSent(f0, 0)
    o.markSent(f1, 0)
    o.onAck('d', 0, ACK_STATUS.received, 200)
    o.tick(3199)
    assert.equal(o.next(), f1, 'only the unacked fragment after one timeout')
    o.markSent(f1, 3199)
    o.tick(3200)
    assert.equal(o.next(), f0, 'the received one after three timeouts without delivery')
    assert.deepEqual(o.onAck('d', 1, ACK_STATUS.delivered, 4000), [
      { type: 'acked', messageId: 'd', index: 1, status: ACK_STATUS.delivered },
      { type: 'delivered', messageId: 'd', latencyMs: 4000 }
    ])
    assert.deepEqual(o.onAck('d', 0, ACK_STATUS.delivered, 4100), [], 'a late duplicate answer changes nothing')
    o.add('r', 'i', frags(1), 0)
    const r = o.next()!
    o.markSent(r, 0)
    assert.deepEqual(o.onAck('r', 0, ACK_STATUS.refused, 10).at(-1), {
      type: 'failed',
      messageId: 'r',
      code: 'CLIENT_REFUSED'
    })
  })

  it('is bounded, and try-later waits a whole timeout', function () {
    const o = new Outbox({ ackTimeoutMs: 1000, maxAttempts: 5, maxFragments: 3 })
    assert.ok(o.add('a', 'i', frags(2), 0))
    assert.equal(o.add('b', 'i', frags(2), 0), false)
    const f = o.next()!
    o.markSent(f, 0)
    o.onAck('a', 0, ACK_STATUS.tryLater, 500)
    o.tick(1499)
    assert.equal(o.next()?.index, 1)
    o.tick(1500)
    assert.equal(o.next(), f)
  })
})

describe('RateLimiter', function () {
  it('allows perMinute at once, refills over the minute, and forgets the least recently used key beyond its bound', function () {
    const r = new RateLimiter(3, 2)
    assert.deepEqual(
      [1, 2, 3, 4].map(() => r.take('a', 0)),
      [true, true, true, false]
    )
    assert.equal(r.take('a', 19_999), false)
    assert.equal(r.take('a', 20_000), true)
    r.take('b', 20_000)
    r.take('c', 20_000)
    assert.equal(r.take('a', 20_001), true, 'a was forgotten: a fresh bucket')
  })
})

/** When a client reads its mailbox: pulls, pushes told apart from pull answers, and the reads logged for the breakdown. */
import assert from 'node:assert/strict'
import { MailboxReads, pullMode } from '../../client/mailbox-reads.ts'

describe('mailbox reads (client/mailbox-reads.ts)', function () {
  it('logs a PULL and not its prompt answer, and the first frame of each push once', function () {
    const r = new MailboxReads(1000)
    r.pulled(10_000)
    for (const t of [10_030, 10_031, 10_032]) r.frame(t) // the pull's answer, within a round trip
    assert.deepEqual(r.log.around(10_040), { readMs: 10_000, prevReadMs: undefined })
    for (const t of [10_600, 10_601, 10_602]) r.frame(t) // one push of three frames, back to back
    r.frame(10_700) // the next push
    assert.deepEqual(r.log.around(10_650), { readMs: 10_600, prevReadMs: 10_000 })
    assert.deepEqual(r.log.around(10_800), { readMs: 10_700, prevReadMs: 10_600 })
  })

  it('pulls while no push came for two intervals, not while pushes come, and again after a reconnect', function () {
    const r = new MailboxReads(1000)
    assert.equal(r.shouldPull(0), true, 'nothing pushed yet')
    r.pulled(0)
    r.frame(600)
    assert.equal(r.shouldPull(1000), false, 'a push 400 ms ago')
    assert.equal(r.shouldPull(2599), false)
    assert.equal(r.shouldPull(2600), true, 'no push for two intervals: the gateway stopped or never pushed')
    r.frame(2700)
    r.connected()
    assert.equal(r.shouldPull(2800), true, 'a new connection has had no push')
  })

  it('positive control: a gateway that only answers pulls is never taken for one that pushes', function () {
    const r = new MailboxReads(1000)
    for (let t = 0; t < 10_000; t += 1000) {
      assert.equal(r.shouldPull(t), true, `at ${t}`)
      r.pulled(t)
      r.frame(t + 40)
    }
  })

  it('says in the PULL whether pushes are wanted', function () {
    assert.deepEqual([...pullMode(true)], [1])
    assert.deepEqual([...pullMode(false)], [0])
  })
})

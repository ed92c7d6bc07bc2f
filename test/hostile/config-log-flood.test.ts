/**
 * A repeated failure must not flood the log: with a low file-descriptor limit, a relay's epoch tick
 * can log the same EMFILE 232 times in 25 s. The daemons' log destination (cli/log-flood.ts, used by
 * `run`, `ingress` and `authority`) holds back repeats of one failure: at most 5 at once, then one
 * per 10 s, and one line that counts what was held back. Distinct failures, and lines below warn,
 * all pass. That flood, replayed through the daemons' real logger on a simulated clock.
 */
import assert from 'node:assert/strict'
import { floodGuard } from '../../cli/log-flood.ts'
import { createLogger } from '../../daemon/index.ts'

describe('hostile: a flood of one failure in the logs', function () {
  it('writes a few of 232 identical EMFILE lines in 25 s and counts the rest; other lines pass', async function () {
    let now = 1_000_000
    const written: Array<Record<string, unknown>> = []
    const stream = floodGuard({
      now: () => now,
      write: l => {
        written.push(JSON.parse(l) as Record<string, unknown>)
      }
    })
    const log = createLogger('info', stream)
    for (let i = 0; i < 232; i++) {
      now += 108
      // The path (and the epoch in it) changes from tick to tick; the failure is the same.
      log.error(
        { err: `EMFILE: too many open files, open '/var/lib/sealmix/keys/mix-${1000 + Math.floor(i / 40)}.key'` },
        'epoch tick failed'
      )
      if (i % 40 === 0) log.info({ epoch: 1000 + i / 40 }, 'network document in use')
      if (i % 40 === 0)
        log.warn(
          { event: 'descriptor_refused', reason: 'not_admitted', epoch: 1000 + i / 40 },
          "an authority refused this relay's descriptor"
        )
    }
    await new Promise<void>(resolve => stream.end(resolve))
    const emfile = written.filter(l => l.msg === 'epoch tick failed')
    const held = written.filter(l => l.event === 'log_suppressed')
    assert.ok(emfile.length >= 5 && emfile.length <= 8, `a few EMFILE lines are written (${emfile.length})`)
    assert.equal(
      emfile.length + held.reduce((n, l) => n + (l.suppressed as number), 0),
      232,
      'every one is written or counted'
    )
    assert.ok(
      held.length >= 1 &&
        held.every(
          l => l.level === 50 && /^epoch tick failed \(repeated \d+ more times, not logged\)$/.test(String(l.msg))
        ),
      JSON.stringify(held)
    )
    assert.equal(written.filter(l => l.msg === 'network document in use').length, 6, 'info lines pass')
    assert.equal(
      written.filter(l => l.event === 'descriptor_refused').length,
      6,
      'distinct failures (one per epoch) pass'
    )
  })
})

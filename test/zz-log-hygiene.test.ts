/**
 * Runs last (file order): every log line that the suite's in-process relays wrote at trace level
 * holds no relay or ingress id, no key, and no address (docs/OPERATIONS.md).
 */
import assert from 'node:assert/strict'
import { CANARIES, LOG_LINES } from './helpers/log-capture.ts'

describe('log hygiene over the whole suite', function () {
  it('no id, key or address in any relay log line', function () {
    if (LOG_LINES.length === 0) {
      console.log('      skipped: no in-process relay ran in this selection of tests, so there are no lines to scan')
      this.skip()
    }
    assert.ok(CANARIES.size > 10)
    for (const line of LOG_LINES) {
      JSON.parse(line)
      assert.ok(!/\b127\.\d+\.\d+\.\d+\b|::1|::ffff:/.test(line), `an address in a log line: ${line.slice(0, 120)}`)
      for (const k of CANARIES) assert.ok(!line.includes(k), `a canary in a log line: ${line.slice(0, 120)}`)
    }
    console.log(`      scanned ${LOG_LINES.length} log lines for ${CANARIES.size} canaries`)
  })
})

/**
 * Every in-process relay of the test suite logs at trace level into this capture, and every
 * testnet registers its ids and keys as canaries; a root hook (test/zz-log-hygiene.test.ts) scans
 * the whole suite's log lines for them at the end.
 */
import { Writable } from 'node:stream'

export const LOG_LINES: string[] = []
export const CANARIES = new Set<string>()

export const captureStream = new Writable({
  write(chunk: Buffer, _enc, cb) {
    for (const l of chunk.toString().split('\n')) if (l !== '') LOG_LINES.push(l)
    cb()
  }
})

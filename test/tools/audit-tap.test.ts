/** The audit's wire parser: the HTTP upgrade is skipped; masked and unmasked frames, split anywhere, come out whole. */
import assert from 'node:assert/strict'
import { WsParser } from '../../tools/audit/tap.ts'

function frame(payload: Buffer, mask: Buffer | null): Buffer {
  const head =
    payload.length < 126
      ? Buffer.of(0x82, (mask !== null ? 0x80 : 0) | payload.length)
      : Buffer.concat([
          Buffer.of(0x82, (mask !== null ? 0x80 : 0) | 126),
          Buffer.from([payload.length >> 8, payload.length & 255])
        ])
  if (mask === null) return Buffer.concat([head, payload])
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i & 3]!))
  return Buffer.concat([head, mask, body])
}

describe('audit tap: WebSocket parser', function () {
  it('reads every binary message after the upgrade, whatever the chunking', function () {
    const msgs = [Buffer.alloc(2557, 1), Buffer.from('short'), Buffer.alloc(300, 9)]
    const wire = Buffer.concat([
      Buffer.from('GET /relay HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n'),
      frame(msgs[0]!, Buffer.of(1, 2, 3, 4)),
      frame(msgs[1]!, null),
      frame(msgs[2]!, Buffer.of(9, 8, 7, 6))
    ])
    for (const step of [1, 7, 100, wire.length]) {
      const got: Buffer[] = []
      const p = new WsParser(m => got.push(m))
      for (let i = 0; i < wire.length; i += step) p.push(wire.subarray(i, i + step))
      assert.deepEqual(got, msgs, `chunks of ${step}`)
    }
  })
})

import assert from 'node:assert/strict'
import { encodeFrame, FRAME, frameBytes, NETWORK_GEOMETRY as G, packetFrame, parseFrame } from '../../mix/index.ts'

describe('frames', function () {
  it('packetFrame gives the same bytes as encodeFrame for a full-size packet, and parses back', function () {
    const packet = Buffer.alloc(G.packetBytes)
    for (let i = 0; i < packet.length; i++) packet[i] = (i * 7 + 3) & 0xff
    const f = packetFrame(G, packet)
    // Byte for byte what the zero-filled encodeFrame gives: packetFrame's unzeroed buffer is fully written.
    assert.equal(f.length, frameBytes(G))
    assert.deepEqual(f, encodeFrame(G, FRAME.PACKET, packet))
    const p = parseFrame(G, f)
    assert.equal(p?.kind, FRAME.PACKET)
    assert.deepEqual(p?.body, packet)
  })

  it('packetFrame refuses a packet of the wrong size (it never pads)', function () {
    assert.throws(() => packetFrame(G, Buffer.alloc(G.packetBytes - 1)), RangeError)
    assert.throws(() => packetFrame(G, Buffer.alloc(G.packetBytes + 1)), RangeError)
  })
})

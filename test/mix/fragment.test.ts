import assert from 'node:assert/strict'
import {
  deterministicRng,
  FRAGMENT_HEADER_BYTES,
  fragmentMessage,
  loadCrypto,
  parseFragment,
  Reassembler,
  type Rng
} from '../../mix/index.ts'

describe('fragmentation and reassembly', function () {
  let rng: Rng
  const room = 2048 - 48 // a Sphinx payload sealed to the ingress
  before(async function () {
    rng = deterministicRng(await loadCrypto('sodium-native'), 'frag')
  })

  it('splits 10 KiB into fixed-size fragments and reassembles it whole, in any order', function () {
    const msg = rng.bytes(10 * 1024)
    const id = rng.bytes(16)
    const frags = fragmentMessage(msg, id, room)
    assert.equal(frags.length, Math.ceil(msg.length / (room - FRAGMENT_HEADER_BYTES)))
    assert.ok(frags.every(f => f.length === room))
    const r = new Reassembler({ maxMessages: 4, maxBytes: 64 * 1024, timeoutMs: 30_000 })
    const order = [3, 0, 5, 1, 4, 2]
    let last: ReturnType<typeof r.add> | undefined
    for (const i of order) last = r.add(frags[i]!, 1000)
    assert.equal(last?.status, 'complete')
    if (last?.status === 'complete') assert.deepEqual(last.message, msg)
    assert.equal(r.partialMessages, 0)
    assert.equal(r.bytesHeld, 0)
  })

  it('reports duplicates, during and after reassembly', function () {
    const frags = fragmentMessage(rng.bytes(5000), rng.bytes(16), room)
    const r = new Reassembler({ maxMessages: 4, maxBytes: 64 * 1024, timeoutMs: 30_000 })
    assert.equal(r.add(frags[0]!, 0).status, 'incomplete')
    assert.equal(r.add(frags[0]!, 0).status, 'duplicate')
    for (const f of frags.slice(1)) r.add(f, 1)
    assert.equal(r.add(frags[1]!, 2).status, 'duplicate', 're-sent fragment of a completed message')
  })

  it('refuses a new message when the message or byte bounds are reached, and frees them on timeout', function () {
    const r = new Reassembler({ maxMessages: 2, maxBytes: 3000, timeoutMs: 1000 })
    const a = fragmentMessage(rng.bytes(3000), rng.bytes(16), room)
    const b = fragmentMessage(rng.bytes(3000), rng.bytes(16), room)
    const c = fragmentMessage(rng.bytes(3000), rng.bytes(16), room)
    assert.equal(r.add(a[0]!, 0).status, 'incomplete')
    const rb = r.add(b[0]!, 0)
    assert.deepEqual(rb.status === 'rejected' && [rb.code, rb.detail], ['SEAL_REASSEMBLY_FULL', 'bytes'])
    assert.equal(r.add(b[1]!, 0).status, 'incomplete')
    const rc = r.add(c[0]!, 0)
    assert.deepEqual(rc.status === 'rejected' && [rc.code, rc.detail], ['SEAL_REASSEMBLY_FULL', 'messages'])
    assert.equal(r.bytesHeld, 3000)
    assert.equal(r.expire(999), 0)
    assert.equal(r.expire(1000), 2)
    assert.equal(r.bytesHeld, 0)
    assert.equal(r.add(c[0]!, 1001).status, 'incomplete')
  })

  it('refuses malformed and inconsistent fragments with stable codes', function () {
    const frags = fragmentMessage(rng.bytes(3000), rng.bytes(16), room)
    const code = (b: Buffer): string => {
      const p = parseFragment(b)
      return p.ok ? 'ok' : `${p.code}/${p.detail ?? ''}`
    }
    const mut = (f: (b: Buffer) => void): Buffer => {
      const b = Buffer.from(frags[0]!)
      f(b)
      return b
    }
    assert.equal(
      code(
        mut(b => {
          b[0] = 2
        })
      ),
      'SEAL_FRAGMENT_MALFORMED/header'
    )
    assert.equal(
      code(
        mut(b => {
          b.writeUInt16BE(2, 17)
        })
      ),
      'SEAL_FRAGMENT_MALFORMED/index'
    )
    assert.equal(
      code(
        mut(b => {
          b.writeUInt16BE(0, 19)
        })
      ),
      'SEAL_FRAGMENT_MALFORMED/index'
    )
    assert.equal(
      code(
        mut(b => {
          b.writeUInt16BE(room, 21)
        })
      ),
      'SEAL_FRAGMENT_MALFORMED/length'
    )
    assert.equal(code(Buffer.concat([frags[1]!, Buffer.of(1)])), 'SEAL_FRAGMENT_MALFORMED/padding')
    assert.equal(code(frags[0]!.subarray(0, 10)), 'SEAL_FRAGMENT_MALFORMED/header')
    const r = new Reassembler({ maxMessages: 2, maxBytes: 10_000, timeoutMs: 1000 })
    r.add(frags[0]!, 0)
    const res = r.add(
      mut(b => {
        b.writeUInt16BE(3, 19)
      }),
      0
    )
    assert.deepEqual(res.status === 'rejected' && res.code, 'SEAL_FRAGMENT_INCONSISTENT')
  })

  it('refuses bad arguments with stable codes', function () {
    assert.throws(() => fragmentMessage(Buffer.alloc(1), Buffer.alloc(15), room), { code: 'MIX_BAD_ARGUMENT' })
    assert.throws(() => fragmentMessage(Buffer.alloc(1), Buffer.alloc(16), FRAGMENT_HEADER_BYTES), {
      code: 'MIX_BAD_ARGUMENT'
    })
    assert.throws(() => new Reassembler({ maxMessages: 0, maxBytes: 1, timeoutMs: 1 }), {
      code: 'MIX_BAD_ARGUMENT',
      message: 'MIX_BAD_ARGUMENT: limits.maxMessages must be a positive integer (got 0)'
    })
  })
})

/**
 * midFrame (daemon/relay/listener/server.ts) reads ws receiver internals to see a frame that has
 * started and not finished: the listener's frame deadline rests on it. A real ws server on
 * loopback and a raw client that sends frames in pieces; this fails if an upgrade of ws moves them.
 */
import assert from 'node:assert/strict'
import type { Socket } from 'node:net'
import { type WebSocket, WebSocketServer } from 'ws'
import { midFrame } from '../../../daemon/relay/listener/server.ts'
import { maskedFrame, rawUpgrade } from '../../helpers/hostile.ts'

async function until(what: string, ok: () => boolean): Promise<void> {
  const end = Date.now() + 2000
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

describe('midFrame', function () {
  let wss: WebSocketServer
  let server: WebSocket
  let client: Socket
  let messages = 0

  beforeEach(async function () {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    await new Promise<void>(resolve => wss.once('listening', () => resolve()))
    const accepted = new Promise<WebSocket>(resolve => wss.once('connection', resolve))
    const up = await rawUpgrade((wss.address() as { port: number }).port, '/')
    assert.equal(up.status, 101)
    client = up.socket
    server = await accepted
    messages = 0
    server.on('message', () => {
      messages++
    })
  })

  afterEach(async function () {
    client.destroy()
    server.terminate()
    await new Promise(resolve => wss.close(resolve))
  })

  it('is false on an idle connection', function () {
    assert.equal(midFrame(server), false)
  })

  it('is true while half a frame is in, false once the rest has come', async function () {
    const frame = maskedFrame(Buffer.alloc(2557, 1))
    const half = frame.length >> 1
    client.write(frame.subarray(0, half))
    await until('half a frame', () => midFrame(server))
    assert.equal(messages, 0)
    client.write(frame.subarray(half))
    await until('the message', () => messages === 1)
    assert.equal(midFrame(server), false)
  })

  it('is true after the first byte of a frame header alone', async function () {
    const frame = maskedFrame(Buffer.alloc(8))
    client.write(frame.subarray(0, 1))
    await until('one byte', () => midFrame(server))
    client.write(frame.subarray(1))
    await until('the message', () => messages === 1)
    assert.equal(midFrame(server), false)
  })

  it('is true between the fragments of a message', async function () {
    const first = maskedFrame(Buffer.alloc(8, 2))
    first[0] = 0x02 // binary, not final
    const last = maskedFrame(Buffer.alloc(8, 3))
    last[0] = 0x80 // continuation, final
    client.write(first)
    await until('the first fragment', () => midFrame(server))
    client.write(last)
    await until('the message', () => messages === 1)
    assert.equal(midFrame(server), false)
  })
})

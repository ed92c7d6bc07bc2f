/**
 * Where a delivered message's time went, end to end on the loopback testnet (fast mixing): every
 * 'delivered' event carries stages (client/latency.ts) that add up to its latency, and with
 * mailbox pushes (the default) the ack waits in the mailbox a fraction of what it waits for a
 * pull. The positive control is a client that does not ask for pushes (`mailboxPush: false`),
 * pulled once a second: its acks wait about half a second there. (Stage estimates, compared with
 * each other; the latency gain is measured by bench:devnet, not asserted here.)
 */
import assert from 'node:assert/strict'
import type { ClientOptions, LatencyStages, SealmixClient } from '../../client/index.ts'
import { STAGES } from '../../client/index.ts'
import { type CryptoSuite, loadCrypto } from '../../mix/index.ts'
import type { Chat } from '../helpers/chat.ts'
import { startChatNet } from '../helpers/chat.ts'
import { type Testnet, waitFor } from '../helpers/testnet.ts'

interface Delivered {
  readonly messageId: string
  readonly latencyMs: number
  readonly stages?: LatencyStages
  readonly epochs: number
}

const MESSAGES = 10

describe('ack latency: stages of a delivered message, and mailbox pushes', function () {
  this.timeout(120_000)
  let c: CryptoSuite
  let net: Testnet
  let chat: Chat
  const clients: SealmixClient[] = []

  before(async function () {
    c = await loadCrypto()
    ;({ net, chat } = await startChatNet(c, { clientRatePerSec: 20, clientLoopRatePerSec: 1 }))
  })
  after(async function () {
    for (const cl of clients) cl.close()
    await chat?.stop()
    await net?.stop()
  })

  /** Send MESSAGES messages from alice to bob, one every 300 ms, and collect their 'delivered' events. */
  async function deliveries(o: Partial<ClientOptions>): Promise<Delivered[]> {
    const client = chat.client(chat.alice, { pullIntervalMs: 1000, ...o })
    clients.push(client)
    const got: Delivered[] = []
    client.on('delivered', (e: Delivered) => got.push(e))
    client.start()
    await waitFor(() => client.connected, 10_000, 'connected')
    for (let i = 0; i < MESSAGES; i++) {
      client.send(chat.contact(chat.bob), `hello ${i}`)
      await new Promise(resolve => setTimeout(resolve, 300))
    }
    await waitFor(() => got.length === MESSAGES, 60_000, 'every message delivered')
    client.close()
    return got
  }

  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length

  it('the stages add up to the latency; pushed, an ack waits in the mailbox far less than for a pull each second', async function () {
    const pushed = await deliveries({})
    const pulled = await deliveries({ mailboxPush: false })
    for (const d of [...pushed, ...pulled]) {
      assert.ok(d.stages !== undefined, 'every message has stages')
      assert.equal(
        STAGES.reduce((s, k) => s + d.stages![k], 0),
        d.latencyMs,
        'they add up to the latency'
      )
      assert.ok(STAGES.every(k => d.stages![k] >= 0))
      assert.equal(d.epochs, 0, 'a static document: no epoch changes')
    }
    // The mailbox stage is half the gap between two reads of the mailbox: pushes come every 100 ms,
    // pulls every second. Compared with each other, not with a threshold, so that a loaded machine
    // (which stretches both) does not decide it; what the push saves in time is bench:devnet's to say.
    const waitPushed = mean(pushed.map(d => d.stages!.mailboxMs))
    const waitPulled = mean(pulled.map(d => d.stages!.mailboxMs))
    assert.ok(
      waitPushed < waitPulled / 2,
      `pushed: ${waitPushed.toFixed(0)} ms in the mailbox; positive control, pulled: ${waitPulled.toFixed(0)} ms`
    )
  })
})

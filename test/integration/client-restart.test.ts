/**
 * A client restarted mid-message, on the loopback testnet (real relays, sockets, LevelDB, a real
 * ingress before the stand-in homeserver): alice sends, the ingress holds the delivery (and so its
 * ack) until her client is closed, then lets it go; the ack waits in her mailbox. A new client on
 * the same mailbox and the same store (closed and opened again from disk) matches the ack through
 * the kept SURB token and says 'delivered' for the original message id, with the latency from the
 * original send, and sends nothing again. The positive control runs the same without a store: the
 * new client takes the ack from the mailbox, cannot open it, and nobody is ever told 'delivered'.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClientStore, type SealmixClient, storageKeyFor } from '../../client/index.ts'
import { type Delivery, matrixSink, type SinkResult } from '../../daemon/index.ts'
import { ACK_STATUS, type CryptoSuite, loadCrypto, systemRng } from '../../mix/index.ts'
import { AS_TOKEN, type Chat, createChat, enrol, SERVER } from '../helpers/chat.ts'
import { createTestnet, metric, type Testnet, waitFor } from '../helpers/testnet.ts'

describe('a client restarted mid-message, on the testnet', function () {
  this.timeout(120_000)
  let c: CryptoSuite
  let net: Testnet
  let chat: Chat
  let root: string
  const seen: Delivery[] = []
  let gate: Promise<void> | null = null
  const clients: SealmixClient[] = []

  before(async function () {
    c = await loadCrypto('sodium-native')
    root = mkdtempSync(join(tmpdir(), 'sealmix-client-restart-'))
    net = await createTestnet(c, { mixing: { clientRatePerSec: 25, clientLoopRatePerSec: 2 } })
    for (const n of net.nodes) await net.start(n)
    await waitFor(() => net.linksUp(), 15_000, 'relay links up')
    chat = await createChat(c, net)
    const real = matrixSink({ url: chat.hsUrl, asToken: AS_TOKEN, botUserId: `@sealmix:${SERVER}` })
    await chat.startIngress({
      deliver: async (d): Promise<SinkResult> => {
        seen.push(d)
        if (gate !== null) await gate
        return await real.deliver(d)
      }
    })
    await waitFor(() => chat.ingress!.linksUp === 1, 10_000, 'ingress link up')
    await enrol(chat, chat.alice)
    await enrol(chat, chat.bob)
  })
  afterEach(function () {
    for (const cl of clients.splice(0)) cl.close()
  })
  after(async function () {
    await chat?.stop()
    await net?.stop()
    if (root !== undefined) rmSync(root, { recursive: true, force: true })
  })

  const gwA = () => net.byName('gwA').relay!
  const clientLinks = async (): Promise<number> => await metric(gwA(), 'sealmix_connections', { link: 'client' })
  const mailboxPackets = async (): Promise<number> => await metric(gwA(), 'sealmix_mailbox_packets')
  const answered = async (): Promise<number> =>
    (await chat.ingress!.metrics.answers.get()).values.find(v => v.labels.result === 'sent')?.value ?? 0

  /**
   * No loop cover (loops would come and go through the same mailbox) and an ack timeout far beyond
   * the test, so that a fragment is never sent again: an ack that settles the message is the one
   * of the first send.
   */
  function alice(mailboxId: Buffer, store?: ClientStore): SealmixClient {
    const cl = chat.client(chat.alice, { cover: false, mailboxId, ackTimeoutMs: 600_000, store })
    clients.push(cl)
    return cl
  }

  /**
   * The first run: alice sends one message (one fragment) and her client is closed once the
   * ingress has it, before its ack can leave; then the ingress lets it go, and the ack waits in
   * the mailbox, with nobody connected to take it.
   */
  async function firstRun(mailboxId: Buffer, store?: ClientStore): Promise<{ id: string; sentAt: number }> {
    await waitFor(async () => (await clientLinks()) === 0, 10_000, 'no client on gwA')
    await waitFor(async () => (await mailboxPackets()) === 0, 10_000, 'an empty mailbox at gwA')
    const a = alice(mailboxId, store)
    a.start()
    await once(a, 'up')
    let release!: () => void
    gate = new Promise(resolve => {
      release = resolve
    })
    let told = false
    a.on('delivered', () => {
      told = true
    })
    const sentAt = Date.now()
    const id = a.send(chat.contact(chat.bob), 'sent just before a restart')
    await waitFor(() => a.stats.realSent >= 1, 10_000, 'the fragment left')
    await waitFor(() => seen.some(d => d.messageId === id), 10_000, 'the ingress has it')
    await a.closeAndFlush()
    if (store !== undefined) await store.close()
    const before = await answered()
    release()
    gate = null
    await waitFor(async () => (await answered()) > before, 10_000, 'the ingress answered')
    await waitFor(async () => (await mailboxPackets()) >= 1, 10_000, 'the ack waits in the mailbox')
    await waitFor(async () => (await clientLinks()) === 0, 10_000, 'the first client gone from gwA')
    assert.equal(told, false, 'the first run closed before its ack')
    assert.equal(a.stats.acks, 0)
    return { id, sentAt }
  }

  function outcome(cl: SealmixClient, id: string): Promise<{ latencyMs: number }> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no 'delivered' for ${id.slice(0, 8)}`)), 30_000)
      cl.on('delivered', (e: { messageId: string; latencyMs: number }) => {
        if (e.messageId !== id) return
        clearTimeout(t)
        resolve(e)
      })
      cl.on('failed', (e: { messageId: string; code: string }) => {
        if (e.messageId !== id) return
        clearTimeout(t)
        reject(new Error(`failed: ${e.code}`))
      })
    })
  }

  it("with a store: the new client matches the ack through the kept SURB and says 'delivered' for the original id", async function () {
    const mailboxId = systemRng(c).bytes(32)
    const at = join(root, 'alice-store')
    const key = storageKeyFor(c, chat.alice.device)
    const { id, sentAt } = await firstRun(mailboxId, await ClientStore.open(at, c, key))

    const restartedAt = Date.now()
    const store = await ClientStore.open(at, c, key)
    const b = alice(mailboxId, store)
    assert.equal(b.pending, 1, 'the message is pending again')
    const acked: unknown[] = []
    b.on('acked', e => acked.push(e))
    const settled = outcome(b, id)
    b.start()
    const { latencyMs } = await settled
    assert.ok(latencyMs >= restartedAt - sentAt, `latency ${latencyMs} ms counts from the original send`)
    assert.deepEqual(acked, [{ type: 'acked', messageId: id, index: 0, status: ACK_STATUS.delivered }])
    assert.equal(b.stats.acks, 1)
    assert.equal(b.stats.realSent, 0, 'nothing was sent again')
    assert.equal(seen.filter(d => d.messageId === id).length, 1, 'the ingress had it once')
    assert.equal(b.pending, 0)
    await b.closeAndFlush()
    await store.close()
    const after = await ClientStore.open(at, c, key)
    const kept = after.takeSnapshot()
    await after.close()
    assert.deepEqual([kept.messages, kept.surbs], [[], []], 'a settled message and its used SURB are gone from disk')
  })

  it("without a store (control): the new client takes the ack from the mailbox but cannot open it; 'delivered' never comes", async function () {
    const mailboxId = systemRng(c).bytes(32)
    const { id } = await firstRun(mailboxId)

    const b = alice(mailboxId)
    assert.equal(b.pending, 0, 'the message is forgotten')
    let events = 0
    for (const name of ['acked', 'delivered', 'failed']) b.on(name, () => events++)
    b.start()
    // The ack leaves the mailbox only when a client acknowledges its frame, after handling it.
    await waitFor(async () => (await mailboxPackets()) === 0, 10_000, 'the new client took the ack')
    await new Promise(resolve => setTimeout(resolve, 500))
    assert.equal(events, 0, `no event about ${id.slice(0, 8)} or any other message`)
    assert.equal(b.stats.acks, 0, 'the ack did not open: its SURB token was lost with the first run')
    assert.equal(b.stats.realSent, 0, 'and nothing is sent again: nobody will ever say delivered')
    assert.equal(seen.filter(d => d.messageId === id).length, 1, 'though the ingress did deliver it')
  })
})

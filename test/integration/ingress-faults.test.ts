/**
 * The ingress as its own process, killed with SIGKILL while messages flow (
 * for the ingress): no message whose delivery was acknowledged is lost, and every message reaches
 * the homeserver exactly once (the transaction id de-duplicates a repeated delivery); room
 * messages likewise, and a replayed room batch is refused after the restart (the replay cache is
 * on disk).
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { newRoomKey, registerRoomKey } from '../../client/index.ts'
import {
  type CryptoSuite,
  encodeSubmit,
  KIND_ROOM,
  loadCrypto,
  ROOM_EVENT_TYPE,
  sealRoomMessage,
  signDelivery,
  systemRng
} from '../../mix/index.ts'
import { freePort } from '../../tools/index.ts'
import { SEALMIX } from '../helpers/bundle.ts'
import { type Chat, createChat, enrol } from '../helpers/chat.ts'
import { assertSameMultiset } from '../helpers/multiset.ts'
import { createTestnet, httpGet, metric, PROJECT, type Testnet, waitFor } from '../helpers/testnet.ts'

describe('ingress faults (a real process, SIGKILL)', function () {
  this.timeout(120_000)
  let c: CryptoSuite
  let net: Testnet
  let chat: Chat
  let proc: ChildProcess | null = null
  let metricsPort = 0

  async function spawnIngress(): Promise<void> {
    const p = spawn(process.execPath, [...SEALMIX, 'ingress', '--config', chat.ingressConfigFile(metricsPort)], {
      cwd: PROJECT,
      stdio: 'ignore'
    })
    proc = p
    await waitFor(
      async () => (await httpGet(metricsPort, '/readyz').catch(() => ({ status: 0 }))).status === 200,
      20_000,
      'ingress ready'
    )
  }

  async function kill9(): Promise<void> {
    const p = proc
    if (p === null || p.exitCode !== null) return
    await new Promise(resolve => {
      p.once('exit', resolve)
      p.kill('SIGKILL')
    })
    proc = null
  }

  before(async function () {
    c = await loadCrypto('sodium-native')
    net = await createTestnet(c, { mixing: { clientRatePerSec: 40, clientLoopRatePerSec: 1 } })
    for (const n of net.nodes) await net.start(n)
    await waitFor(() => net.linksUp(), 15_000, 'relay links up')
    chat = await createChat(c, net)
    metricsPort = await freePort()
    await spawnIngress()
    await enrol(chat, chat.alice)
    await enrol(chat, chat.bob)
  })
  after(async function () {
    await kill9()
    await chat?.stop()
    await net?.stop()
  })

  it('kill -9 of the ingress twice while 40 messages flow: every message acknowledged, each at the homeserver exactly once', async function () {
    const gwB = net.byName('gwB').relay!
    const ingressAcks = async (): Promise<number> => await metric(gwB, 'sealmix_delivered_total', { link: 'ingress' })
    const acksBefore = await ingressAcks()
    const alice = chat.client(chat.alice, { ackTimeoutMs: 2000, maxAttempts: 8 })
    alice.start()
    // Every 'delivered' event, kept in order: one message delivered twice fails the test.
    const delivered: string[] = []
    const failed: string[] = []
    alice.on('delivered', (e: { messageId: string }) => delivered.push(e.messageId))
    alice.on('failed', (e: { messageId: string; code: string }) => failed.push(e.code))
    const texts = Array.from({ length: 40 }, (_, i) => `message ${i} ${'x'.repeat(i % 2 === 0 ? 10 : 3000)}`)
    const ids = texts.map(t => alice.send(chat.contact(chat.bob), t))
    for (const after of [8, 20]) {
      await waitFor(() => delivered.length >= after, 30_000, `${after} delivered`)
      await kill9()
      // The exit gateway has noticed: what comes now waits in its spool.
      await waitFor(
        async () => (await metric(gwB, 'sealmix_connections', { link: 'ingress' })) === 0,
        10_000,
        'gwB sees the ingress gone'
      )
      await spawnIngress()
    }
    await waitFor(() => delivered.length >= ids.length || failed.length > 0, 60_000, 'every message acknowledged')
    alice.close()
    assert.deepEqual(failed, [])
    // Barrier instead of a sleep: the ingress has handled and acknowledged every real packet alice
    // sent (re-sends included; the ingress acks a DELIVER only after handing it on or refusing it),
    // so no copy of any message is still on its way to the homeserver.
    await waitFor(
      async () => (await ingressAcks()) - acksBefore >= alice.stats.realSent,
      30_000,
      'every packet alice sent handled by the ingress'
    )
    assert.equal((await ingressAcks()) - acksBefore, alice.stats.realSent, 'one ingress ack per packet alice sent')
    assertSameMultiset(delivered, ids, 'delivered events')
    // The kills cost re-sends: more packets left than the 40 messages' 100 fragments.
    assert.ok(alice.stats.realSent > 100, `re-sends happened (${alice.stats.realSent} packets)`)
    const bob = chat.client(chat.bob)
    const got = (await chat.envelopesFor(chat.bob))
      .map(e => bob.open(e))
      .map(r => (r.ok ? r.value.content.toString() : 'unopenable'))
    for (const t of texts) assert.equal(got.filter(g => g === t).length, 1, `exactly once: ${t.slice(0, 12)}`)
    assert.equal(got.length, texts.length)
  })

  it('room messages through a kill -9: each posted exactly once; a replayed batch refused after the restart', async function () {
    const matrix = async (token: string, path: string, body: unknown): Promise<Record<string, unknown>> => {
      const r = await fetch(chat.hsUrl + path, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(body)
      })
      assert.equal(r.status, 200, path)
      return (await r.json()) as Record<string, unknown>
    }
    const roomId = String(
      (
        await matrix(chat.alice.token, '/_matrix/client/v3/createRoom', {
          invite: [chat.bob.device.userId, '@sealmix:example.org']
        })
      ).room_id
    )
    await matrix(chat.bob.token, `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/join`, {})
    const key = newRoomKey(c, systemRng(c), roomId)
    assert.equal(await registerRoomKey(chat.apiUrl, chat.alice.token, key), 'registered')
    const alice = chat.client(chat.alice, { ackTimeoutMs: 2000, maxAttempts: 8, cover: false })
    alice.rooms.set(key)
    alice.start()
    const delivered: string[] = []
    const failed: string[] = []
    alice.on('delivered', (e: { messageId: string }) => delivered.push(e.messageId))
    alice.on('failed', (e: { messageId: string; code: string }) => failed.push(e.code))
    const devices = [chat.alice.device.x25519.publicKey, chat.bob.device.x25519.publicKey]
    // One request built by hand, so that the same bytes can be submitted again after the restart.
    const batch = sealRoomMessage(
      c,
      roomId,
      {
        contentType: 8,
        content: Buffer.from('replay me'),
        senderCert: chat.alice.senderCert!,
        serverCert: chat.alice.serverCert
      },
      chat.alice.device.x25519,
      devices,
      systemRng(c)
    )
    const request = encodeSubmit({
      kind: KIND_ROOM,
      dest: roomId,
      envelope: batch,
      auth: signDelivery(c, key.secretKey, key.keyId, roomId, Date.now(), batch, 'group')
    })
    const ids = [alice.submit(net.ingress.id, request)]
    const texts = Array.from({ length: 12 }, (_, i) => `room message ${i} ${'y'.repeat(i % 2 === 0 ? 10 : 2500)}`)
    for (const t of texts) ids.push(alice.sendToRoom(roomId, t, devices))
    await waitFor(() => delivered.length >= 5, 30_000, '5 delivered')
    await kill9()
    await spawnIngress()
    await waitFor(() => delivered.length >= ids.length || failed.length > 0, 60_000, 'every room message acknowledged')
    assert.deepEqual(failed, [])
    assertSameMultiset(delivered, ids, 'delivered events')
    const sealed = (): Array<Record<string, unknown>> =>
      chat.hs.roomEvents(roomId).filter(e => e.type === ROOM_EVENT_TYPE)
    const batches = sealed().map(e => String((e.content as { batch: string }).batch))
    assert.equal(new Set(batches).size, batches.length, 'no batch posted twice')
    assert.equal(batches.length, ids.length)
    // The same request again, under a new message id, after the restart: the replay cache (on disk) refuses it.
    const again = alice.submit(net.ingress.id, request)
    await waitFor(() => failed.length > 0 || delivered.includes(again), 30_000, 'the replay answered')
    alice.close()
    assert.deepEqual(failed, ['CLIENT_REFUSED'])
    assert.equal(sealed().length, ids.length, 'nothing posted for the replay')
  })
})

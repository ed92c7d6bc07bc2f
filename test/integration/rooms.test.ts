/**
 * Sealed sender in a Matrix room (docs/PROTOCOL.md §15a), end to end through the five-relay
 * testnet, a real ingress and the stand-in homeserver (a fake: no Matrix homeserver runs here)
 * behind a recording proxy, so that the test sees every request the ingress makes:
 * - three members seal, send and open; everyone sees the right sender; what the homeserver
 *   stores and what the ingress sends it carry no sender;
 * - a non-member with a valid SenderCert but no room key is refused, nothing posted;
 * - a member who was removed and rotated out: accepted within the grace of a normal rotation
 *   (and dropped by the members' SDKs: not joined), refused after it; refused at once after a block;
 * - a forged room event is dropped with its own code;
 * - bob receives through matrix-js-sdk syncing from the stand-in, which tells whether the
 *   sender was joined at each event.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  fetchRoomKey,
  newRoomKey,
  nextRoomKey,
  type RoomKey,
  type RoomOpenResult,
  registerRoomKey,
  type SealmixClient
} from '../../client/index.ts'
import { API_RESULTS, ROOM_KEY_RESULTS } from '../../daemon/ingress/metrics.ts'
import {
  type CryptoSuite,
  encodeSubmit,
  KIND_ROOM,
  loadCrypto,
  ROOM_EVENT_TYPE,
  ROOM_KEY_CONTENT_TYPE,
  sealRoomMessage,
  signDelivery,
  systemRng
} from '../../mix/index.ts'
import { type RoomTimelineEvent, syncAll, syncToDevice } from '../../tools/index.ts'
import { AS_TOKEN, type Chat, createChat, enrol, type Person, SERVER } from '../helpers/chat.ts'
import { type MatrixTestClient, startMatrixClient } from '../helpers/matrix-client.ts'
import { createTestnet, type Testnet, waitFor } from '../helpers/testnet.ts'

const BOT = `@sealmix:${SERVER}`
const GRACE_MS = 60_000

interface Recorded {
  method: string
  path: string
  query: URLSearchParams
  auth: string
  body: string
}

/** Forwards to the stand-in and records every request the ingress makes. */
async function recordingProxy(target: string): Promise<{ url: string; log: Recorded[]; server: Server }> {
  const log: Recorded[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (b: Buffer) => chunks.push(b))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const u = new URL(req.url ?? '/', 'http://proxy')
      log.push({
        method: req.method ?? '',
        path: u.pathname,
        query: u.searchParams,
        auth: req.headers.authorization ?? '',
        body
      })
      void fetch(target + (req.url ?? '/'), {
        method: req.method,
        headers: {
          ...(req.headers.authorization !== undefined ? { Authorization: req.headers.authorization } : {}),
          ...(body !== '' ? { 'Content-Type': 'application/json' } : {})
        },
        body: body !== '' ? body : undefined
      })
        .then(async r => {
          res.writeHead(r.status, { 'Content-Type': 'application/json' })
          res.end(await r.text())
        })
        .catch(() => {
          res.writeHead(502)
          res.end()
        })
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, log, server }
}

describe('rooms: sealed sender for a three-member room through five relays', function () {
  this.timeout(180_000)
  let c: CryptoSuite
  let net: Testnet
  let chat: Chat
  let proxy: Awaited<ReturnType<typeof recordingProxy>>
  let clockOffset = 0
  const clients = new Map<Person, SealmixClient>()
  let roomId = ''
  let key1: RoomKey
  /** bob's Matrix client: matrix-js-sdk syncing from the stand-in, as a chat client would. */
  let bobMx: MatrixTestClient
  let bobHanded = 0

  /** The next sealed room event bob's matrix-js-sdk client gets, handed to bob's SDK with the members at that event. */
  async function bobOpensNext(): Promise<RoomOpenResult> {
    const n = bobHanded++
    const e = await bobMx.waitForEvent(() => bobMx.events.length > n, `bob's sealed room event #${n + 1}`, 60_000)
    const ev = bobMx.events[n] ?? e
    return clients.get(chat.bob)!.openRoomEvent(ev, u => bobMx.joinedAt(ev, u))
  }

  async function matrix(p: Person, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const r = await fetch(chat.hsUrl + path, {
      method,
      headers: { Authorization: `Bearer ${p.token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    const j = (await r.json()) as Record<string, unknown>
    if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j)}`)
    return j
  }
  const roomPath = (what: string): string => `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/${what}`

  /** The outcome of one message: 'delivered' or the failure code. */
  async function outcome(client: SealmixClient, id: string): Promise<string> {
    return await new Promise(resolve => {
      const on = (e: { messageId: string; code?: string }, what: string): void => {
        if (e.messageId !== id) return
        client.off('delivered', delivered)
        client.off('failed', failed)
        resolve(what === 'delivered' ? 'delivered' : (e.code ?? 'failed'))
      }
      const delivered = (e: { messageId: string }): void => on(e, 'delivered')
      const failed = (e: { messageId: string; code: string }): void => on(e, 'failed')
      client.on('delivered', delivered)
      client.on('failed', failed)
    })
  }

  /** Every one of `ids` delivered (listening to all of them at once: they may arrive in any order). */
  async function delivered(client: SealmixClient, ids: readonly string[]): Promise<void> {
    assert.deepEqual(
      await Promise.all(ids.map(async id => await outcome(client, id))),
      ids.map(() => 'delivered')
    )
  }

  const devices = (): Uint8Array[] => [chat.alice, chat.bob, chat.carol].map(p => p.device.x25519.publicKey)
  const sealedEvents = (): Array<Record<string, unknown>> =>
    chat.hs.roomEvents(roomId).filter(e => e.type === ROOM_EVENT_TYPE)

  /** Every sealed event of the room as `p`'s device opens it, with the membership at each event from the timeline. */
  async function openAll(p: Person): Promise<RoomOpenResult[]> {
    const s = await syncAll({ url: chat.hsUrl, token: p.token }, undefined)
    const timeline = s.roomEvents.filter(e => e.roomId === roomId)
    return opened(p, timeline)
  }
  function opened(p: Person, timeline: readonly RoomTimelineEvent[]): RoomOpenResult[] {
    const joined = new Set<string>()
    const out: RoomOpenResult[] = []
    for (const e of timeline) {
      if (e.type === 'm.room.member' && e.stateKey !== undefined) {
        if (e.content.membership === 'join') joined.add(e.stateKey)
        else joined.delete(e.stateKey)
      }
      if (e.type === ROOM_EVENT_TYPE) out.push(clients.get(p)!.openRoomEvent(e, u => joined.has(u)))
    }
    return out
  }

  /** Room keys shared to `p` so far, accepted when their sender is joined (the stand-in's member list). */
  async function takeKeys(p: Person): Promise<string[]> {
    const r = await syncToDevice({ url: chat.hsUrl, token: p.token }, undefined)
    const results: string[] = []
    for (const e of r.events) {
      const o = clients.get(p)!.open(Buffer.from(String(e.content.envelope), 'base64'))
      if (!o.ok || o.value.contentType !== ROOM_KEY_CONTENT_TYPE) continue
      const a = await clients.get(p)!.acceptRoomKey(
        o.value,
        (room, u) => chat.hs.joinedMembers(room).includes(u),
        async room => await fetchRoomKey(chat.apiUrl, p.token, room)
      )
      results.push(a.kind)
    }
    return results
  }

  before(async function () {
    c = await loadCrypto('sodium-native')
    net = await createTestnet(c, { mixing: { clientRatePerSec: 40, clientLoopRatePerSec: 1 } })
    for (const n of net.nodes) await net.start(n)
    await waitFor(() => net.linksUp(), 15_000, 'relay links up')
    chat = await createChat(c, net)
    proxy = await recordingProxy(chat.hsUrl)
    await chat.startIngress(undefined, {
      homeserverUrl: proxy.url,
      now: () => Date.now() + clockOffset,
      roomGraceMs: GRACE_MS
    })
    await waitFor(() => chat.ingress!.linksUp === 1, 15_000, 'ingress link up')
    for (const p of [chat.alice, chat.bob, chat.carol]) {
      await enrol(chat, p)
      const client = chat.client(p, { cover: false })
      client.start()
      clients.set(p, client)
    }
    // alice makes the room and invites bob, carol and the ingress's bot; bob and carol join.
    roomId = String(
      (
        await matrix(chat.alice, 'POST', '/_matrix/client/v3/createRoom', {
          name: 'sealed',
          invite: [chat.bob.device.userId, chat.carol.device.userId, BOT]
        })
      ).room_id
    )
    for (const p of [chat.bob, chat.carol]) await matrix(p, 'POST', roomPath('join'), {})
    bobMx = await startMatrixClient({
      baseUrl: chat.hsUrl,
      accessToken: chat.bob.token,
      userId: chat.bob.device.userId,
      deviceId: chat.bob.device.deviceId,
      eventType: ROOM_EVENT_TYPE
    })
  })
  after(async function () {
    await bobMx?.stop()
    for (const cl of clients.values()) cl.close()
    await chat?.stop()
    proxy?.server.close()
    await net?.stop()
  })

  it('every member opens every message and sees its sender; nothing at the homeserver names one', async function () {
    key1 = newRoomKey(c, systemRng(c), roomId)
    assert.equal(await registerRoomKey(chat.apiUrl, chat.alice.token, key1), 'registered')
    assert.ok(chat.hs.joinedMembers(roomId).includes(BOT), 'the bot joined when the key was registered')
    const alice = clients.get(chat.alice)!
    alice.rooms.set(key1)
    await delivered(alice, alice.shareRoomKey(key1, [chat.contact(chat.bob), chat.contact(chat.carol)]))
    for (const p of [chat.bob, chat.carol]) assert.deepEqual(await takeKeys(p), ['accepted'])

    const sent = new Map<string, string>()
    for (const p of [chat.alice, chat.bob, chat.carol]) {
      const text = `hello from ${p.device.userId}`
      const id = clients.get(p)!.sendToRoom(roomId, text, devices())
      sent.set(text, p.device.userId)
      assert.equal(await outcome(clients.get(p)!, id), 'delivered')
    }
    assert.equal(sealedEvents().length, 3)
    // bob: through matrix-js-sdk's timeline, each event with the room's members at that event.
    const bobs = [await bobOpensNext(), await bobOpensNext(), await bobOpensNext()]
    assert.equal(bobs.filter(r => r.kind === 'own').length, 1, 'bob finds his own message')
    const bobGot = bobs.flatMap(r => (r.kind === 'received' ? [r] : []))
    assert.equal(bobGot.length, 2, "bob opens the two others' messages")
    for (const r of bobGot) assert.equal(sent.get(r.message.content.toString()), r.message.sender.userId)
    for (const p of [chat.alice, chat.carol]) {
      const results = await openAll(p)
      assert.equal(results.filter(r => r.kind === 'own').length, 1, `${p.device.userId} finds its own message`)
      const got = results.flatMap(r => (r.kind === 'received' ? [r] : []))
      assert.equal(got.length, 2, `${p.device.userId} opens the two others' messages`)
      for (const r of got) assert.equal(sent.get(r.message.content.toString()), r.message.sender.userId)
    }
    // The stored sealed events: sent by the bot, holding nothing but the batch.
    const needles = [chat.alice, chat.bob, chat.carol].flatMap(p => [
      p.device.userId,
      p.device.deviceId,
      Buffer.from(p.device.x25519.publicKey).toString('hex'),
      Buffer.from(p.device.x25519.publicKey).toString('base64'),
      Buffer.from(p.device.ed25519.publicKey).toString('base64')
    ])
    for (const e of sealedEvents()) {
      assert.equal(e.sender, BOT)
      assert.deepEqual(Object.keys(e.content as object), ['batch'])
      const text = JSON.stringify(e)
      for (const n of needles) assert.equal(text.includes(n), false, `a stored event holds ${n}`)
    }
    // What the ingress sent the homeserver to post them: its own user, its own token, the batch only.
    const posts = proxy.log.filter(r => r.method === 'PUT' && r.path.includes('/send/'))
    assert.equal(posts.length, 3)
    for (const r of posts) {
      assert.equal(r.query.get('user_id'), BOT)
      assert.equal(r.auth, `Bearer ${AS_TOKEN}`)
      assert.deepEqual(Object.keys(JSON.parse(r.body) as object), ['batch'])
      for (const n of needles) assert.equal(r.body.includes(n) || r.path.includes(n), false)
    }
  })

  it('a non-member with a valid SenderCert but no room key: refused at the ingress, nothing posted', async function () {
    // dave: alice's device outside the room, with a key of its own making under the room's key id.
    const rng = systemRng(c)
    const forgedKey = c.signSeedKeypair(rng.bytes(32))
    const batch = sealRoomMessage(
      c,
      roomId,
      { contentType: 8, content: Buffer.from('let me in'), senderCert: chat.alice.senderCert!, serverCert: undefined },
      chat.alice.device.x25519,
      devices(),
      rng
    )
    const request = encodeSubmit({
      kind: KIND_ROOM,
      dest: roomId,
      envelope: batch,
      auth: signDelivery(c, forgedKey.secretKey, key1.keyId, roomId, Date.now(), batch, 'group')
    })
    const before = sealedEvents().length
    const alice = clients.get(chat.alice)!
    assert.equal(await outcome(alice, alice.submit(chat.ingress!.id, request)), 'CLIENT_REFUSED')
    assert.equal(sealedEvents().length, before, 'nothing posted')
  })

  it('a removed member is rotated out: accepted within the grace (and dropped by the SDK), refused after it', async function () {
    await matrix(chat.alice, 'POST', roomPath('kick'), { user_id: chat.carol.device.userId, reason: 'removed' })
    const key2 = nextRoomKey(c, systemRng(c), key1, { block: false })
    assert.equal(await registerRoomKey(chat.apiUrl, chat.alice.token, key2), 'rotated')
    const alice = clients.get(chat.alice)!
    alice.rooms.set(key2)
    await delivered(alice, alice.shareRoomKey(key2, [chat.contact(chat.bob)]))
    assert.deepEqual(await takeKeys(chat.bob), ['accepted'])

    const carol = clients.get(chat.carol)!
    const before = sealedEvents().length
    assert.equal(await outcome(carol, carol.sendToRoom(roomId, 'still here', devices())), 'delivered')
    assert.equal(sealedEvents().length, before + 1, 'posted within the grace')
    // bob's matrix-js-sdk client has carol as left at that event: his SDK drops it.
    assert.deepEqual(await bobOpensNext(), { kind: 'rejected', code: 'CLIENT_ROOM_SENDER_NOT_JOINED' })

    clockOffset = GRACE_MS + 1000
    assert.equal(await outcome(carol, carol.sendToRoom(roomId, 'after the grace', devices())), 'CLIENT_REFUSED')
    assert.equal(sealedEvents().length, before + 1, 'nothing posted after the grace')
    // bob, with the new key, still gets through.
    const bob = clients.get(chat.bob)!
    assert.equal(await outcome(bob, bob.sendToRoom(roomId, 'bob on key 2', devices())), 'delivered')
  })

  it('a block ends the old key at once; the blocked member cannot register or share a key of her own', async function () {
    clockOffset = 0
    // carol is back in the room, with the current key.
    await matrix(chat.alice, 'POST', roomPath('invite'), { user_id: chat.carol.device.userId })
    await matrix(chat.carol, 'POST', roomPath('join'), {})
    const alice = clients.get(chat.alice)!
    const key2 = alice.rooms.get(roomId)!
    await delivered(alice, alice.shareRoomKey(key2, [chat.contact(chat.carol)]))
    assert.ok((await takeKeys(chat.carol)).includes('accepted'))
    const carol = clients.get(chat.carol)!
    assert.equal(await outcome(carol, carol.sendToRoom(roomId, 'carol on key 2', devices())), 'delivered')

    // alice blocks carol: a new key, shared with bob only.
    const key3 = nextRoomKey(c, systemRng(c), key2, { block: true })
    assert.equal(await registerRoomKey(chat.apiUrl, chat.alice.token, key3), 'rotated')
    alice.rooms.set(key3)
    await delivered(alice, alice.shareRoomKey(key3, [chat.contact(chat.bob)]))
    const before = sealedEvents().length
    assert.equal(await outcome(carol, carol.sendToRoom(roomId, 'blocked', devices())), 'CLIENT_REFUSED')
    assert.equal(sealedEvents().length, before, 'nothing posted after the block')

    // A key of carol's own: the ingress wants the current key's proof, and bob wants his key's.
    const mine = nextRoomKey(c, systemRng(c), key2, { block: true })
    await assert.rejects(registerRoomKey(chat.apiUrl, chat.carol.token, mine), /403 SEALMIX_ROTATION_UNPROVEN/)
    await takeKeys(chat.bob)
    await delivered(carol, carol.shareRoomKey(mine, [chat.contact(chat.bob)]))
    assert.ok((await takeKeys(chat.bob)).includes('refused'))
    assert.equal(clients.get(chat.bob)!.rooms.get(roomId)!.keyId, key3.keyId)
    const bob = clients.get(chat.bob)!
    assert.equal(await outcome(bob, bob.sendToRoom(roomId, 'bob on key 3', devices())), 'delivered')
  })

  it('a forged room event (posted by a member, or by the bot of another server) is dropped with its own code', async function () {
    const real = sealedEvents().at(-1)!
    await matrix(chat.bob, 'PUT', roomPath(`send/${ROOM_EVENT_TYPE}/forged-1`), real.content)
    const last = (await openAll(chat.alice)).at(-1)
    assert.deepEqual(last, { kind: 'rejected', code: 'CLIENT_ROOM_EVENT_FORGED' })
    // The bot of another server (which a member could invite) posting a member's batch: not the room's bot.
    const other = clients.get(chat.alice)!.openRoomEvent(
      {
        roomId,
        type: ROOM_EVENT_TYPE,
        sender: '@sealmix:elsewhere.example',
        content: real.content as Record<string, unknown>
      },
      () => true
    )
    assert.deepEqual(other, { kind: 'rejected', code: 'CLIENT_ROOM_EVENT_FORGED' })
  })

  it("only the ingress of the room's server takes its key, and only members may ask for the current one", async function () {
    const foreign = { ...newRoomKey(c, systemRng(c), '!elsewhere:other.example') }
    await assert.rejects(registerRoomKey(chat.apiUrl, chat.alice.token, foreign), /403 SEALMIX_FOREIGN_ROOM/)
    const current = await fetchRoomKey(chat.apiUrl, chat.bob.token, roomId)
    assert.equal(current?.keyId, clients.get(chat.alice)!.rooms.get(roomId)!.keyId)
    await matrix(chat.alice, 'POST', roomPath('kick'), { user_id: chat.carol.device.userId, reason: 'gone' })
    await assert.rejects(fetchRoomKey(chat.apiUrl, chat.carol.token, roomId), /403 SEALMIX_NOT_JOINED/)
    // A share naming another server than the room's: refused even when its key is the registered one.
    const key = clients.get(chat.alice)!.rooms.get(roomId)!
    const bob = clients.get(chat.bob)!
    const forged = bob.rooms.accept(
      { roomId, server: 'other.example', keyId: key.keyId, seed: key.seed, block: false, proof: key.proof },
      true,
      current
    )
    assert.deepEqual(forged, { kind: 'refused', code: 'CLIENT_ROOM_KEY_UNREGISTERED' })
  })

  it('the room key calls are counted with labels from the closed sets, and the rooms gauge moves', async function () {
    const registry = chat.ingress!.metrics.registry
    const api = await registry.getSingleMetric('sealmix_ingress_api_requests_total')!.get()
    const roomKey = new Map(
      api.values.filter(v => v.labels.endpoint === 'room_key').map(v => [v.labels.result, v.value])
    )
    for (const r of roomKey.keys())
      assert.ok(([...API_RESULTS, ...ROOM_KEY_RESULTS] as string[]).includes(String(r)), String(r))
    assert.equal(roomKey.get('registered'), 1)
    assert.equal(roomKey.get('rotated'), 2)
    assert.equal(roomKey.get('no_proof'), 1, "carol's key of her own")
    await waitFor(
      async () => (await registry.getSingleMetric('sealmix_ingress_rooms')!.get()).values[0]?.value === 1,
      15_000,
      'the rooms gauge'
    )
  })
})

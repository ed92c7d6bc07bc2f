/**
 * The client store on a real LevelDB in a temporary directory: every record kind comes back after
 * a reopen, in order; the outbox, SURB table and room keyring written through their listeners come
 * back as they were, so an ack for a fragment sent before the restart settles the original message;
 * the SDK itself takes back its outbox, unrouted messages, room keys and opened envelopes. A wrong
 * storage key, a damaged value, a value moved to another key, a missing version record and another
 * format are refused with their codes, and leave the store as it was; nothing secret or
 * identifying is in the database files in clear (with a positive control that the scan finds
 * what is there in clear).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import {
  CLIENT_STORE_VERSION,
  ClientError,
  ClientStore,
  type Contact,
  newRoomKey,
  RoomKeyring,
  SealmixClient,
  storageKeyFor
} from '../../client/index.ts'
import { Outbox } from '../../client/outbox.ts'
import { roomKeyRecord } from '../../client/rooms.ts'
import { type SurbRecord, SurbTable } from '../../client/surbs.ts'
import { ACK_STATUS, type CryptoSuite, loadCrypto, type Rng, sealMessage, systemRng } from '../../mix/index.ts'
import { testDocument, testRelay } from '../helpers/network.ts'
import { makeDevice, makeServer, senderCert, T0, trustOf } from '../helpers/seal.ts'

describe('client store', function () {
  let c: CryptoSuite
  let rng: Rng
  let root: string
  let n = 0
  const dir = (): string => join(root, `store-${n++}`)

  before(async function () {
    c = await loadCrypto('sodium-native')
    rng = systemRng(c)
    root = mkdtempSync(join(tmpdir(), 'sealmix-client-store-'))
  })
  after(function () {
    rmSync(root, { recursive: true, force: true })
  })

  /** Every byte of the database's files, as LevelDB left them after close. */
  const filesOf = (location: string): Buffer =>
    Buffer.concat(readdirSync(location).map(f => readFileSync(join(location, f))))

  async function refusal(p: Promise<unknown>): Promise<string> {
    try {
      await p
    } catch (e) {
      assert.ok(e instanceof ClientError, String(e))
      return e.code
    }
    assert.fail('was not refused')
  }

  /** Open a store's database directly, bypassing ClientStore, to damage it as a disk or an attacker would. */
  async function raw<T>(location: string, f: (db: Level<string, Uint8Array>) => Promise<T>): Promise<T> {
    const db = new Level<string, Uint8Array>(location, { keyEncoding: 'utf8', valueEncoding: 'view' })
    await db.open()
    try {
      return await f(db)
    } finally {
      await db.close()
    }
  }

  it('keeps every record kind across a reopen, in order, and forgets what was deleted', async function () {
    const at = dir()
    const key = rng.bytes(32)
    const s = await ClientStore.open(at, c, key)
    assert.deepEqual(s.takeSnapshot(), { messages: [], unrouted: [], surbs: [], rooms: [], opened: [] })
    const frag = (b: number, attempts: number, dueMs: number) => ({
      bytes: Buffer.alloc(300, b),
      attempts,
      acked: false,
      dueMs
    })
    s.putMessage({ id: 'bb', ingressId: 'i2', createdMs: 2000, fragments: [frag(1, 0, 0)] })
    s.putMessage({ id: 'aa', ingressId: 'i1', createdMs: 1000, fragments: [frag(2, 0, 0), frag(3, 0, 0)] })
    s.putFragment('aa', 1, { bytes: Buffer.alloc(300, 3), attempts: 2, acked: true, dueMs: 9000 })
    s.putMessage({ id: 'cc', ingressId: 'i3', createdMs: 500, fragments: [frag(4, 0, 0)] })
    s.deleteMessage('cc', 1)
    s.putUnrouted({ id: 'u1', server: 'a.example', request: Buffer.from('request one'), sinceMs: 10 })
    s.putUnrouted({ id: 'u2', server: 'b.example', request: Buffer.from('request two'), sinceMs: 5 })
    s.putUnrouted({ id: 'u3', server: 'c.example', request: Buffer.from('request three'), sinceMs: 1 })
    s.deleteUnrouted('u3')
    const surbs: SurbRecord[] = [
      { id: '02', token: rng.bytes(320), use: { kind: 'ack', messageId: 'aa', index: 1 }, createdMs: 20 },
      { id: '01', token: rng.bytes(320), use: { kind: 'ack', messageId: 'aa', index: 0 }, createdMs: 10 },
      { id: '03', token: rng.bytes(320), use: { kind: 'ack', messageId: 'bb', index: 0 }, createdMs: 30 }
    ]
    for (const r of surbs) s.putSurb(r)
    s.deleteSurb('03')
    const k1 = newRoomKey(c, rng, '!one:example.org')
    const k2 = newRoomKey(c, rng, '!two:example.org')
    s.putRoomKey(roomKeyRecord(k1))
    s.putRoomKey(roomKeyRecord(k2))
    s.putRoomKey(roomKeyRecord(k1)) // set again: now the most recent
    const hashes = [0, 1, 2].map(() => rng.bytes(32).toString('hex'))
    for (const h of hashes) s.putOpened(h)
    s.deleteOpened(hashes[1]!)
    assert.ok(s.pending > 0)
    await s.close()
    assert.equal(s.pending, 0)

    const again = await ClientStore.open(at, c, key)
    const got = again.takeSnapshot()
    await again.close()
    assert.deepEqual(
      got.messages.map(m => [m.id, m.ingressId, m.createdMs, m.fragments.length]),
      [
        ['aa', 'i1', 1000, 2],
        ['bb', 'i2', 2000, 1]
      ],
      'oldest first; the deleted message and its fragment are gone'
    )
    assert.deepEqual(got.messages[0]!.fragments[1], {
      bytes: Buffer.alloc(300, 3),
      attempts: 2,
      acked: true,
      dueMs: 9000
    })
    assert.deepEqual(got.messages[0]!.fragments[0]!.bytes, Buffer.alloc(300, 2))
    assert.deepEqual(got.unrouted, [
      { id: 'u1', server: 'a.example', request: Buffer.from('request one'), sinceMs: 10 },
      { id: 'u2', server: 'b.example', request: Buffer.from('request two'), sinceMs: 5 }
    ])
    assert.deepEqual(got.surbs, [surbs[1], surbs[0]], 'by creation time')
    assert.deepEqual(
      got.rooms.map(r => r.roomId),
      ['!two:example.org', '!one:example.org'],
      'least recently set first'
    )
    assert.deepEqual(got.rooms[1], roomKeyRecord(k1))
    assert.deepEqual(got.opened, [hashes[0], hashes[2]])
  })

  it('brings back a message mid-flight: its ack, after the restart, comes through the kept SURB and settles the original id', async function () {
    const at = dir()
    const key = rng.bytes(32)
    const limits = { ackTimeoutMs: 10_000, maxAttempts: 5, maxFragments: 100 }
    const wire = (s: ClientStore) => ({
      outbox: new Outbox(limits, {
        added: m => s.putMessage(m),
        changed: f => s.putFragment(f.message.id, f.index, f),
        removed: m => s.deleteMessage(m.id, m.fragments.length)
      }),
      surbs: new SurbTable(100, 3600_000, {
        added: (id, e) => {
          if (e.use.kind === 'ack') s.putSurb({ id, ...e })
        },
        removed: (id, e) => {
          if (e.use.kind === 'ack') s.deleteSurb(id)
        }
      })
    })
    // Before: two fragments sent at t=1000 with their SURBs; a loop SURB too (cover: not kept).
    const s1 = await ClientStore.open(at, c, key)
    s1.takeSnapshot()
    const a = wire(s1)
    a.outbox.add('m1', 'ingress', [Buffer.from('zero'), Buffer.from('one')], 1000)
    const ids = [rng.bytes(16), rng.bytes(16)]
    const tokens = [rng.bytes(320), rng.bytes(320)]
    for (const i of [0, 1]) {
      const f = a.outbox.next()!
      a.surbs.add(ids[i]!, tokens[i]!, { kind: 'ack', messageId: 'm1', index: f.index }, 1000)
      a.outbox.markSent(f, 1000)
    }
    a.surbs.add(rng.bytes(16), rng.bytes(320), { kind: 'loop' }, 1000)
    assert.deepEqual(
      a.outbox.onAck('m1', 0, ACK_STATUS.received, 1500).map(e => e.type),
      ['acked']
    )
    a.surbs.take(ids[0]!)
    await s1.close()

    // After: nothing is sent again before the due time; the ack of fragment 1 settles m1.
    const s2 = await ClientStore.open(at, c, key)
    const kept = s2.takeSnapshot()
    assert.equal(kept.surbs.length, 1, 'the taken SURB and the loop SURB are not kept')
    const b = wire(s2)
    assert.deepEqual(b.outbox.restore(kept.messages), [])
    b.surbs.restore(kept.surbs, 5000)
    assert.equal(b.outbox.next(), undefined, 'sent fragments wait for their acks')
    assert.deepEqual(b.outbox.tick(5000), [])
    assert.equal(b.outbox.next(), undefined)
    const e = b.surbs.take(ids[1]!)
    assert.ok(e !== undefined && e.use.kind === 'ack')
    assert.deepEqual(e.token, tokens[1])
    assert.deepEqual(b.outbox.onAck(e.use.messageId, e.use.index, ACK_STATUS.delivered, 6000), [
      { type: 'acked', messageId: 'm1', index: 1, status: ACK_STATUS.delivered },
      { type: 'delivered', messageId: 'm1', latencyMs: 5000 }
    ])
    await s2.close()
    const s3 = await ClientStore.open(at, c, key)
    assert.deepEqual(s3.takeSnapshot(), { messages: [], unrouted: [], surbs: [], rooms: [], opened: [] })
    await s3.close()
  })

  it('re-sends a kept fragment whose due time passed during the restart, and drops expired SURBs from the store', async function () {
    const at = dir()
    const key = rng.bytes(32)
    const s1 = await ClientStore.open(at, c, key)
    s1.takeSnapshot()
    s1.putMessage({
      id: 'm',
      ingressId: 'i',
      createdMs: 0,
      fragments: [
        { bytes: Buffer.from('sent'), attempts: 1, acked: false, dueMs: 1000 },
        { bytes: Buffer.from('never sent'), attempts: 0, acked: false, dueMs: 0 }
      ]
    })
    s1.putSurb({ id: 'aa', token: rng.bytes(64), use: { kind: 'ack', messageId: 'm', index: 0 }, createdMs: 0 })
    await s1.close()
    const s2 = await ClientStore.open(at, c, key)
    const kept = s2.takeSnapshot()
    const o = new Outbox({ ackTimeoutMs: 1000, maxAttempts: 5, maxFragments: 10 })
    o.restore(kept.messages)
    assert.equal(o.next()?.index, 1, 'the fragment never sent is queued at once')
    assert.equal(o.next(), undefined)
    o.tick(1000)
    assert.equal(o.next()?.index, 0, 'the sent one once its ack is overdue')
    const removed: string[] = []
    const t = new SurbTable(10, 3600_000, {
      added: () => undefined,
      removed: id => {
        removed.push(id)
        s2.deleteSurb(id)
      }
    })
    t.restore(kept.surbs, 3600_000)
    assert.deepEqual([t.size, removed], [0, ['aa']])
    await s2.close()
    const s3 = await ClientStore.open(at, c, key)
    assert.deepEqual(s3.takeSnapshot().surbs, [])
    await s3.close()
  })

  it('a smaller outbox fails the kept messages it cannot take; the room keyring and SURB table keep their bounds', async function () {
    const o = new Outbox({ ackTimeoutMs: 1000, maxAttempts: 5, maxFragments: 2 })
    const rec = (id: string, count: number) => ({
      id,
      ingressId: 'i',
      createdMs: 0,
      fragments: Array.from({ length: count }, () => ({ bytes: Buffer.of(1), attempts: 0, acked: false, dueMs: 0 }))
    })
    const refused = o.restore([rec('a', 1), rec('b', 2), rec('c', 1)])
    assert.deepEqual(
      refused.map(r => r.id),
      ['b']
    )
    assert.equal(o.fragments, 2)
    const gone: string[] = []
    const t = new SurbTable(2, 3600_000, { added: () => undefined, removed: id => gone.push(id) })
    t.restore(
      ['01', '02', '03'].map((id, i) => ({ id, token: Buffer.alloc(64), use: { kind: 'loop' }, createdMs: i })),
      10
    )
    assert.deepEqual([t.size, gone], [2, ['01']], 'the oldest beyond the bound is forgotten')
    const forgotten: string[] = []
    const ring = new RoomKeyring(c, { set: () => undefined, removed: id => forgotten.push(id) })
    const k = newRoomKey(c, rng, '!r:example.org')
    ring.restore([roomKeyRecord(k)])
    assert.deepEqual(ring.get('!r:example.org')?.publicKey, k.publicKey, 'the key pair is derived again from the seed')
    assert.deepEqual(forgotten, [])
  })

  it('the SDK takes back its outbox, unrouted messages, room keys and opened envelopes; one client per store', async function () {
    const at = dir()
    const server = makeServer(c, rng, 'example.org')
    const me = makeDevice(c, rng, '@alice:example.org', 'ALICEPHONE')
    const bob = makeDevice(c, rng, '@bob:example.org', 'BOBLAPTOP')
    const device = { userId: me.userId, deviceId: me.deviceId, x25519: me.x, ed25519: me.ed }
    const key = storageKeyFor(c, device)
    assert.equal(key.length, 32)
    // A document without this client's gateway: nothing is dialled, and messages wait.
    const relays = [testRelay(c, rng, 'gateway', 0, 'ws://127.0.0.1:1')]
    const network = testDocument(c, relays, {}, T0)
    const options = {
      crypto: c,
      network,
      gatewayId: rng.bytes(32).toString('hex'),
      device,
      mailboxId: rng.bytes(32),
      trust: trustOf([server]),
      senderCert: senderCert(c, server, me),
      serverCert: server.cert,
      cover: false,
      now: () => T0,
      routeWaitMs: 60_000
    }
    const s1 = await ClientStore.open(at, c, key)
    const a = new SealmixClient({ ...options, store: s1 })
    assert.throws(
      () => new SealmixClient({ ...options, store: s1 }),
      (e: unknown) => e instanceof ClientError && e.code === 'CLIENT_CONFIG_INVALID'
    )
    const queued = a.submit('ab'.repeat(32), rng.bytes(5000))
    const contact: Contact = {
      userId: '@carol:elsewhere.example',
      deviceId: 'C',
      x25519: bob.x.publicKey,
      capability: { keyId: 1, secretKey: c.signSeedKeypair(rng.bytes(32)).secretKey }
    }
    const unrouted = a.send(contact, 'waits for an ingress of elsewhere.example')
    const room = newRoomKey(c, rng, '!room:example.org')
    a.rooms.set(room)
    const envelope = sealMessage(
      c,
      { contentType: 8, content: Buffer.from('hi'), senderCert: senderCert(c, server, bob), serverCert: server.cert },
      bob.x,
      me.x.publicKey,
      rng
    )
    assert.ok(a.open(envelope).ok)
    assert.equal(a.pending, 2)
    await a.closeAndFlush()
    await s1.close()

    const s2 = await ClientStore.open(at, c, key)
    const b = new SealmixClient({ ...options, store: s2, now: () => T0 + 61_000 })
    assert.equal(b.pending, 2, 'the queued message and the one waiting for an ingress')
    assert.deepEqual(b.rooms.get('!room:example.org')?.secretKey, room.secretKey)
    assert.deepEqual(b.open(envelope), { ok: false, code: 'CLIENT_DUPLICATE' }, 'not shown twice after a restart')
    const failed: Array<{ messageId: string; code: string }> = []
    b.on('failed', e => failed.push(e))
    b.start()
    assert.deepEqual(
      failed,
      [{ type: 'failed', messageId: unrouted, code: 'CLIENT_NO_ROUTE' }],
      'its wait counts from the send'
    )
    assert.equal(b.pending, 1)
    assert.notEqual(queued, unrouted)
    await b.closeAndFlush()
    await s2.close()

    const s3 = await ClientStore.open(at, c, key)
    const kept = s3.takeSnapshot()
    await s3.close()
    assert.deepEqual(
      kept.messages.map(m => m.id),
      [queued]
    )
    assert.deepEqual(kept.unrouted, [])
  })

  it('refuses a wrong storage key, a damaged value, a moved value and a missing version record, and changes nothing', async function () {
    const at = dir()
    const key = rng.bytes(32)
    const s = await ClientStore.open(at, c, key)
    s.takeSnapshot()
    s.putSurb({ id: '01', token: rng.bytes(64), use: { kind: 'ack', messageId: 'm', index: 0 }, createdMs: 1 })
    s.putOpened('ab'.repeat(32))
    await s.close()
    const intact = async (): Promise<void> => {
      const ok = await ClientStore.open(at, c, key)
      const snap = ok.takeSnapshot()
      await ok.close()
      assert.deepEqual([snap.surbs.length, snap.opened.length], [1, 1])
    }

    assert.equal(await refusal(ClientStore.open(at, c, rng.bytes(32))), 'CLIENT_STORE_CORRUPT')
    await intact()

    const keys = await raw(at, async db => await db.keys().all())
    const surbKey = keys.find(k => k.startsWith('s/'))!
    const openedKey = keys.find(k => k.startsWith('o/'))!
    const original = await raw(at, async db => Buffer.from((await db.get(surbKey))!))

    // One bit flipped in the SURB record's ciphertext.
    const flipped = Buffer.from(original)
    flipped[40]! ^= 1
    await raw(at, async db => await db.put(surbKey, flipped))
    assert.equal(await refusal(ClientStore.open(at, c, key)), 'CLIENT_STORE_CORRUPT')
    await raw(at, async db => await db.put(surbKey, original))
    await intact()

    // A good value under another record's key (its associated data): refused too.
    await raw(at, async db => await db.put(openedKey, original))
    assert.equal(await refusal(ClientStore.open(at, c, key)), 'CLIENT_STORE_CORRUPT')
    await raw(at, async db => await db.del(openedKey))

    // Records without the version record.
    const version = await raw(at, async db => Buffer.from((await db.get('v'))!))
    await raw(at, async db => await db.del('v'))
    assert.equal(await refusal(ClientStore.open(at, c, key)), 'CLIENT_STORE_CORRUPT')
    await raw(at, async db => await db.put('v', version))
    const ok = await ClientStore.open(at, c, key)
    assert.equal(ok.takeSnapshot().surbs.length, 1)
    await ok.close()
  })

  it('refuses another format version, a store held by another open, and a key that is not 32 bytes', async function () {
    const at = dir()
    const key = rng.bytes(32)
    await (await ClientStore.open(at, c, key)).close()
    // A version record as a later SDK would write it: the same sealing, another format number.
    const aeadKey = Buffer.alloc(32)
    c.kdfDerive(aeadKey, 1, 'smxstore', key)
    const json = Buffer.from(JSON.stringify({ format: CLIENT_STORE_VERSION + 1 }))
    const pt = Buffer.concat([Buffer.alloc(4), json])
    pt.writeUInt32BE(json.length, 0)
    const nonce = rng.bytes(24)
    const sealed = Buffer.concat([nonce, c.aeadEncrypt(pt, Buffer.from('v'), nonce, aeadKey)])
    const before = await raw(at, async db => Buffer.from((await db.get('v'))!))
    await raw(at, async db => await db.put('v', sealed))
    assert.equal(await refusal(ClientStore.open(at, c, key)), 'CLIENT_STORE_VERSION')
    await raw(at, async db => await db.put('v', before))

    const held = await ClientStore.open(at, c, key)
    assert.equal(await refusal(ClientStore.open(at, c, key)), 'CLIENT_STORE_LOCKED')
    await held.close()
    assert.equal(await refusal(ClientStore.open(at, c, rng.bytes(16))), 'CLIENT_CONFIG_INVALID')
    assert.throws(
      () => held.putOpened('00'),
      (e: unknown) => e instanceof ClientError && e.code === 'CLIENT_CLOSED'
    )
  })

  it('leaves no token, fragment, request, seed, id or hash in clear in the database files (and the scan finds them when they are)', async function () {
    const at = dir()
    const key = rng.bytes(32)
    const token = rng.bytes(320)
    const fragment = Buffer.from('@bob:example.org/BOBLAPTOP fragment bytes in clear?')
    const request = Buffer.from('@carol:elsewhere.example/C request bytes in clear?')
    const messageId = rng.bytes(16).toString('hex')
    const surbId = rng.bytes(16).toString('hex')
    const hash = rng.bytes(32).toString('hex')
    const room = newRoomKey(c, rng, '!secretroom:example.org')
    const s = await ClientStore.open(at, c, key)
    s.takeSnapshot()
    s.putMessage({
      id: messageId,
      ingressId: 'i',
      createdMs: 1,
      fragments: [{ bytes: fragment, attempts: 0, acked: false, dueMs: 0 }]
    })
    s.putUnrouted({ id: 'u', server: 'elsewhere.example', request, sinceMs: 1 })
    s.putSurb({ id: surbId, token, use: { kind: 'ack', messageId, index: 0 }, createdMs: 1 })
    s.putRoomKey(roomKeyRecord(room))
    s.putOpened(hash)
    await s.close()
    const needles: Array<[string, Buffer]> = [
      ['SURB token', token],
      ['fragment', fragment],
      ['request', request],
      ['room seed', room.seed],
      ['room id', Buffer.from(room.roomId)],
      ['message id', Buffer.from(messageId)],
      ['SURB id', Buffer.from(surbId)],
      ['envelope hash', Buffer.from(hash)],
      ['envelope hash bytes', Buffer.from(hash, 'hex')],
      ['server', Buffer.from('elsewhere.example')]
    ]
    const files = filesOf(at)
    assert.ok(files.length > 0)
    for (const [what, needle] of needles) assert.equal(files.indexOf(needle), -1, `${what} in clear`)
    // Positive control: the same bytes written in clear, by level directly, are found by the same scan.
    const control = dir()
    await raw(control, async db => {
      for (const [what, needle] of needles) await db.put(`${what}:${messageId}`, needle)
    })
    const clear = filesOf(control)
    for (const [what, needle] of needles) assert.notEqual(clear.indexOf(needle), -1, `control: ${what}`)
  })
})

/**
 * The stand-in homeserver's rooms, shaped as the Matrix client-server API v3 says: createRoom and
 * the state events a real server makes, invite, join, leave and kick with their checks, members,
 * sending (members only, idempotent per transaction), the application service acting in rooms,
 * and /sync's rooms part, incremental by `since`. Real HTTP on loopback, each rule on its own; and
 * a real matrix-js-sdk client that syncs against it, which is what says the shapes are right.
 */
import assert from 'node:assert/strict'
import {
  type StandinHomeserver as Standin,
  StandinHomeserver,
  type StandinOptions,
  syncAll,
  syncToDevice
} from '../../tools/index.ts'
import { startMatrixClient } from '../helpers/matrix-client.ts'

const SERVER = 'example.org'
const AS = 'as-token-0123456789abcdef'
const ALICE = { userId: '@alice:example.org', deviceId: 'ALICEPHONE', accessToken: 'tok-alice-0123456789' }
const ALICE2 = { ...ALICE, deviceId: 'ALICELAPTOP', accessToken: 'tok-alice-laptop-0123456789' }
const BOB = { userId: '@bob:example.org', deviceId: 'BOBLAPTOP', accessToken: 'tok-bob-0123456789' }
const CAROL = { userId: '@carol:example.org', deviceId: 'CAROLPHONE', accessToken: 'tok-carol-0123456789' }
const BOT = '@sealmix:example.org'
const SEALED = 'org.sealmix.sealed.room.v1'
const V3 = '/_matrix/client/v3'

type Obj = Record<string, unknown>
/** A client event as the stand-in serves it (`room_id` outside /sync only). */
interface Ev {
  event_id: string
  type: string
  sender: string
  origin_server_ts: number
  content: Obj
  state_key?: string
  room_id?: string
  unsigned: { age: number; transaction_id?: string }
}
interface Timeline {
  events: Ev[]
  limited: boolean
  prev_batch: string
}
interface JoinedRoom {
  timeline: Timeline
  state: { events: Ev[] }
  ephemeral: unknown
  account_data: unknown
  unread_notifications: unknown
  summary: unknown
}
interface SyncBody {
  next_batch: string
  to_device: unknown
  rooms: {
    join: Record<string, JoinedRoom>
    invite: Record<string, { invite_state: { events: Obj[] } }>
    leave: Record<string, { timeline: Timeline; state: { events: Ev[] } }>
  }
}
interface Answer {
  status: number
  json: Obj
}

const enc = encodeURIComponent

describe('stand-in homeserver: rooms, as the client-server API v3 shapes them', function () {
  const servers: Standin[] = []
  let lines: string[] = []

  async function start(o: Partial<StandinOptions> = {}): Promise<{ hs: Standin; url: string }> {
    const hs = new StandinHomeserver({
      serverName: SERVER,
      asToken: AS,
      users: [ALICE, ALICE2, BOB, CAROL],
      print: l => lines.push(l),
      ...o
    })
    servers.push(hs)
    return { hs, url: `http://127.0.0.1:${await hs.listen(0)}` }
  }
  beforeEach(function () {
    lines = []
  })
  afterEach(async function () {
    for (const s of servers.splice(0)) await s.close()
  })

  /** A request as `token` (the as_token acts as its bot, or as `userId`). */
  async function call(
    url: string,
    method: string,
    path: string,
    token: string | null,
    o: { userId?: string; body?: unknown; raw?: string } = {}
  ): Promise<Answer> {
    const q = o.userId !== undefined ? `${path.includes('?') ? '&' : '?'}user_id=${enc(o.userId)}` : ''
    const res = await fetch(url + path + q, {
      method,
      headers: token === null ? {} : { Authorization: `Bearer ${token}` },
      body: o.raw ?? (o.body !== undefined ? JSON.stringify(o.body) : undefined)
    })
    const text = await res.text()
    return { status: res.status, json: text === '' ? {} : (JSON.parse(text) as Obj) }
  }
  async function createRoom(url: string, token: string, body: Obj = {}, userId?: string): Promise<string> {
    const r = await call(url, 'POST', `${V3}/createRoom`, token, { body, ...(userId ? { userId } : {}) })
    assert.equal(r.status, 200, JSON.stringify(r.json))
    return r.json.room_id as string
  }
  const invite = async (url: string, roomId: string, token: string, userId: string): Promise<Answer> =>
    await call(url, 'POST', `${V3}/rooms/${enc(roomId)}/invite`, token, { body: { user_id: userId } })
  const join = async (url: string, roomId: string, token: string, asUser?: string): Promise<Answer> =>
    await call(url, 'POST', `${V3}/join/${enc(roomId)}`, token, { body: {}, ...(asUser ? { userId: asUser } : {}) })
  const leave = async (url: string, roomId: string, token: string): Promise<Answer> =>
    await call(url, 'POST', `${V3}/rooms/${enc(roomId)}/leave`, token, { body: {} })
  const send = async (
    url: string,
    roomId: string,
    token: string,
    txn: string,
    content: Obj = { n: 1 },
    o: { type?: string; userId?: string } = {}
  ): Promise<Answer> =>
    await call(url, 'PUT', `${V3}/rooms/${enc(roomId)}/send/${enc(o.type ?? SEALED)}/${enc(txn)}`, token, {
      body: content,
      ...(o.userId ? { userId: o.userId } : {})
    })
  const sync = async (url: string, token: string, since?: string, extra = ''): Promise<SyncBody> => {
    const r = await call(
      url,
      'GET',
      `${V3}/sync?timeout=0${since !== undefined ? `&since=${since}` : ''}${extra}`,
      token
    )
    assert.equal(r.status, 200, JSON.stringify(r.json))
    return r.json as unknown as SyncBody
  }
  const types = (events: readonly Ev[]): string[] => events.map(e => e.type)
  /** What the server stored for a room: client events with `room_id`. */
  const stored = (hs: Standin, roomId: string): Ev[] => hs.roomEvents(roomId) as unknown as Ev[]
  const sealed = (hs: Standin, roomId: string): Ev[] => stored(hs, roomId).filter(e => e.type === SEALED)

  /** A room the bot made with alice joined and bob invited: the usual start. */
  async function aliceJoined(url: string, body: Obj = {}): Promise<string> {
    const roomId = await createRoom(url, AS, { invite: [ALICE.userId, BOB.userId], ...body })
    assert.equal((await join(url, roomId, ALICE.accessToken)).status, 200)
    return roomId
  }

  describe('createRoom: the state events a real server sends, in its order', function () {
    it('private_chat with a name and invites: create, join, power levels, preset, name, invites', async function () {
      const { hs, url } = await start()
      const roomId = await createRoom(url, ALICE.accessToken, {
        name: 'Sealed',
        invite: [BOB.userId],
        preset: 'private_chat'
      })
      assert.match(roomId, /^![A-Za-z]{18}:example\.org$/)
      const events = stored(hs, roomId)
      assert.deepEqual(
        events.map(e => [e.type, e.state_key]),
        [
          ['m.room.create', ''],
          ['m.room.member', ALICE.userId],
          ['m.room.power_levels', ''],
          ['m.room.join_rules', ''],
          ['m.room.history_visibility', ''],
          ['m.room.guest_access', ''],
          ['m.room.name', ''],
          ['m.room.member', BOB.userId]
        ]
      )
      const [create, member, pl, rules, visibility, , name, invited] = events
      assert.deepEqual(create!.content, { creator: ALICE.userId, room_version: '10' })
      assert.deepEqual(member!.content, { membership: 'join' })
      assert.equal((pl!.content.users as Obj)[ALICE.userId], 100)
      assert.deepEqual(
        [pl!.content.kick, pl!.content.ban, pl!.content.invite, pl!.content.events_default],
        [50, 50, 50, 0]
      )
      assert.deepEqual(rules!.content, { join_rule: 'invite' })
      assert.deepEqual(visibility!.content, { history_visibility: 'shared' })
      assert.deepEqual(name!.content, { name: 'Sealed' })
      assert.deepEqual(invited!.content, { membership: 'invite' })
      for (const e of events) {
        assert.match(e.event_id as string, /^\$[A-Za-z0-9_-]{43}$/)
        assert.equal(e.sender, ALICE.userId)
        assert.equal(e.room_id, roomId)
        assert.equal(typeof e.origin_server_ts, 'number')
      }
      assert.equal(new Set(events.map(e => e.event_id)).size, events.length, 'event ids are unique')
      assert.deepEqual(hs.joinedMembers(roomId), [ALICE.userId])
    })

    it('public_chat: a public join rule and no guest access; no name without one', async function () {
      const { hs, url } = await start()
      const roomId = await createRoom(url, ALICE.accessToken, { preset: 'public_chat' })
      const events = stored(hs, roomId)
      assert.deepEqual(types(events), [
        'm.room.create',
        'm.room.member',
        'm.room.power_levels',
        'm.room.join_rules',
        'm.room.history_visibility'
      ])
      assert.deepEqual(events[3]!.content, { join_rule: 'public' })
    })

    it('initial_state replaces the preset event of the same type (one event, not two)', async function () {
      const { hs, url } = await start()
      const roomId = await createRoom(url, ALICE.accessToken, {
        initial_state: [{ type: 'm.room.history_visibility', content: { history_visibility: 'joined' } }]
      })
      const hv = stored(hs, roomId).filter(e => e.type === 'm.room.history_visibility')
      assert.deepEqual(
        hv.map(e => e.content),
        [{ history_visibility: 'joined' }]
      )
    })

    it('refuses what the spec refuses: a bad preset, invitees that are no user ids, another room version, no JSON', async function () {
      const { url } = await start()
      for (const [body, errcode] of [
        [{ preset: 'secret_chat' }, 'M_INVALID_PARAM'],
        [{ invite: ['bob'] }, 'M_INVALID_PARAM'],
        [{ room_version: '1' }, 'M_UNSUPPORTED_ROOM_VERSION'],
        [
          { initial_state: [{ type: 'm.room.member', state_key: BOB.userId, content: { membership: 'join' } }] },
          'M_INVALID_PARAM'
        ]
      ] as const) {
        const r = await call(url, 'POST', `${V3}/createRoom`, ALICE.accessToken, { body })
        assert.deepEqual([r.status, r.json.errcode], [400, errcode], JSON.stringify(body))
      }
      const bad = await call(url, 'POST', `${V3}/createRoom`, ALICE.accessToken, { raw: '{name:' })
      assert.deepEqual([bad.status, bad.json.errcode], [400, 'M_NOT_JSON'])
      const none = await call(url, 'POST', `${V3}/createRoom`, null, { body: {} })
      assert.deepEqual([none.status, none.json.errcode], [401, 'M_MISSING_TOKEN'])
    })
  })

  describe('membership: invite, join, leave, kick', function () {
    it('join needs an invite in a private room: 403 M_FORBIDDEN and no event before, {room_id} after', async function () {
      const { hs, url } = await start()
      const roomId = await createRoom(url, ALICE.accessToken)
      const before = stored(hs, roomId).length
      const refused = await join(url, roomId, BOB.accessToken)
      assert.deepEqual([refused.status, refused.json.errcode], [403, 'M_FORBIDDEN'])
      assert.equal(stored(hs, roomId).length, before, 'a refusal leaves no event')
      assert.deepEqual(await invite(url, roomId, ALICE.accessToken, BOB.userId), { status: 200, json: {} })
      const viaRooms = await call(url, 'POST', `${V3}/rooms/${enc(roomId)}/join`, BOB.accessToken, { body: {} })
      assert.deepEqual(viaRooms, { status: 200, json: { room_id: roomId } })
      assert.deepEqual(hs.joinedMembers(roomId), [ALICE.userId, BOB.userId])
      const again = await join(url, roomId, BOB.accessToken)
      assert.deepEqual([again.status, stored(hs, roomId).length], [200, before + 2], 'joining again adds no event')
    })

    it('a public room: anyone joins, by id or by its alias; an unknown room is 404', async function () {
      const { hs, url } = await start()
      const roomId = await createRoom(url, ALICE.accessToken, { preset: 'public_chat', room_alias_name: 'lobby' })
      assert.deepEqual(await join(url, roomId, BOB.accessToken), { status: 200, json: { room_id: roomId } })
      assert.deepEqual(await join(url, '#lobby:example.org', CAROL.accessToken), {
        status: 200,
        json: { room_id: roomId }
      })
      assert.deepEqual(hs.joinedMembers(roomId), [ALICE.userId, BOB.userId, CAROL.userId])
      const unknown = await join(url, '!nosuchroom:example.org', BOB.accessToken)
      assert.deepEqual([unknown.status, unknown.json.errcode], [404, 'M_NOT_FOUND'])
      const taken = await call(url, 'POST', `${V3}/createRoom`, BOB.accessToken, { body: { room_alias_name: 'lobby' } })
      assert.deepEqual([taken.status, taken.json.errcode], [400, 'M_ROOM_IN_USE'])
    })

    it('invite: only a member with the invite level; not one already joined; user_id is required', async function () {
      const { url } = await start()
      const roomId = await aliceJoined(url)
      const outsider = await invite(url, roomId, CAROL.accessToken, CAROL.userId)
      assert.deepEqual([outsider.status, outsider.json.errcode], [403, 'M_FORBIDDEN'], 'not a member')
      const lowly = await invite(url, roomId, ALICE.accessToken, CAROL.userId)
      assert.deepEqual([lowly.status, lowly.json.errcode], [403, 'M_FORBIDDEN'], 'alice has level 0 < invite 50')
      const joined = await invite(url, roomId, AS, ALICE.userId)
      assert.deepEqual([joined.status, joined.json.errcode], [403, 'M_FORBIDDEN'], 'already in the room')
      const missing = await call(url, 'POST', `${V3}/rooms/${enc(roomId)}/invite`, AS, { body: {} })
      assert.deepEqual([missing.status, missing.json.errcode], [400, 'M_MISSING_PARAM'])
      assert.equal((await invite(url, roomId, AS, CAROL.userId)).status, 200)
    })

    it('leave: {} for a member or an invitee (declining), 403 for anyone else', async function () {
      const { hs, url } = await start()
      const roomId = await aliceJoined(url)
      assert.deepEqual(await leave(url, roomId, ALICE.accessToken), { status: 200, json: {} })
      assert.deepEqual(await leave(url, roomId, BOB.accessToken), { status: 200, json: {} }, 'bob declines')
      const nobody = await leave(url, roomId, CAROL.accessToken)
      assert.deepEqual([nobody.status, nobody.json.errcode], [403, 'M_FORBIDDEN'])
      assert.deepEqual(hs.joinedMembers(roomId), [BOT])
      const rejoin = await join(url, roomId, BOB.accessToken)
      assert.equal(rejoin.status, 403, 'a declined invite is gone')
    })

    it("kick: the kicker's level must reach the kick level (50) and exceed the target's", async function () {
      const { hs, url } = await start()
      const roomId = await createRoom(url, AS, {
        invite: [ALICE.userId, BOB.userId, CAROL.userId],
        power_level_content_override: { users: { [BOT]: 100, [ALICE.userId]: 50 } }
      })
      for (const u of [ALICE, BOB, CAROL]) assert.equal((await join(url, roomId, u.accessToken)).status, 200)
      const kick = async (token: string, userId: string): Promise<Answer> =>
        await call(url, 'POST', `${V3}/rooms/${enc(roomId)}/kick`, token, { body: { user_id: userId, reason: 'bye' } })
      const low = await kick(BOB.accessToken, CAROL.userId)
      assert.deepEqual([low.status, low.json.errcode], [403, 'M_FORBIDDEN'], 'bob: level 0 < kick 50')
      const up = await kick(ALICE.accessToken, BOT)
      assert.deepEqual([up.status, up.json.errcode], [403, 'M_FORBIDDEN'], 'alice (50) cannot kick the bot (100)')
      assert.deepEqual(await kick(ALICE.accessToken, CAROL.userId), { status: 200, json: {} })
      const last = stored(hs, roomId).at(-1)!
      assert.deepEqual(
        [last.type, last.state_key, last.sender, last.content],
        ['m.room.member', CAROL.userId, ALICE.userId, { membership: 'leave', reason: 'bye' }]
      )
      const gone = await kick(ALICE.accessToken, CAROL.userId)
      assert.equal(gone.status, 403, 'not in the room any more')
      assert.deepEqual(hs.joinedMembers(roomId), [BOT, ALICE.userId, BOB.userId])
    })
  })

  describe('members', function () {
    it('joined_members: {joined: {user: {display_name, avatar_url}}} for a member, 403 M_FORBIDDEN otherwise', async function () {
      const { url } = await start()
      const roomId = await aliceJoined(url)
      const path = `${V3}/rooms/${enc(roomId)}/joined_members`
      assert.deepEqual(await call(url, 'GET', path, ALICE.accessToken), {
        status: 200,
        json: {
          joined: {
            [BOT]: { display_name: null, avatar_url: null },
            [ALICE.userId]: { display_name: null, avatar_url: null }
          }
        }
      })
      for (const token of [BOB.accessToken, CAROL.accessToken]) {
        const r = await call(url, 'GET', path, token)
        assert.deepEqual([r.status, r.json.errcode], [403, 'M_FORBIDDEN'], 'invited is not joined; an outsider neither')
      }
      assert.equal((await call(url, 'GET', path, AS)).status, 200, 'the bot is a member')
    })

    it('members and state: the current member events and state, for members only', async function () {
      const { url } = await start()
      const roomId = await aliceJoined(url)
      const members = await call(url, 'GET', `${V3}/rooms/${enc(roomId)}/members`, ALICE.accessToken)
      assert.deepEqual(
        (members.json.chunk as Ev[]).map(e => [e.state_key, e.content.membership, e.room_id]),
        [
          [BOT, 'join', roomId],
          [ALICE.userId, 'join', roomId],
          [BOB.userId, 'invite', roomId]
        ]
      )
      const joinedOnly = await call(url, 'GET', `${V3}/rooms/${enc(roomId)}/members?membership=join`, ALICE.accessToken)
      assert.equal((joinedOnly.json.chunk as Ev[]).length, 2)
      const state = await call(url, 'GET', `${V3}/rooms/${enc(roomId)}/state`, ALICE.accessToken)
      assert.ok(Array.isArray(state.json))
      assert.ok((state.json as unknown as Ev[]).some(e => e.type === 'm.room.create'))
      assert.equal((await call(url, 'GET', `${V3}/rooms/${enc(roomId)}/members`, CAROL.accessToken)).status, 403)
      assert.equal((await call(url, 'GET', `${V3}/rooms/${enc(roomId)}/state`, BOB.accessToken)).status, 403)
    })
  })

  describe('send: members only, idempotent per transaction', function () {
    it('a member sends and gets {event_id}; an invitee or outsider gets 403 M_FORBIDDEN and stores nothing', async function () {
      const { hs, url } = await start()
      const roomId = await aliceJoined(url)
      for (const token of [BOB.accessToken, CAROL.accessToken]) {
        const r = await send(url, roomId, token, 't')
        assert.deepEqual([r.status, r.json.errcode], [403, 'M_FORBIDDEN'])
      }
      assert.deepEqual(sealed(hs, roomId), [])
      const ok = await send(url, roomId, ALICE.accessToken, 't', { body: 'hi' })
      assert.equal(ok.status, 200)
      assert.deepEqual(Object.keys(ok.json), ['event_id'])
      assert.equal(sealed(hs, roomId)[0]!.event_id, ok.json.event_id)
      assert.deepEqual(sealed(hs, roomId)[0]!.content, { body: 'hi' })
      const notJson = await call(url, 'PUT', `${V3}/rooms/${enc(roomId)}/send/${SEALED}/u`, ALICE.accessToken, {
        raw: '{n:'
      })
      assert.deepEqual([notJson.status, notJson.json.errcode], [400, 'M_NOT_JSON'])
      const big = await send(url, roomId, ALICE.accessToken, 'v', { x: 'a'.repeat(70_000) })
      assert.deepEqual([big.status, big.json.errcode], [413, 'M_TOO_LARGE'], "over the spec's 64 KiB per event")
    })

    it('a retransmission answers the first event id and stores nothing; another txnId, room or device is another event', async function () {
      const { hs, url } = await start()
      const roomId = await aliceJoined(url, { preset: 'public_chat' })
      const other = await createRoom(url, AS, { preset: 'public_chat' })
      await join(url, other, ALICE.accessToken)
      const first = await send(url, roomId, ALICE.accessToken, 'm1', { n: 1 })
      const again = await send(url, roomId, ALICE.accessToken, 'm1', { n: 2 })
      assert.deepEqual(again, first)
      assert.deepEqual(
        sealed(hs, roomId).map(e => e.content),
        [{ n: 1 }]
      )
      await send(url, roomId, ALICE.accessToken, 'm2')
      assert.equal(sealed(hs, roomId).length, 2, 'another txnId')
      await send(url, other, ALICE.accessToken, 'm1')
      assert.equal(sealed(hs, other).length, 1, 'the same txnId on another path: another room')
      await send(url, roomId, ALICE2.accessToken, 'm1')
      assert.equal(sealed(hs, roomId).length, 3, "alice's other device is another scope")
      await send(url, roomId, ALICE.accessToken, 'm1', { n: 1 }, { type: 'org.example.other' })
      assert.equal(stored(hs, roomId).filter(e => e.type === 'org.example.other').length, 1, 'another type')
      await leave(url, roomId, ALICE.accessToken)
      assert.deepEqual(
        await send(url, roomId, ALICE.accessToken, 'm1'),
        first,
        'remembered even after leaving, as Synapse'
      )
    })

    it('a refusal is not remembered: the same txnId once joined sends', async function () {
      const { hs, url } = await start()
      const roomId = await aliceJoined(url)
      assert.equal((await send(url, roomId, BOB.accessToken, 'early')).status, 403)
      assert.equal(hs.transactions.size, 0)
      await join(url, roomId, BOB.accessToken)
      const later = await send(url, roomId, BOB.accessToken, 'early')
      assert.equal(later.status, 200)
      assert.equal(sealed(hs, roomId)[0]!.sender, BOB.userId)
    })

    it('the level of an event type: a member below it gets 403', async function () {
      const { url } = await start()
      const roomId = await aliceJoined(url, { power_level_content_override: { events: { [SEALED]: 50 } } })
      assert.equal((await send(url, roomId, ALICE.accessToken, 'x')).status, 403)
      assert.equal((await send(url, roomId, AS, 'x')).status, 200, 'the bot has 100')
    })
  })

  describe('the application service in rooms', function () {
    it('its bot joins when invited or the room is public, not otherwise, and sends as itself', async function () {
      const { hs, url } = await start()
      const invited = await createRoom(url, ALICE.accessToken, { invite: [BOT] })
      const open = await createRoom(url, ALICE.accessToken, { preset: 'public_chat' })
      const closed = await createRoom(url, ALICE.accessToken)
      assert.deepEqual(await join(url, invited, AS), { status: 200, json: { room_id: invited } })
      assert.deepEqual(await join(url, open, AS, BOT), { status: 200, json: { room_id: open } })
      const refused = await join(url, closed, AS)
      assert.deepEqual([refused.status, refused.json.errcode], [403, 'M_FORBIDDEN'])
      const r = await send(url, invited, AS, 'sealed-1', { ciphertext: 'AAAA' })
      assert.equal(r.status, 200)
      assert.deepEqual(
        sealed(hs, invited).map(e => e.sender),
        [BOT]
      )
      assert.ok(
        lines.some(
          l => l.includes(invited) && l.includes(SEALED) && /\d+ bytes/.test(l) && l.includes(`the bot ${BOT}`)
        ),
        'a line per room event: room, type, size and the bot as the sender it saw'
      )
    })

    it("acts as a user of its namespace, and only such a user; its transactions are the service's", async function () {
      const bridged = { userId: '@bridge_1:example.org', deviceId: 'BRIDGE1', accessToken: 'tok-bridge-0123456789' }
      const { hs, url } = await start({
        users: [ALICE, BOB, bridged],
        registration: {
          sender_localpart: 'sealmix',
          namespaces: { users: [{ exclusive: false, regex: '@bridge_.*:example\\.org' }] }
        }
      })
      const roomId = await createRoom(url, ALICE.accessToken, { invite: [bridged.userId, BOT], preset: 'private_chat' })
      assert.equal((await join(url, roomId, AS, bridged.userId)).status, 200)
      assert.equal((await join(url, roomId, AS)).status, 200)
      assert.equal((await send(url, roomId, AS, 'shared', { n: 1 }, { userId: bridged.userId })).status, 200)
      assert.equal((await send(url, roomId, AS, 'shared', { n: 2 }, { userId: BOT })).status, 200)
      assert.deepEqual(
        sealed(hs, roomId).map(e => e.sender),
        [bridged.userId],
        'the same txnId from the service as another user is a retransmission (Synapse keys on the service)'
      )
      const masquerade = await join(url, roomId, AS, BOB.userId)
      assert.deepEqual([masquerade.status, masquerade.json.errcode], [403, 'M_FORBIDDEN'])
    })

    it('the sealed events a room stores name no sender but the bot', async function () {
      const { hs, url } = await start()
      const roomId = await createRoom(url, AS, { invite: [ALICE.userId, BOB.userId] })
      await join(url, roomId, ALICE.accessToken)
      await join(url, roomId, BOB.accessToken)
      for (const [i, c] of ['AAAA', 'BBBB', 'CCCC'].entries()) await send(url, roomId, AS, `s${i}`, { ciphertext: c })
      const stored = sealed(hs, roomId)
      assert.equal(stored.length, 3)
      for (const e of stored) {
        const ids = JSON.stringify(e).match(/@[^":\s]+:[A-Za-z0-9.-]+/g) ?? []
        assert.deepEqual([...new Set(ids)], [BOT], JSON.stringify(e))
      }
      // The control: a member's own send does name the member, so the check above can fail.
      await send(url, roomId, ALICE.accessToken, 'own')
      assert.match(JSON.stringify(sealed(hs, roomId).at(-1)), /@alice:example\.org/)
    })
  })

  describe('/sync: the rooms part', function () {
    it('a first sync: the joined room with every section, client events without room_id; an invite as stripped state', async function () {
      const { url } = await start()
      const roomId = await aliceJoined(url, { name: 'Sealed' })
      await send(url, roomId, AS, 's1', { ciphertext: 'AAAA' })
      const s = await sync(url, ALICE.accessToken)
      assert.equal(typeof s.next_batch, 'string')
      assert.deepEqual(s.to_device, { events: [] }, 'the to-device part is still there')
      const room = s.rooms.join[roomId]!
      assert.deepEqual(Object.keys(room).sort(), [
        'account_data',
        'ephemeral',
        'state',
        'summary',
        'timeline',
        'unread_notifications'
      ])
      assert.deepEqual(room.ephemeral, { events: [] })
      assert.deepEqual(room.account_data, { events: [] })
      assert.deepEqual(room.unread_notifications, { highlight_count: 0, notification_count: 0 })
      assert.deepEqual(room.summary, {
        'm.heroes': [BOT, BOB.userId],
        'm.joined_member_count': 2,
        'm.invited_member_count': 1
      })
      assert.equal(room.timeline.limited, false)
      assert.equal(typeof room.timeline.prev_batch, 'string')
      // The room is 'shared': alice sees its whole history, from the create event on.
      assert.deepEqual(types(room.timeline.events), [
        'm.room.create',
        'm.room.member',
        'm.room.power_levels',
        'm.room.join_rules',
        'm.room.history_visibility',
        'm.room.guest_access',
        'm.room.name',
        'm.room.member',
        'm.room.member',
        'm.room.member',
        SEALED
      ])
      assert.deepEqual(room.state, { events: [] }, 'the timeline starts at the beginning: no state before it')
      for (const e of room.timeline.events) {
        assert.equal(e.room_id, undefined, 'no room_id inside /sync')
        assert.equal(typeof e.event_id, 'string')
        assert.equal(typeof e.origin_server_ts, 'number')
        assert.equal(typeof e.unsigned.age, 'number')
        assert.equal(e.type.startsWith('m.room.'), 'state_key' in e, 'a state_key on state events only')
      }
      const bob = await sync(url, BOB.accessToken)
      assert.deepEqual(Object.keys(bob.rooms.join), [])
      const stripped = bob.rooms.invite[roomId]!.invite_state.events
      assert.deepEqual(
        stripped.map(e => [e.type, e.state_key]),
        [
          ['m.room.create', ''],
          ['m.room.join_rules', ''],
          ['m.room.name', ''],
          ['m.room.member', BOB.userId]
        ]
      )
      for (const e of stripped) assert.deepEqual(Object.keys(e).sort(), ['content', 'sender', 'state_key', 'type'])
    })

    it('incremental by since: only what is new, nothing for an unchanged room; the sender device gets its txnId back', async function () {
      const { url } = await start()
      const roomId = await aliceJoined(url)
      const first = await sync(url, ALICE.accessToken)
      const quiet = await sync(url, ALICE.accessToken, first.next_batch)
      assert.deepEqual(quiet.rooms, { join: {}, invite: {}, leave: {} })
      await send(url, roomId, ALICE.accessToken, 'my-txn', { n: 1 })
      await send(url, roomId, AS, 'bot-txn', { n: 2 })
      const next = await sync(url, ALICE.accessToken, first.next_batch)
      const room = next.rooms.join[roomId]!
      assert.deepEqual(
        room.timeline.events.map(e => [e.content.n, e.unsigned.transaction_id]),
        [
          [1, 'my-txn'],
          [2, undefined]
        ]
      )
      assert.deepEqual(room.state, { events: [] }, 'alice was joined at since: the state changes are in the timeline')
      const laptop = await sync(url, ALICE2.accessToken, first.next_batch)
      assert.equal(
        laptop.rooms.join[roomId]!.timeline.events.find(e => e.content.n === 1)!.unsigned.transaction_id,
        undefined,
        'not for another device'
      )
      const after = await sync(url, ALICE.accessToken, next.next_batch)
      assert.deepEqual(after.rooms.join, {})
    })

    it('a room joined since the last sync comes with its history, and the invite goes', async function () {
      const { url } = await start()
      const roomId = await aliceJoined(url)
      await send(url, roomId, AS, 's1')
      const before = await sync(url, BOB.accessToken)
      assert.ok(before.rooms.invite[roomId])
      await join(url, roomId, BOB.accessToken)
      const after = await sync(url, BOB.accessToken, before.next_batch)
      assert.deepEqual(Object.keys(after.rooms.invite), [])
      const tl = after.rooms.join[roomId]!.timeline.events
      assert.equal(tl[0]!.type, 'm.room.create', "the room is 'shared': bob sees what was sent before he joined")
      assert.ok(tl.some(e => e.type === SEALED))
      assert.equal(tl.at(-1)!.state_key, BOB.userId)
    })

    it("history_visibility 'joined': a member sees events from its join on, and the state it did not see", async function () {
      const { url } = await start()
      const roomId = await aliceJoined(url, {
        initial_state: [{ type: 'm.room.history_visibility', content: { history_visibility: 'joined' } }]
      })
      await send(url, roomId, AS, 'before-bob', { n: 1 })
      await join(url, roomId, BOB.accessToken)
      await send(url, roomId, AS, 'after-bob', { n: 2 })
      const room = (await sync(url, BOB.accessToken)).rooms.join[roomId]!
      // Before the history_visibility event a room is 'shared' (the spec's default, Synapse's
      // rule), so its first events are seen; after it, nothing until bob's join.
      assert.deepEqual(
        room.timeline.events.map(e => [e.type, e.content.n ?? e.content.membership ?? null]),
        [
          ['m.room.create', null],
          ['m.room.member', 'join'],
          ['m.room.power_levels', null],
          ['m.room.join_rules', null],
          ['m.room.guest_access', null],
          ['m.room.history_visibility', null],
          ['m.room.member', 'join'],
          [SEALED, 2]
        ]
      )
      assert.equal(room.timeline.events[6]!.state_key, BOB.userId)
      // Alice's join was hidden from the timeline, so the state carries it: the room's members
      // after the timeline are right.
      assert.deepEqual(
        room.state.events.map(e => [e.state_key, e.content.membership]),
        [[ALICE.userId, 'join']]
      )
    })

    it('a user who leaves sees the room up to the leave (in rooms.leave), then nothing more', async function () {
      const { url } = await start()
      const roomId = await aliceJoined(url)
      const s0 = await sync(url, ALICE.accessToken)
      await send(url, roomId, AS, 'a', { n: 1 })
      await leave(url, roomId, ALICE.accessToken)
      await send(url, roomId, AS, 'b', { n: 2 })
      const s1 = await sync(url, ALICE.accessToken, s0.next_batch)
      assert.deepEqual(Object.keys(s1.rooms.join), [])
      const left = s1.rooms.leave[roomId]!
      assert.deepEqual(
        left.timeline.events.map(e => e.content.n ?? e.content.membership),
        [1, 'leave']
      )
      await send(url, roomId, AS, 'c', { n: 3 })
      const s2 = await sync(url, ALICE.accessToken, s1.next_batch)
      assert.deepEqual(s2.rooms, { join: {}, invite: {}, leave: {} })
      const fresh = await sync(url, ALICE.accessToken)
      assert.deepEqual(fresh.rooms, { join: {}, invite: {}, leave: {} }, 'a first sync leaves out rooms left')
    })

    it('a kicked user gets the kick in rooms.leave and no event after it', async function () {
      const { url } = await start()
      const roomId = await aliceJoined(url)
      const s0 = await sync(url, ALICE.accessToken)
      await call(url, 'POST', `${V3}/rooms/${enc(roomId)}/kick`, AS, { body: { user_id: ALICE.userId } })
      await send(url, roomId, AS, 'after', { n: 9 })
      const tl = (await sync(url, ALICE.accessToken, s0.next_batch)).rooms.leave[roomId]!.timeline.events
      assert.deepEqual(
        tl.map(e => [e.sender, e.state_key, e.content.membership]),
        [[BOT, ALICE.userId, 'leave']]
      )
    })

    it('the long-poll wakes on a room event', async function () {
      const { hs, url } = await start()
      const roomId = await aliceJoined(url)
      const s0 = await sync(url, ALICE.accessToken)
      const polling = call(url, 'GET', `${V3}/sync?timeout=30000&since=${s0.next_batch}`, ALICE.accessToken)
      await until(() => hs.waitingSyncs === 1, 'the /sync to wait')
      await send(url, roomId, AS, 'wake', { n: 1 })
      const r = await polling
      assert.deepEqual(
        (r.json as unknown as SyncBody).rooms.join[roomId]!.timeline.events.map(e => e.content.n),
        [1]
      )
    })

    it("a filter's timeline limit keeps the newest events: limited, with the state before them", async function () {
      const { url } = await start()
      const roomId = await aliceJoined(url)
      for (const n of [1, 2, 3]) await send(url, roomId, AS, `t${n}`, { n })
      const inline = await sync(
        url,
        ALICE.accessToken,
        undefined,
        `&filter=${enc('{"room":{"timeline":{"limit":2}}}')}`
      )
      const room = inline.rooms.join[roomId]!
      assert.deepEqual(
        room.timeline.events.map(e => e.content.n),
        [2, 3]
      )
      assert.equal(room.timeline.limited, true)
      assert.ok(room.state.events.some(e => e.type === 'm.room.create'))
      const made = await call(url, 'POST', `${V3}/user/${enc(ALICE.userId)}/filter`, ALICE.accessToken, {
        body: { room: { timeline: { limit: 1 } } }
      })
      assert.equal(typeof made.json.filter_id, 'string')
      assert.deepEqual(
        (await call(url, 'GET', `${V3}/user/${enc(ALICE.userId)}/filter/${made.json.filter_id}`, ALICE.accessToken))
          .json,
        { room: { timeline: { limit: 1 } } }
      )
      const byId = await sync(url, ALICE.accessToken, undefined, `&filter=${made.json.filter_id}`)
      assert.equal(byId.rooms.join[roomId]!.timeline.events.length, 1)
      const foreign = await call(url, 'POST', `${V3}/user/${enc(BOB.userId)}/filter`, ALICE.accessToken, { body: {} })
      assert.equal(foreign.status, 403, 'no filters for another user')
    })
  })

  describe('what a client asks at start, answered in spec shape', function () {
    it('versions without a token; capabilities and push rules with one', async function () {
      const { url } = await start()
      const versions = await call(url, 'GET', '/_matrix/client/versions', null)
      assert.equal(versions.status, 200)
      assert.ok((versions.json.versions as string[]).includes('v1.1'))
      assert.deepEqual(versions.json.unstable_features, {})
      const caps = await call(url, 'GET', `${V3}/capabilities`, ALICE.accessToken)
      assert.equal((caps.json.capabilities as Record<string, Obj>)['m.room_versions']!.default, '10')
      assert.equal((await call(url, 'GET', `${V3}/capabilities`, null)).status, 401)
      const rules = await call(url, 'GET', `${V3}/pushrules/`, ALICE.accessToken)
      assert.deepEqual(Object.keys(rules.json.global as Obj).sort(), [
        'content',
        'override',
        'room',
        'sender',
        'underride'
      ])
    })
  })

  describe('bounds', function () {
    it('events per room: the oldest are dropped, the state stays, and a sync from before says limited', async function () {
      const { hs, url } = await start({ maxEventsPerRoom: 12 })
      const roomId = await aliceJoined(url)
      const s0 = await sync(url, ALICE.accessToken)
      // Beyond the 12 kept, two more: the first two events after s0 are dropped, a gap for alice.
      for (let n = 0; n < 14; n++) await send(url, roomId, AS, `b${n}`, { n })
      assert.equal(stored(hs, roomId).length, 12)
      assert.deepEqual(hs.joinedMembers(roomId), [BOT, ALICE.userId], 'the members outlive their events')
      const state = await call(url, 'GET', `${V3}/rooms/${enc(roomId)}/state`, ALICE.accessToken)
      assert.ok((state.json as unknown as Ev[]).some(e => e.type === 'm.room.create'))
      const room = (await sync(url, ALICE.accessToken, s0.next_batch)).rooms.join[roomId]!
      assert.equal(room.timeline.limited, true)
      assert.deepEqual(
        room.timeline.events.map(e => e.content.n),
        [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
      )
      assert.ok(
        room.state.events.some(e => e.type === 'm.room.create'),
        'the state covers the gap'
      )
    })

    it('rooms and members per room: refused with 403 past the bound', async function () {
      const { url } = await start({ maxRooms: 1, maxMembersPerRoom: 2 })
      const roomId = await createRoom(url, AS, { invite: [ALICE.userId] })
      const second = await call(url, 'POST', `${V3}/createRoom`, AS, { body: {} })
      assert.deepEqual([second.status, second.json.errcode], [403, 'M_FORBIDDEN'])
      const third = await invite(url, roomId, AS, BOB.userId)
      assert.deepEqual([third.status, third.json.errcode], [403, 'M_FORBIDDEN'])
    })
  })

  describe('tools/chat/sync.ts', function () {
    it('syncAll: room timeline events and memberships; syncToDevice unchanged beside rooms', async function () {
      const { url } = await start()
      const roomId = await aliceJoined(url)
      await send(url, roomId, AS, 's', { ciphertext: 'AAAA' })
      const s = await syncAll({ url, token: ALICE.accessToken }, undefined)
      const ev = s.roomEvents.find(e => e.type === SEALED)!
      assert.deepEqual(
        { ...ev, eventId: typeof ev.eventId, originServerTs: typeof ev.originServerTs },
        {
          roomId,
          eventId: 'string',
          type: SEALED,
          sender: BOT,
          content: { ciphertext: 'AAAA' },
          originServerTs: 'number'
        }
      )
      assert.deepEqual(s.members[roomId], { [BOT]: 'join', [ALICE.userId]: 'join', [BOB.userId]: 'invite' })
      assert.deepEqual(s.rooms, { joined: [roomId], invited: [], left: [] })
      const bob = await syncAll({ url, token: BOB.accessToken }, undefined)
      assert.deepEqual(bob.rooms.invited, [roomId])
      assert.deepEqual(bob.roomEvents, [])
      await leave(url, roomId, ALICE.accessToken)
      const later = await syncAll({ url, token: ALICE.accessToken }, s.nextBatch)
      assert.deepEqual(later.rooms.left, [roomId])
      assert.equal(later.members[roomId]![ALICE.userId], 'leave')
      const td = await syncToDevice({ url, token: ALICE.accessToken }, undefined)
      assert.deepEqual(td.events, [])
      assert.equal(typeof td.nextBatch, 'string')
    })
  })

  describe('a real client: matrix-js-sdk syncs against the stand-in', function () {
    it('receives the sealed event the bot sends into a room, and who was joined at each event', async function () {
      const { url } = await start()
      const roomId = await createRoom(url, AS, { name: 'Sealed', invite: [ALICE.userId, BOB.userId] })
      await join(url, roomId, ALICE.accessToken)
      // A room alice is not in: the control that the client gets only the rooms it is joined to.
      const elsewhere = await createRoom(url, AS, { invite: [BOB.userId] })
      const client = await startMatrixClient({ baseUrl: url, ...ALICE, eventType: SEALED })
      try {
        const room = client.client.getRoom(roomId)
        assert.equal(room?.name, 'Sealed')
        assert.deepEqual(
          room
            ?.getJoinedMembers()
            .map(m => m.userId)
            .sort(),
          [ALICE.userId, BOT].sort()
        )
        assert.equal(room?.getMember(BOB.userId)?.membership, 'invite')
        await send(url, elsewhere, AS, 'not-for-alice', { ciphertext: 'XXXX' })
        await send(url, roomId, AS, 'one', { ciphertext: 'AAAA' })
        const one = await client.waitForEvent(e => e.content.ciphertext === 'AAAA', 'the first sealed event')
        assert.deepEqual([one.roomId, one.sender, one.senderMembership], [roomId, BOT, 'join'])
        assert.equal(client.joinedAt(one, ALICE.userId), true)
        assert.equal(client.joinedAt(one, BOB.userId), false, 'bob was only invited then')
        await join(url, roomId, BOB.accessToken)
        await send(url, roomId, AS, 'two', { ciphertext: 'BBBB' })
        const two = await client.waitForEvent(e => e.content.ciphertext === 'BBBB', 'the second sealed event')
        assert.equal(client.joinedAt(two, BOB.userId), true, 'bob had joined by then')
        assert.equal(client.joinedAt(one, BOB.userId), false, 'and the first event still says he had not')
        assert.deepEqual(
          client.events.map(e => e.content.ciphertext),
          ['AAAA', 'BBBB'],
          'the event of the room alice is not in never came'
        )
        assert.equal(client.client.getRoom(elsewhere), null)
      } finally {
        await client.stop()
      }
    })

    it("the client's view follows membership: invited, joined, and nothing after it leaves", async function () {
      const { url } = await start()
      const client = await startMatrixClient({ baseUrl: url, ...BOB, eventType: SEALED })
      try {
        const roomId = await createRoom(url, AS, { invite: [BOB.userId] })
        await until(
          () => client.client.getRoom(roomId)?.getMyMembership() === 'invite',
          'the invite to reach the client'
        )
        await join(url, roomId, BOB.accessToken)
        await send(url, roomId, AS, 'in', { ciphertext: 'IN' })
        await client.waitForEvent(e => e.content.ciphertext === 'IN', 'the event while joined')
        await leave(url, roomId, BOB.accessToken)
        await until(() => client.client.getRoom(roomId)?.getMyMembership() === 'leave', 'the leave to reach the client')
        await send(url, roomId, AS, 'out', { ciphertext: 'OUT' })
        // A marker the client does get, sent after: once it is there, OUT would have been too.
        const marker = await createRoom(url, AS, { invite: [BOB.userId] })
        await until(() => client.client.getRoom(marker) !== null, 'the marker invite')
        assert.deepEqual(
          client.events.map(e => e.content.ciphertext),
          ['IN']
        )
      } finally {
        await client.stop()
      }
    })
  })
})

/** Wait for a condition the test cannot be told of, checking it every 10 ms (a bounded wait, not a guess of timing). */
async function until(f: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

/**
 * The stand-in homeserver is as strict as a real one on the path a delivery takes: the
 * application service may assert only users of its registration's namespace; bodies are checked
 * as the spec's errors say; a transaction is idempotent within its scope and endpoint, and the
 * memory of transactions is bounded and expires. Real HTTP on loopback, each rule on its own.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify as toYaml } from 'yaml'
import { matrixSink } from '../../daemon/index.ts'
import { StandinHomeserver, type StandinOptions, syncToDevice } from '../../tools/index.ts'

const SERVER = 'example.org'
const AS = 'as-token-0123456789abcdef'
const ALICE = { userId: '@alice:example.org', deviceId: 'ALICEPHONE', accessToken: 'tok-alice-0123456789' }
const BOB = { userId: '@bob:example.org', deviceId: 'BOBLAPTOP', accessToken: 'tok-bob-0123456789' }
const BOT = '@sealmix:example.org'
const TYPE = 'org.sealmix.sealed.v1'

interface Answer {
  status: number
  json: Record<string, unknown>
}

describe('stand-in homeserver: as strict as a real one where a delivery goes', function () {
  const servers: StandinHomeserver[] = []
  let clock = 0

  async function start(o: Partial<StandinOptions> = {}): Promise<{ hs: StandinHomeserver; url: string }> {
    const hs = new StandinHomeserver({ serverName: SERVER, asToken: AS, users: [ALICE, BOB], now: () => clock, ...o })
    servers.push(hs)
    return { hs, url: `http://127.0.0.1:${await hs.listen(0)}` }
  }
  afterEach(async function () {
    for (const s of servers.splice(0)) await s.close()
  })
  beforeEach(function () {
    clock = 1_000_000
  })

  async function call(
    url: string,
    method: string,
    path: string,
    o: { token?: string | null; userId?: string; body?: string } = {}
  ): Promise<Answer> {
    const q = o.userId !== undefined ? `?user_id=${encodeURIComponent(o.userId)}` : ''
    const token = o.token === undefined ? AS : o.token
    const res = await fetch(url + path + q, {
      method,
      headers: token === null ? {} : { Authorization: `Bearer ${token}` },
      body: o.body
    })
    const text = await res.text()
    return { status: res.status, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) }
  }
  const toBob = (content: Record<string, unknown> = { n: 1 }): string =>
    JSON.stringify({ messages: { [BOB.userId]: { [BOB.deviceId]: content } } })
  const put = async (
    url: string,
    txn: string,
    o: { token?: string | null; userId?: string; body?: string; type?: string } = {}
  ): Promise<Answer> =>
    await call(
      url,
      'PUT',
      `/_matrix/client/v3/sendToDevice/${encodeURIComponent(o.type ?? TYPE)}/${encodeURIComponent(txn)}`,
      { body: toBob(), ...o }
    )
  const bobsEvents = async (
    url: string
  ): Promise<Array<{ type: string; sender: string; content: Record<string, unknown> }>> =>
    (await syncToDevice({ url, token: BOB.accessToken }, undefined)).events

  describe('identity assertion: the application service acts only as users of its namespace', function () {
    it('acts as its sender without user_id, and as a user its namespace covers', async function () {
      const { hs, url } = await start()
      assert.equal((await put(url, 't1')).status, 200)
      assert.equal((await put(url, 't2', { userId: BOT })).status, 200)
      assert.deepEqual(
        (await bobsEvents(url)).map(e => e.sender),
        [BOT, BOT]
      )
      assert.equal(hs.received.length, 2)
      assert.deepEqual((await call(url, 'GET', '/_matrix/client/v3/account/whoami', { userId: BOT })).json, {
        user_id: BOT
      })
    })

    it('refuses with 403 M_FORBIDDEN a user outside the namespace, a look-alike, and one of another server; delivers nothing', async function () {
      const { hs, url } = await start()
      for (const userId of [
        ALICE.userId,
        '@sealmix:example.org.evil.net',
        '@xsealmix:example.org',
        '@sealmix:other.example'
      ]) {
        const r = await put(url, `t-${userId}`, { userId })
        assert.equal(r.status, 403, userId)
        assert.equal(r.json.errcode, 'M_FORBIDDEN', userId)
        assert.equal(
          (await call(url, 'GET', '/_matrix/client/v3/account/whoami', { userId })).status,
          403,
          `whoami as ${userId}`
        )
      }
      assert.equal(hs.received.length, 0)
      assert.deepEqual(await bobsEvents(url), [])
    })

    it("the ingress's sink: delivered as @sealmix, refused as a bot the registration does not cover", async function () {
      const { hs, url } = await start()
      const d = {
        userId: BOB.userId,
        deviceId: BOB.deviceId,
        envelope: Buffer.from('sealed'),
        messageId: 'ab'.repeat(16)
      }
      assert.equal(await matrixSink({ url, asToken: AS, botUserId: BOT }).deliver(d), 'delivered')
      assert.equal(
        await matrixSink({ url, asToken: AS, botUserId: '@sealmix2:example.org' }).deliver({
          ...d,
          messageId: 'cd'.repeat(16)
        }),
        'refused'
      )
      assert.equal(
        await matrixSink({ url, asToken: 'as-token-rotated-0123456', botUserId: BOT }).deliver({
          ...d,
          messageId: 'ef'.repeat(16)
        }),
        'retry',
        "a wrong as_token is the operator's fault: 401, the message waits"
      )
      assert.equal(hs.received.length, 1)
    })

    it('takes the registration file init writes; a namespace user must be registered; an exclusive namespace cannot hold a user of its own', async function () {
      const dir = mkdtempSync(join(tmpdir(), 'sealmix-standin-'))
      try {
        const file = join(dir, 'registration.yaml')
        const bridged = { userId: '@bridge_1:example.org', deviceId: 'BRIDGE1', accessToken: 'tok-bridge-0123456789' }
        writeFileSync(
          file,
          toYaml({
            id: 'sealmix-ingress',
            url: null,
            as_token: AS,
            hs_token: 'hs-token-0123456789abcdef',
            sender_localpart: 'sealmix',
            rate_limited: false,
            namespaces: { users: [{ exclusive: false, regex: '@bridge_.*:example\\.org' }], rooms: [], aliases: [] }
          })
        )
        const { url } = await start({ registration: file, users: [ALICE, BOB, bridged] })
        assert.equal(
          (await put(url, 'b1', { userId: bridged.userId })).status,
          200,
          'a registered user of the namespace'
        )
        const unregistered = await put(url, 'b2', { userId: '@bridge_2:example.org' })
        assert.deepEqual(
          [unregistered.status, unregistered.json.errcode],
          [403, 'M_FORBIDDEN'],
          'in the namespace but never registered'
        )
        assert.equal((await put(url, 'b3', { userId: ALICE.userId })).status, 403)
        assert.deepEqual(
          (await bobsEvents(url)).map(e => e.sender),
          [bridged.userId]
        )
        assert.throws(
          () =>
            new StandinHomeserver({
              serverName: SERVER,
              asToken: AS,
              users: [bridged],
              registration: {
                sender_localpart: 'sealmix',
                namespaces: { users: [{ exclusive: true, regex: '@bridge_.*:example\\.org' }] }
              }
            }),
          /exclusive namespace .*M_EXCLUSIVE/
        )
        assert.throws(
          () => new StandinHomeserver({ serverName: SERVER, asToken: AS, users: [{ ...ALICE, userId: BOT }] }),
          /M_EXCLUSIVE/,
          'nobody else holds the bot'
        )
        assert.throws(
          () =>
            new StandinHomeserver({
              serverName: SERVER,
              asToken: 'another-token-0123456789',
              users: [],
              registration: file
            }),
          /as_token/
        )
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })

    it("a whole local user id must match (stricter than Synapse's prefix match: what passes here passes there)", async function () {
      const local = { userId: '@bridge_a:example.org', deviceId: 'BA', accessToken: 'tok-bridge-a-0123456789' }
      const foreign = { userId: '@bridge_b:other.example', deviceId: 'BB', accessToken: 'tok-bridge-b-0123456789' }
      const ns = (regex: string): StandinOptions['registration'] => ({
        sender_localpart: 'sealmix',
        namespaces: { users: [{ exclusive: false, regex }] }
      })
      const prefixOnly = await start({ users: [ALICE, BOB, local], registration: ns('@bridge_[a-z]') })
      assert.equal(
        (await put(prefixOnly.url, 'p', { userId: local.userId })).status,
        403,
        'the regex covers only a prefix of the id'
      )
      const anyServer = await start({ users: [ALICE, BOB, local, foreign], registration: ns('@bridge_[a-z]:.*') })
      assert.equal((await put(anyServer.url, 'q', { userId: local.userId })).status, 200)
      assert.equal(
        (await put(anyServer.url, 'r', { userId: foreign.userId })).status,
        403,
        "a user of another server is never the service's to act as"
      )
      assert.equal(prefixOnly.hs.received.length + anyServer.hs.received.length, 1)
    })
  })

  describe('tokens', function () {
    it('401 M_MISSING_TOKEN without one, 401 M_UNKNOWN_TOKEN for an unknown one; nothing delivered', async function () {
      const { hs, url } = await start()
      const none = await put(url, 'x1', { token: null })
      assert.deepEqual([none.status, none.json.errcode], [401, 'M_MISSING_TOKEN'])
      const unknown = await put(url, 'x2', { token: 'nobody-0123456789' })
      assert.deepEqual([unknown.status, unknown.json.errcode], [401, 'M_UNKNOWN_TOKEN'])
      assert.equal(hs.received.length, 0)
    })
  })

  describe("bodies: 400 with the spec's error, nothing delivered, and a refusal is not remembered", function () {
    const cases: Array<[string, string | undefined, string]> = [
      ['no body', undefined, 'M_NOT_JSON'],
      ['not JSON', '{messages:', 'M_NOT_JSON'],
      ['JSON but not an object', '[1, 2]', 'M_BAD_JSON'],
      ['messages missing', '{}', 'M_BAD_JSON'],
      ['messages not an object', '{"messages": [1]}', 'M_BAD_JSON'],
      ['a user mapped to a string', JSON.stringify({ messages: { [BOB.userId]: 'x' } }), 'M_BAD_JSON'],
      [
        "a device's message not an object",
        JSON.stringify({ messages: { [BOB.userId]: { [BOB.deviceId]: 'x' } } }),
        'M_BAD_JSON'
      ],
      [
        'a key that is no user id',
        JSON.stringify({ messages: { bob: { [BOB.deviceId]: { n: 1 } } } }),
        'M_INVALID_PARAM'
      ]
    ]
    for (const [what, body, errcode] of cases) {
      it(`${what}: 400 ${errcode}`, async function () {
        const { hs, url } = await start()
        const r = await put(url, 'same-txn', { body })
        assert.deepEqual([r.status, r.json.errcode], [400, errcode])
        assert.equal(hs.received.length, 0)
        assert.equal(hs.transactions.size, 0, 'the refusal is not kept')
        // The sender fixes the body and retries under the same transaction id: delivered.
        assert.equal((await put(url, 'same-txn')).status, 200)
        assert.equal(hs.received.length, 1)
      })
    }

    it('an empty messages object is a valid request that delivers nothing; another method is 405 M_UNRECOGNIZED', async function () {
      const { hs, url } = await start()
      assert.equal((await put(url, 'empty', { body: '{"messages": {}}' })).status, 200)
      assert.equal(hs.received.length, 0)
      const get = await call(url, 'GET', `/_matrix/client/v3/sendToDevice/${TYPE}/t`)
      assert.deepEqual([get.status, get.json.errcode], [405, 'M_UNRECOGNIZED'])
    })
  })

  describe('recipients', function () {
    it("'*' reaches every device of the user; a local device that does not exist gets nothing, and the request succeeds", async function () {
      const bobPhone = { ...BOB, deviceId: 'BOBPHONE', accessToken: 'tok-bob-phone-0123456789' }
      const { hs, url } = await start({ users: [ALICE, BOB, bobPhone] })
      assert.equal(
        (await put(url, 'all', { body: JSON.stringify({ messages: { [BOB.userId]: { '*': { n: 1 } } } }) })).status,
        200
      )
      assert.deepEqual(
        hs.received.map(r => r.deviceId),
        [BOB.deviceId, bobPhone.deviceId]
      )
      assert.equal(
        (
          await put(url, 'none', {
            body: JSON.stringify({
              messages: { [BOB.userId]: { NOSUCHDEVICE: { n: 2 } }, '@nobody:example.org': { X: { n: 3 } } }
            })
          })
        ).status,
        200
      )
      assert.equal(hs.received.length, 2, 'dropped, as Synapse drops them')
    })
  })

  describe('transactions: idempotent per scope and endpoint', function () {
    it('a retransmission gets the same answer and delivers nothing, whatever its body', async function () {
      const { hs, url } = await start()
      const first = await put(url, 'm1', { body: toBob({ n: 1 }) })
      const again = await put(url, 'm1', { body: toBob({ n: 1 }) })
      const changed = await put(url, 'm1', { body: toBob({ n: 2 }) })
      const broken = await put(url, 'm1', { body: 'not json' })
      assert.deepEqual([again, changed, broken], [first, first, first])
      assert.deepEqual(
        (await bobsEvents(url)).map(e => e.content),
        [{ n: 1 }]
      )
      assert.equal((await put(url, 'm2')).status, 200)
      assert.equal(hs.received.length, 2, 'another transaction id is another delivery')
    })

    it('the same txnId in another scope or on another endpoint is another transaction', async function () {
      const { hs, url } = await start()
      assert.equal((await put(url, 'k')).status, 200)
      assert.equal(hs.received.length, 1)
      await put(url, 'k', { type: 'org.example.other' })
      assert.equal(hs.received.length, 2, 'another event type is another path: another endpoint')
      await put(url, 'k', { token: ALICE.accessToken })
      assert.equal(hs.received.length, 3, "alice's device is another scope")
      await put(url, 'k', { token: BOB.accessToken })
      assert.equal(hs.received.length, 4, "so is bob's")
      await put(url, 'k', { token: ALICE.accessToken, userId: BOT })
      assert.equal(hs.received.length, 4, "alice again (user_id means nothing with a user's token): a retransmission")
      assert.deepEqual(
        (await bobsEvents(url)).map(e => [e.type, e.sender]),
        [
          [TYPE, BOT],
          ['org.example.other', BOT],
          [TYPE, ALICE.userId],
          [TYPE, BOB.userId]
        ]
      )
    })

    it("an application service's scope is the service, not the user it asserts (Synapse keys on path and appservice id)", async function () {
      const bridged = { userId: '@bridge_1:example.org', deviceId: 'BRIDGE1', accessToken: 'tok-bridge-0123456789' }
      const { hs, url } = await start({
        users: [ALICE, BOB, bridged],
        registration: {
          sender_localpart: 'sealmix',
          namespaces: { users: [{ exclusive: false, regex: '@bridge_.*:example\\.org' }] }
        }
      })
      assert.equal((await put(url, 'shared', { userId: BOT })).status, 200)
      assert.equal((await put(url, 'shared', { userId: bridged.userId })).status, 200)
      assert.equal(hs.received.length, 1)
    })
  })

  describe('forgetting: the memory of transactions is bounded and expires', function () {
    it('a transaction is remembered for txnTtlMs, then forgotten: the same request delivers again', async function () {
      const { hs, url } = await start({ txnTtlMs: 60_000 })
      await put(url, 'late')
      clock += 59_999
      await put(url, 'late')
      assert.equal(hs.received.length, 1, 'within the window: a retransmission')
      assert.deepEqual(hs.transactions, { size: 1, expired: 0, evicted: 0 })
      clock += 1
      assert.deepEqual(hs.transactions, { size: 0, expired: 1, evicted: 0 })
      assert.equal((await put(url, 'late')).status, 200)
      assert.equal(
        hs.received.length,
        2,
        'after the window the homeserver delivers again: exactly once rests on the ingress beyond it'
      )
    })

    it("the default window is Synapse's shortest: 30 minutes", async function () {
      const { hs, url } = await start()
      await put(url, 'w')
      clock += 30 * 60_000 - 1
      await put(url, 'w')
      assert.equal(hs.received.length, 1)
      clock += 1
      await put(url, 'w')
      assert.equal(hs.received.length, 2)
    })

    it('beyond maxTransactions the oldest is forgotten first', async function () {
      const { hs, url } = await start({ maxTransactions: 3 })
      for (const t of ['a', 'b', 'c', 'd']) {
        await put(url, t)
        clock += 1
      }
      assert.deepEqual(hs.transactions, { size: 3, expired: 0, evicted: 1 })
      await put(url, 'd')
      assert.equal(hs.received.length, 4, 'd is remembered')
      await put(url, 'a')
      assert.equal(hs.received.length, 5, 'a was forgotten: delivered again')
      assert.deepEqual(hs.transactions, { size: 3, expired: 0, evicted: 2 })
      await put(url, 'b')
      assert.equal(hs.received.length, 6, 'then b, the oldest left')
    })

    it('long transaction ids count against a bound on the characters remembered', async function () {
      const long = (c: string): string => c.repeat(4000)
      const { hs, url } = await start({ maxTransactionKeyChars: 10_000 })
      await put(url, long('a'))
      await put(url, long('b'))
      assert.deepEqual(hs.transactions, { size: 2, expired: 0, evicted: 0 })
      await put(url, long('c'))
      assert.deepEqual(hs.transactions, { size: 2, expired: 0, evicted: 1 })
      await put(url, long('a'))
      assert.equal(hs.received.length, 4, 'the first long id was forgotten')
      await put(url, 'short')
      assert.deepEqual(
        hs.transactions,
        { size: 3, expired: 0, evicted: 2 },
        'a short one fits beside the last long one'
      )
    })
  })
})

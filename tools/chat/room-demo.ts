/**
 * The room demo behind `sealmix room-demo` (docs/PROTOCOL.md §15a): three members of one Matrix
 * room, each a SealmixClient booted as `sealmix listen` boots one (its own certificates, capability,
 * gateway connection and homeserver token). They share one process only because this is a demo;
 * nothing passes between them but through the homeserver and the mixnet, except the choreography
 * (who makes the room, when the block comes).
 *
 * The first member makes the room (inviting the others and the ingress's bot), its send key, and
 * shares the key in sealed to-device messages. Every member syncs, accepts key shares from joined
 * members, opens each sealed room event with the membership at that event (from the room's
 * timeline, in order), and sends `hello #n` to the room. Once the third member has had a few
 * messages delivered, the first blocks her: a new key, shared with the second only. Her next
 * message is refused by the ingress and she stops; a member refused because the key changed
 * under its message sends it again with the new key.
 */
import {
  ClientError,
  type Contact,
  fetchRoomKey,
  newRoomKey,
  nextRoomKey,
  type RoomKey,
  type RoomKeyAccept,
  registerRoomKey,
  type SealmixClient
} from '../../client/index.ts'
import { type HomeserverAuth, homeserverCall } from '../../daemon/index.ts'
import {
  type CryptoSuite,
  loadCrypto,
  type Rng,
  ROOM_EVENT_TYPE,
  ROOM_KEY_CONTENT_TYPE,
  SEALED_EVENT_TYPE,
  systemRng,
  userIdDomain
} from '../../mix/index.ts'
import { type AppIo, type BootOptions, boot, retry } from './apps.ts'
import { type LoadedProfile, loadContact, loadProfile } from './profile.ts'
import { type RoomDemoEvent, roomDemoText } from './room-demo-text.ts'
import { type SyncAll, syncAll } from './sync.ts'

export interface RoomDemoOptions extends AppIo {
  /** Three client profiles: the room's maker, a member who stays, the member who is blocked. */
  readonly profiles: readonly string[]
  /** Their contact cards, in the same order. */
  readonly contacts: readonly string[]
  /** @default 3000 */
  readonly everyMs?: number
  /** Messages of the third member delivered before the first blocks her. @default 3 */
  readonly blockAfter?: number
  readonly stop: Promise<void>
}

interface Sent {
  readonly n: number
  readonly keyId: number
}

interface Member {
  readonly name: string
  readonly index: number
  readonly lp: LoadedProfile
  readonly client: SealmixClient
  readonly contact: Contact
  readonly hs: HomeserverAuth
  readonly boot: BootOptions
  since: string | undefined
  /** The room's joined users at the point of its timeline read so far. */
  readonly joined: Set<string>
  seeded: boolean
  n: number
  delivered: number
  /** Room messages in flight, by message id. */
  readonly inFlight: Map<string, Sent>
  /** Key shares in flight, by message id: the key and to whom. */
  readonly shares: Map<string, { readonly key: RoomKey; readonly to: Member }>
  /** Refused messages, sent again once a newer key is held. */
  held: number[]
  /** Refused with the key it holds: it sends nothing until a new key arrives. */
  waitingForKey: boolean
  timer: NodeJS.Timeout | null
  syncFailing: boolean
}

const MATRIX = '/_matrix/client/v3'

/**
 * A Matrix client-server call as a member. Unreachable, 5xx, 408 and 429 can pass (retried);
 * another refusal is final (CLIENT_REFUSED). Messages name the endpoint, never the address.
 */
async function matrix(
  hs: HomeserverAuth,
  method: string,
  path: string,
  body: unknown
): Promise<Record<string, unknown>> {
  const what = `${method} ${path.split('?')[0]!.replace(/![^/]+/, '{room}')}`
  const r = await homeserverCall(hs, method, path, body)
  if (r.kind === 'unreachable') throw new ClientError('CLIENT_HOMESERVER', `the homeserver did not answer ${what}`)
  if (r.status === 200) return r.json
  const passing = r.status >= 500 || r.status === 408 || r.status === 429
  throw new ClientError(
    passing ? 'CLIENT_HOMESERVER' : 'CLIENT_REFUSED',
    `${what} answered ${r.status} ${String(r.json.errcode ?? '')}`
  )
}

const sleep = async (ms: number): Promise<void> => {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** The mailbox of a member's client here: not its profile's, which `sealmix listen` may be pulling. */
function demoMailbox(c: CryptoSuite, lp: LoadedProfile): Buffer {
  const out = Buffer.alloc(32)
  c.blake2b(out, Buffer.from('sealmix room-demo mailbox'), lp.mailboxId)
  return out
}

/** Run the demo until `o.stop`. Throws a ClientError for what no retry fixes (a refusal, a bad profile). */
export async function runRoomDemo(o: RoomDemoOptions): Promise<void> {
  const c = await loadCrypto()
  const demo = new RoomDemo(c, o)
  await demo.run()
}

class RoomDemo {
  readonly #c: CryptoSuite
  readonly #o: RoomDemoOptions
  readonly #rng: Rng
  readonly #contacts: Contact[]
  /** The members' localparts, in the profiles' order. */
  readonly #names: string[]
  readonly #members: Member[] = []
  #stopped = false
  #roomId = ''
  #blockStarted = false
  /** The member the first one blocked, once she did. */
  #blocked: Member | null = null
  #fail!: (e: unknown) => void
  readonly #failed = new Promise<never>((_, reject) => {
    this.#fail = reject
  })

  constructor(c: CryptoSuite, o: RoomDemoOptions) {
    if (o.profiles.length !== 3 || o.contacts.length !== 3)
      throw new ClientError('CLIENT_CONFIG_INVALID', 'the room demo takes three profiles and their three contact cards')
    this.#c = c
    this.#o = o
    this.#rng = systemRng(c)
    this.#contacts = o.contacts.map(f => loadContact(f))
    // Checked before anything starts: a card that is not its profile's would seal to a stranger.
    this.#names = o.profiles.map((p, i) => {
      const d = loadProfile(c, p).device
      const k = this.#contacts[i]!
      if (k.userId !== d.userId || k.deviceId !== d.deviceId)
        throw new ClientError('CLIENT_CONFIG_INVALID', `${o.contacts[i]!} is not the contact card of ${p}`)
      return d.userId.slice(1).split(':')[0]!
    })
    void o.stop.then(() => {
      this.#stopped = true
    })
    // Handled in run(); a rejection before it awaits must not count as unhandled.
    this.#failed.catch(() => {})
  }

  async run(): Promise<void> {
    try {
      if (!(await this.#start())) return
      await Promise.race([this.#o.stop, this.#failed])
    } finally {
      this.#stopped = true
      for (const m of this.#members) {
        if (m.timer !== null) clearInterval(m.timer)
        m.client.close()
      }
    }
  }

  #emit(e: RoomDemoEvent): void {
    this.#o.print(this.#o.json === true ? JSON.stringify(e) : roomDemoText(e))
  }

  /** Boot the members, make the room and its key, start syncing and sending. False when stopped first. */
  async #start(): Promise<boolean> {
    // One after another: once the first has found the network ready, the others boot at once.
    for (const [i, p] of this.#o.profiles.entries()) {
      const m = await this.#boot(p, i)
      if (m === null) return false
      this.#members.push(m)
      if ((await this.#firstSync(m)) === null) return false
    }
    const [maker, ...others] = this.#members as [Member, Member, Member]
    if (!(await this.#makeRoom(maker, others))) return false
    for (const m of this.#members) void this.#syncLoop(m).catch(e => this.#fail(e))
    const key = newRoomKey(this.#c, this.#rng, this.#roomId)
    const registered = await retry(
      maker.boot,
      'CLIENT_HOMESERVER',
      'the ingress API to register the room key',
      async () => await registerRoomKey(maker.lp.profile.ingressApi, maker.hs.token, key)
    )
    if (registered === null) return false
    maker.client.rooms.set(key)
    this.#share(maker, key, others)
    this.#emit({
      event: 'room_key',
      member: maker.name,
      result: 'registered',
      keyId: key.keyId,
      sharedWith: others.map(m => m.name)
    })
    this.#startSending(maker)
    return true
  }

  async #boot(profile: string, index: number): Promise<Member | null> {
    const name = this.#names[index]!
    const opts: BootOptions = {
      print: this.#o.print,
      json: this.#o.json,
      stopped: () => this.#stopped,
      mailboxOf: lp => demoMailbox(this.#c, lp),
      say: (event, fields, what) =>
        this.#emit({ event: event === 'waiting' ? 'room_waiting' : 'room_routable', member: name, ...fields, what })
    }
    const b = await boot(this.#c, profile, opts)
    if (b === null) return null
    const m: Member = {
      name,
      index,
      lp: b.lp,
      client: b.client,
      contact: this.#contacts[index]!,
      hs: { url: b.lp.profile.homeserver.url, token: b.lp.profile.homeserver.accessToken },
      boot: opts,
      since: undefined,
      joined: new Set(),
      seeded: false,
      n: 0,
      delivered: 0,
      inFlight: new Map(),
      shares: new Map(),
      held: [],
      waitingForKey: false,
      timer: null,
      syncFailing: false
    }
    this.#listen(m)
    b.client.start()
    return m
  }

  /** Where this member's syncs start: now, so that to-device messages of earlier runs stay unread. */
  async #firstSync(m: Member): Promise<string | null> {
    const s = await retry(
      m.boot,
      'CLIENT_HOMESERVER',
      "the homeserver's /sync",
      async () => await syncAll(m.hs, undefined)
    )
    if (s === null) return null
    m.since = s.nextBatch
    return m.since
  }

  async #makeRoom(maker: Member, others: readonly Member[]): Promise<boolean> {
    const bot = `@sealmix:${userIdDomain(maker.lp.device.userId)!}`
    const invited = others.map(m => m.lp.device.userId)
    const made = await retry(
      maker.boot,
      'CLIENT_HOMESERVER',
      'the homeserver to make the room',
      async () =>
        await matrix(maker.hs, 'POST', `${MATRIX}/createRoom`, { name: 'sealmix room demo', invite: [...invited, bot] })
    )
    if (made === null) return false
    if (typeof made.room_id !== 'string') throw new ClientError('CLIENT_HOMESERVER', 'createRoom answered no room id')
    this.#roomId = made.room_id
    this.#emit({ event: 'room_created', member: maker.name, invited, bot })
    for (const m of others) {
      const path = `${MATRIX}/rooms/${encodeURIComponent(this.#roomId)}/join`
      const joined = await retry(
        m.boot,
        'CLIENT_HOMESERVER',
        'the homeserver to join the room',
        async () => await matrix(m.hs, 'POST', path, {})
      )
      if (joined === null) return false
      this.#emit({ event: 'room_joined', member: m.name })
    }
    return true
  }

  #listen(m: Member): void {
    m.client.on('delivered', (e: { messageId: string; latencyMs: number }) => this.#onDelivered(m, e))
    m.client.on('failed', (e: { messageId: string; code: string }) => this.#onFailed(m, e))
  }

  #onDelivered(m: Member, e: { messageId: string; latencyMs: number }): void {
    m.shares.delete(e.messageId)
    const sent = m.inFlight.get(e.messageId)
    if (sent === undefined) return
    m.inFlight.delete(e.messageId)
    m.delivered++
    this.#emit({ event: 'room_delivered', member: m.name, n: sent.n, latencyMs: e.latencyMs })
    if (m.index === 2 && m.delivered >= (this.#o.blockAfter ?? 3) && !this.#blockStarted) {
      this.#blockStarted = true
      void this.#block().catch(err => this.#fail(err))
    }
  }

  #onFailed(m: Member, e: { messageId: string; code: string }): void {
    const share = m.shares.get(e.messageId)
    if (share !== undefined) {
      m.shares.delete(e.messageId)
      this.#emit({ event: 'room_failed', member: m.name, what: `the room key share to ${share.to.name}`, code: e.code })
      // Shared again unless a newer key replaced it meanwhile (its own share is under way).
      if (e.code !== 'CLIENT_REFUSED' && m.client.rooms.get(this.#roomId)?.keyId === share.key.keyId)
        this.#share(m, share.key, [share.to])
      return
    }
    const sent = m.inFlight.get(e.messageId)
    if (sent === undefined) return
    m.inFlight.delete(e.messageId)
    if (e.code === 'CLIENT_REFUSED') this.#onRefused(m, sent)
    else this.#emit({ event: 'room_failed', member: m.name, n: sent.n, what: `hello #${sent.n}`, code: e.code })
  }

  /**
   * The ingress refused a room message: the key it was sent with is no longer taken. With a newer
   * key the member sends it again at once; else it stops until a new key arrives, which for a
   * blocked member is never.
   */
  #onRefused(m: Member, sent: Sent): void {
    const held = m.client.rooms.get(this.#roomId)
    if (held !== undefined && held.keyId !== sent.keyId) {
      this.#emit({ event: 'room_refused', member: m.name, n: sent.n, blocked: false, resend: 'now' })
      this.#send(m, sent.n)
      return
    }
    m.held.push(sent.n)
    if (m.waitingForKey) return
    m.waitingForKey = true
    const blocked = this.#blocked === m
    this.#emit({ event: 'room_refused', member: m.name, n: sent.n, blocked, resend: 'on_new_key', last: m.n })
  }

  /** A newer key is held: what was refused goes out again, and sending goes on. */
  #onNewKey(m: Member): void {
    const held = m.held
    m.held = []
    m.waitingForKey = false
    for (const n of held) this.#send(m, n)
    this.#startSending(m)
  }

  #share(from: Member, key: RoomKey, to: readonly Member[]): void {
    for (const t of to) {
      try {
        const [id] = from.client.shareRoomKey(key, [t.contact])
        from.shares.set(id!, { key, to: t })
      } catch (e) {
        this.#emit({
          event: 'room_failed',
          member: from.name,
          what: `the room key share to ${t.name}`,
          code: codeOf(e)
        })
      }
    }
  }

  #startSending(m: Member): void {
    if (m.timer !== null) return
    m.timer = setInterval(() => {
      if (!m.waitingForKey && !this.#stopped) this.#send(m, ++m.n)
    }, this.#o.everyMs ?? 3000)
  }

  /** `hello #n` to the room, sealed for every member's device. */
  #send(m: Member, n: number): void {
    const key = m.client.rooms.get(this.#roomId)
    const text = `hello #${n} from ${m.name}`
    if (key === undefined) return
    try {
      const id = m.client.sendToRoom(
        this.#roomId,
        text,
        this.#contacts.map(k => k.x25519)
      )
      m.inFlight.set(id, { n, keyId: key.keyId })
      this.#emit({ event: 'room_sent', member: m.name, n, text })
    } catch (e) {
      this.#emit({ event: 'room_failed', member: m.name, n, what: `hello #${n}`, code: codeOf(e) })
    }
  }

  /** The first member blocks the third: a new key that ends the old one at once, shared with the second only. */
  async #block(): Promise<void> {
    const [maker, kept, blocked] = this.#members as [Member, Member, Member]
    const next = nextRoomKey(this.#c, this.#rng, maker.client.rooms.get(this.#roomId)!, { block: true })
    // Named before the ingress can refuse her: her refusal comes back through the mixnet after it.
    this.#blocked = blocked
    const done = await retry(
      maker.boot,
      'CLIENT_HOMESERVER',
      'the ingress API to register the new room key',
      async () => await registerRoomKey(maker.lp.profile.ingressApi, maker.hs.token, next)
    )
    if (done === null) return
    maker.client.rooms.set(next)
    this.#share(maker, next, [kept])
    this.#emit({
      event: 'room_blocked',
      member: maker.name,
      blocked: blocked.name,
      keyId: next.keyId,
      sharedWith: [kept.name]
    })
    this.#onNewKey(maker)
  }

  /** Long-polls the member's /sync until stopped; a failure is said once and retried every second. */
  async #syncLoop(m: Member): Promise<void> {
    while (!this.#stopped) {
      let r: SyncAll | null
      try {
        r = await Promise.race([syncAll(m.hs, m.since, 5000), this.#o.stop.then(() => null)])
      } catch (e) {
        if (!m.syncFailing)
          this.#emit({
            event: 'room_waiting',
            member: m.name,
            for: codeOf(e),
            what: "its homeserver's /sync failed; retrying"
          })
        m.syncFailing = true
        await sleep(1000)
        continue
      }
      if (r === null) return
      m.syncFailing = false
      m.since = r.nextBatch
      // The room first: a key share is accepted only from a member joined as far as the timeline tells.
      this.#onRoom(m, r)
      await this.#onToDevice(m, r)
    }
  }

  #onRoom(m: Member, r: SyncAll): void {
    const timeline = r.roomEvents.filter(e => e.roomId === this.#roomId)
    if (!m.seeded && (r.rooms.joined.includes(this.#roomId) || r.rooms.left.includes(this.#roomId))) {
      // The state before the timeline, for users the timeline does not mention: their final
      // membership held throughout it. Users it mentions are walked from their first event.
      const mentioned = new Set(timeline.filter(e => e.type === 'm.room.member').map(e => e.stateKey))
      for (const [user, ms] of Object.entries(r.members[this.#roomId] ?? {}))
        if (ms === 'join' && !mentioned.has(user)) m.joined.add(user)
      m.seeded = true
    }
    for (const e of timeline) {
      if (e.type === 'm.room.member' && e.stateKey !== undefined) {
        if (e.content.membership === 'join') m.joined.add(e.stateKey)
        else m.joined.delete(e.stateKey)
      } else if (e.type === ROOM_EVENT_TYPE) this.#open(m, e)
    }
  }

  #open(m: Member, e: SyncAll['roomEvents'][number]): void {
    const r = m.client.openRoomEvent(e, u => m.joined.has(u))
    if (r.kind === 'received')
      this.#emit({
        event: 'room_received',
        member: m.name,
        from: r.message.sender.userId,
        text: r.message.content.toString('utf8').slice(0, 200)
      })
    else if (r.kind === 'rejected') this.#emit({ event: 'room_rejected', member: m.name, code: r.code })
  }

  /**
   * Room key shares, each checked against the key the room's ingress holds now; the chat's text
   * messages to the same device are `sealmix listen`'s.
   */
  async #onToDevice(m: Member, r: SyncAll): Promise<void> {
    for (const ev of r.toDevice) {
      if (ev.type !== SEALED_EVENT_TYPE || typeof ev.content.envelope !== 'string') continue
      const opened = m.client.open(Buffer.from(ev.content.envelope, 'base64'))
      if (!opened.ok || opened.value.contentType !== ROOM_KEY_CONTENT_TYPE) continue
      const a = await m.client.acceptRoomKey(
        opened.value,
        (room, user) => room === this.#roomId && m.joined.has(user),
        async room => {
          const got = await retry(m.boot, 'CLIENT_HOMESERVER', "the room's current key from the ingress", async () => ({
            key: await fetchRoomKey(m.lp.profile.ingressApi, m.hs.token, room)
          }))
          return got?.key ?? null
        }
      )
      this.#emit(keyEvent(m, opened.value.sender.userId, a))
      if (a.kind === 'accepted') this.#onNewKey(m)
    }
  }
}

function keyEvent(m: Member, from: string, a: RoomKeyAccept): RoomDemoEvent {
  if (a.kind === 'accepted') return { event: 'room_key', member: m.name, result: 'accepted', from, keyId: a.key.keyId }
  if (a.kind === 'unchanged') return { event: 'room_key', member: m.name, result: 'unchanged', from }
  return { event: 'room_key', member: m.name, result: 'refused', from, code: a.code }
}

function codeOf(e: unknown): string {
  return e instanceof ClientError ? e.code : 'CLIENT_INTERNAL'
}

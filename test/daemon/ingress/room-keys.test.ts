/**
 * The ingress's room send keys (daemon/ingress/store.ts, docs/PROTOCOL.md §15a) on a real LevelDB:
 * first registration, rotation only with the current key's proof, the replaced key's grace (none
 * for a block), the bounds on rooms and on rooms per user, and all of it across a restart.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IngressStore } from '../../../daemon/ingress/store.ts'
import { type CryptoSuite, loadCrypto, signRoomKeyRotation, verifyRoomKeyRotation } from '../../../mix/index.ts'

const T0 = 1_800_000_000_000
const GRACE = 60_000

describe('ingress room send keys: rotation, grace, bounds, restart', function () {
  let c: CryptoSuite
  let dir: string
  const stores: IngressStore[] = []
  before(async function () {
    c = await loadCrypto('sodium-native')
  })
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'sealmix-roomkeys-'))
  })
  afterEach(async function () {
    for (const s of stores.splice(0)) await s.close().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  })

  async function open(maxRooms = 100, perUser = 2): Promise<IngressStore> {
    const s = new IngressStore(join(dir, 'db'), c, Buffer.alloc(32, 7), 1000, maxRooms, perUser)
    await s.open(T0)
    stores.push(s)
    return s
  }
  const key = (): { keyId: number; publicKey: Buffer; secretKey: Uint8Array } => {
    const seed = Buffer.alloc(32)
    c.randomFill(seed)
    const kp = c.signSeedKeypair(seed)
    return { keyId: 1, publicKey: Buffer.from(kp.publicKey), secretKey: kp.secretKey }
  }
  /** Register `next` in `room` as `userId`, proving it with `by` (the key it replaces) when given. */
  const put = async (
    s: IngressStore,
    room: string,
    next: { keyId: number; publicKey: Buffer },
    o: { userId?: string; by?: { secretKey: Uint8Array }; block?: boolean; now?: number } = {}
  ): Promise<string> => {
    const block = o.block ?? false
    const proof =
      o.by === undefined ? null : signRoomKeyRotation(c, o.by.secretKey, room, next.keyId, next.publicKey, block)
    return await s.setRoomKey(room, next, o.now ?? T0, {
      userId: o.userId ?? '@alice:example.org',
      graceMs: block ? 0 : GRACE,
      verified: cur =>
        proof !== null && verifyRoomKeyRotation(c, cur.publicKey, room, next.keyId, next.publicKey, block, proof)
    })
  }
  const live = (s: IngressStore, room: string, now: number): number[] =>
    (s.lookupRoom(room, now)?.capabilityKeys ?? []).map(k => k.keyId)

  it('a first key needs nothing; a successor needs the current key proof; the old key lives its grace', async function () {
    const s = await open()
    const k1 = key()
    assert.equal(await put(s, '!a:x', k1), 'registered')
    assert.equal(await put(s, '!a:x', k1), 'unchanged')
    const k2 = { ...key(), keyId: 2 }
    assert.equal(await put(s, '!a:x', k2), 'no_proof', 'no proof')
    assert.equal(await put(s, '!a:x', k2, { by: key() }), 'no_proof', 'a proof by another key')
    assert.equal(await put(s, '!a:x', { ...key(), keyId: 1 }, { by: k1 }), 'key_id_reused')
    assert.equal(await put(s, '!a:x', k2, { by: k1, now: T0 + 1000 }), 'rotated')
    assert.deepEqual(live(s, '!a:x', T0 + 1000), [1, 2])
    assert.deepEqual(live(s, '!a:x', T0 + 1000 + GRACE - 1), [1, 2])
    assert.deepEqual(live(s, '!a:x', T0 + 1000 + GRACE), [2], 'the grace ends')
    const k3 = { ...key(), keyId: 3 }
    assert.equal(await put(s, '!a:x', k3, { by: k2, block: true }), 'rotated')
    assert.deepEqual(live(s, '!a:x', T0), [3], 'a block: no grace')
    assert.equal(s.lookupRoom('!other:x', T0), undefined)
  })

  it('bounds: rooms per user, then rooms in all; rotations never count', async function () {
    const s = await open(3, 2)
    const a1 = key()
    assert.equal(await put(s, '!1:x', a1), 'registered')
    assert.equal(await put(s, '!2:x', key()), 'registered')
    assert.equal(await put(s, '!3:x', key()), 'user_full', "alice's third room")
    assert.equal(await put(s, '!1:x', { ...key(), keyId: 2 }, { by: a1 }), 'rotated', 'a rotation is not a new room')
    assert.equal(await put(s, '!3:x', key(), { userId: '@bob:example.org' }), 'registered', 'bob has his own share')
    assert.equal(await put(s, '!4:x', key(), { userId: '@carol:example.org' }), 'full', 'every slot taken')
  })

  it('keys, grace and the per-user count survive a restart', async function () {
    let s = await open(100, 1)
    const k1 = key()
    assert.equal(await put(s, '!a:x', k1), 'registered')
    const k2 = { ...key(), keyId: 2 }
    assert.equal(await put(s, '!a:x', k2, { by: k1 }), 'rotated')
    await s.close()
    stores.pop()
    s = await open(100, 1)
    assert.deepEqual(live(s, '!a:x', T0), [1, 2])
    assert.deepEqual(live(s, '!a:x', T0 + GRACE), [2])
    assert.equal(await put(s, '!b:x', key()), 'user_full', 'the count is kept')
    assert.equal(await put(s, '!a:x', { ...key(), keyId: 3 }, { by: k1 }), 'no_proof', 'the replaced key cannot rotate')
  })
})

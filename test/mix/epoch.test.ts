/**
 * Epoch arithmetic (deadlines, the live key set), relay and ingress descriptors signed with the
 * identity key (every forgery refused with its own code, junk never throws), the per-epoch
 * document built identically from the same descriptors in any order, valid with a majority of
 * authorities, and the signed schedule taken only from a majority.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  buildEpochDocument,
  type CryptoSuite,
  chooseSchedule,
  descriptorEpochs,
  deterministicRng,
  documentBytes,
  epochAt,
  epochStart,
  liveKeyEpochs,
  loadCrypto,
  type MixingParams,
  NETWORK_GEOMETRY,
  publishDeadline,
  relayId,
  type SignedDescriptor,
  scheduleOf,
  shuffle,
  signDescriptor,
  signDocument,
  signIngressBinding,
  signIngressDescriptor,
  signSchedule,
  verifyDescriptor,
  verifyDocument,
  verifyIngressBinding,
  verifyIngressDescriptor
} from '../../mix/index.ts'

const MIXING: MixingParams = {
  strategy: 'batch',
  intervalMs: 100,
  minPool: 8,
  flushFraction: 0.7,
  minBatch: 4,
  maxDelayMs: 5000,
  loopRatePerSec: 0.5
}
const SCHEDULE = { genesisMs: 1_700_000_000_000, epochMs: 10_000 }

describe('epochs and relay descriptors', function () {
  let c: CryptoSuite
  before(async function () {
    c = await loadCrypto()
  })

  function relay(
    seed: string,
    role: 'gateway' | 'mix',
    layer: number,
    epochs: number[]
  ): { sd: SignedDescriptor; secretKey: Uint8Array } {
    const rng = deterministicRng(c, seed)
    const id = c.signSeedKeypair(rng.bytes(32))
    const d = {
      version: 1 as const,
      id: relayId(c, id.publicKey),
      role,
      layer,
      address: `ws://${seed}.example:9000`,
      identityKey: Buffer.from(id.publicKey).toString('hex'),
      mixKeys: epochs.map(epoch => ({ epoch, key: rng.bytes(32).toString('hex') }))
    }
    return { sd: signDescriptor(c, d, id.secretKey), secretKey: id.secretKey }
  }

  it('counts epochs from genesis', function () {
    assert.equal(epochAt(SCHEDULE, SCHEDULE.genesisMs - 1), 0)
    assert.equal(epochAt(SCHEDULE, SCHEDULE.genesisMs + 9_999), 0)
    assert.equal(epochAt(SCHEDULE, SCHEDULE.genesisMs + 10_000), 1)
    assert.equal(epochStart(SCHEDULE, 7), SCHEDULE.genesisMs + 70_000)
  })

  it('verifies a descriptor and refuses each forgery with its own code; junk never throws', function () {
    const { sd, secretKey } = relay('m1', 'mix', 1, [5, 6, 7, 8])
    assert.ok(verifyDescriptor(c, sd, 5).ok)
    const code = (x: unknown, e = 5): string => {
      const r = verifyDescriptor(c, x, e)
      return r.ok ? 'ok' : r.code
    }
    assert.equal(
      code({ ...sd, descriptor: { ...sd.descriptor, address: 'ws://evil.example:9000' } }),
      'DESC_BAD_SIGNATURE'
    )
    const other = c.signSeedKeypair(Buffer.alloc(32, 3))
    assert.equal(
      code(
        signDescriptor(
          c,
          { ...sd.descriptor, identityKey: Buffer.from(other.publicKey).toString('hex') },
          other.secretKey
        )
      ),
      'DESC_ID_MISMATCH'
    )
    assert.equal(code(sd, 7), 'DESC_NO_KEY_FOR_EPOCH', 'keys must reach two epochs ahead')
    assert.equal(code(signDescriptor(c, { ...sd.descriptor, role: 'gateway' }, secretKey)), 'DESC_MALFORMED')
    // Junk, alone or as the descriptor under a well-formed signature: a result refusing it as malformed, never a throw.
    const refused = (r: { ok: boolean; code?: string }): string => (r.ok ? 'accepted' : r.code!)
    fc.assert(
      fc.property(fc.anything(), x => {
        assert.equal(refused(verifyDescriptor(c, x, 0)), 'DESC_MALFORMED')
        assert.equal(refused(verifyDescriptor(c, { descriptor: x, signature: 'ab'.repeat(64) }, 0)), 'DESC_MALFORMED')
      }),
      { numRuns: 2000 }
    )
  })

  it('builds the same document from the same descriptors in any order, leaving out what does not verify', function () {
    const rs = [
      relay('g1', 'gateway', 0, [3, 4, 5]),
      relay('g2', 'gateway', 0, [3, 4, 5]),
      relay('a', 'mix', 1, [3, 4, 5]),
      relay('b', 'mix', 2, [3, 4, 5]),
      relay('c', 'mix', 3, [3, 4, 5])
    ]
    const stale = relay('old', 'mix', 1, [1, 2, 3])
    const forged = { ...rs[2]!.sd, descriptor: { ...rs[2]!.sd.descriptor, address: 'ws://evil.example:1' } }
    const all: unknown[] = [...rs.map(r => r.sd), stale.sd, forged, { junk: true }]
    const input = {
      network: 't',
      epoch: 3,
      schedule: SCHEDULE,
      graceMs: 2000,
      geometry: NETWORK_GEOMETRY,
      mixing: MIXING,
      ingresses: []
    }
    const first = documentBytes(buildEpochDocument(c, { ...input, descriptors: all }))
    const rng = deterministicRng(c, 'order')
    for (let i = 0; i < 10; i++)
      assert.deepEqual(documentBytes(buildEpochDocument(c, { ...input, descriptors: shuffle([...all], rng) })), first)
    const doc = buildEpochDocument(c, { ...input, descriptors: all })
    assert.equal(doc.relays.length, 5, 'the stale and the forged descriptor are left out')
    assert.ok(doc.relays.every(r => r.address !== 'ws://evil.example:1'))
    assert.equal(
      doc.relays.find(r => r.id === rs[2]!.sd.descriptor.id)!.mixKey,
      rs[2]!.sd.descriptor.mixKeys.find(k => k.epoch === 3)!.key
    )
    assert.equal(doc.validFromMs, epochStart(SCHEDULE, 3))
    assert.equal(doc.validUntilMs, epochStart(SCHEDULE, 4) + 2000)
    // Three authorities: two signatures on these bytes make it valid, one does not.
    const auth = [1, 2, 3].map(i => c.signSeedKeypair(Buffer.alloc(32, i)))
    const signers = auth.map(a => a.publicKey)
    const now = epochStart(SCHEDULE, 3) + 1000
    const bytes = (n: number): Buffer => Buffer.from(JSON.stringify(signDocument(c, doc, auth.slice(0, n))))
    assert.ok(verifyDocument(c, bytes(2), { signers, geometry: NETWORK_GEOMETRY, nowMs: now }).ok)
    const one = verifyDocument(c, bytes(1), { signers, geometry: NETWORK_GEOMETRY, nowMs: now })
    assert.equal(one.ok ? 'ok' : one.code, 'DIR_BAD_SIGNATURES')
  })

  it('fixes each document half an epoch ahead (genesis for epoch 0) and keeps the live keys a relay needs', function () {
    const start = (e: number): number => epochStart(SCHEDULE, e)
    assert.equal(publishDeadline(SCHEDULE, 0), SCHEDULE.genesisMs)
    assert.equal(publishDeadline(SCHEDULE, 4), start(4) - 5000)
    assert.deepEqual(descriptorEpochs(4), [4, 5, 6, 7])
    // grace 2 s, skew 500 ms, epochs of 10 s
    assert.deepEqual(liveKeyEpochs(SCHEDULE, 2000, 500, start(4) + 100), [3, 4], 'the previous key in its grace window')
    assert.deepEqual(liveKeyEpochs(SCHEDULE, 2000, 500, start(4) + 2000), [4], 'then erased')
    assert.deepEqual(liveKeyEpochs(SCHEDULE, 2000, 500, start(5) - 500), [4, 5], 'the next key just before its epoch')
    assert.deepEqual(liveKeyEpochs(SCHEDULE, 2000, 500, SCHEDULE.genesisMs + 100), [0])
    const doc = buildEpochDocument(c, {
      network: 't',
      epoch: 4,
      schedule: SCHEDULE,
      graceMs: 2000,
      geometry: NETWORK_GEOMETRY,
      mixing: MIXING,
      ingresses: [],
      descriptors: []
    })
    assert.deepEqual(scheduleOf(doc), SCHEDULE)
  })

  it('lists a relay by its most recent descriptor, and an ingress with only the gateways of the epoch', function () {
    const older = relay('m', 'mix', 1, [3, 4, 5, 6])
    // The same relay, one epoch later, at a new address.
    const rng = deterministicRng(c, 'm')
    const id = c.signSeedKeypair(rng.bytes(32))
    const newer = signDescriptor(
      c,
      {
        ...older.sd.descriptor,
        address: 'ws://moved.example:9000',
        mixKeys: older.sd.descriptor.mixKeys.slice(1).concat({ epoch: 7, key: 'ab'.repeat(32) })
      },
      id.secretKey
    )
    const g = relay('g', 'gateway', 0, [4, 5, 6, 7])
    const ingId = c.signSeedKeypair(Buffer.alloc(32, 9))
    const root = c.signSeedKeypair(Buffer.alloc(32, 10))
    const subject = {
      serverName: 'hs.example',
      identityKey: Buffer.from(ingId.publicKey).toString('hex'),
      boxKey: 'cd'.repeat(32)
    }
    const ingress = {
      id: relayId(c, ingId.publicKey),
      ...subject,
      gateways: [g.sd.descriptor.id, 'ef'.repeat(32)],
      binding: signIngressBinding(c, subject, 5000, root.secretKey)
    }
    const input = {
      network: 't',
      epoch: 4,
      schedule: SCHEDULE,
      graceMs: 2000,
      geometry: NETWORK_GEOMETRY,
      mixing: MIXING
    }
    const doc = buildEpochDocument(c, { ...input, descriptors: [newer, older.sd, g.sd], ingresses: [ingress] })
    assert.equal(doc.relays.find(r => r.id === older.sd.descriptor.id)!.address, 'ws://moved.example:9000')
    assert.deepEqual(
      doc.ingresses.map(i => i.gateways),
      [[g.sd.descriptor.id]]
    )
    assert.deepEqual(
      buildEpochDocument(c, { ...input, descriptors: [older.sd], ingresses: [ingress] }).ingresses,
      [],
      'no gateway of it listed: the ingress is left out'
    )
    // Ingress descriptors: signed by the ingress, refused when altered or signed by another key.
    const signed = signIngressDescriptor(c, ingress, 1000, ingId.secretKey)
    assert.ok(verifyIngressDescriptor(c, signed).ok)
    const code = (x: unknown): string => {
      const r = verifyIngressDescriptor(c, x)
      return r.ok ? 'ok' : r.code
    }
    assert.equal(
      code({ ...signed, descriptor: { ...signed.descriptor, boxKey: '00'.repeat(32) } }),
      'DESC_BAD_SIGNATURE'
    )
    assert.equal(
      code(signIngressDescriptor(c, ingress, 1000, c.signSeedKeypair(Buffer.alloc(32, 8)).secretKey)),
      'DESC_BAD_SIGNATURE'
    )
    assert.equal(code({ ...signed, descriptor: { ...signed.descriptor, extra: 1 } }), 'DESC_MALFORMED')
    fc.assert(
      fc.property(fc.anything(), x => {
        assert.equal(code(x), 'DESC_MALFORMED')
        assert.equal(code({ descriptor: x, signature: 'ab'.repeat(64) }), 'DESC_MALFORMED')
      }),
      { numRuns: 1000 }
    )
    // The binding: the homeserver's root key over server name, identity and box keys and expiry.
    const bound = (i: typeof ingress, roots: Uint8Array[], now: number): string => {
      const r = verifyIngressBinding(c, i, roots, now)
      return r.ok ? 'ok' : r.code
    }
    assert.equal(bound(ingress, [root.publicKey], 4000), 'ok')
    assert.equal(
      bound(ingress, [c.signSeedKeypair(Buffer.alloc(32, 11)).publicKey], 4000),
      'BINDING_UNVERIFIED',
      "another server's root"
    )
    assert.equal(bound(ingress, [], 4000), 'BINDING_UNVERIFIED', 'no root pinned')
    assert.equal(bound(ingress, [root.publicKey], 5001), 'BINDING_EXPIRED')
    assert.equal(
      bound({ ...ingress, boxKey: '00'.repeat(32) }, [root.publicKey], 4000),
      'BINDING_UNVERIFIED',
      'a rogue box key under a real binding'
    )
    assert.equal(bound({ ...ingress, serverName: 'other.example' }, [root.publicKey], 4000), 'BINDING_UNVERIFIED')
    assert.equal(
      bound({ ...ingress, binding: { notAfterMs: 5000, signature: 'zz' } }, [root.publicKey], 4000),
      'BINDING_MALFORMED'
    )
    fc.assert(
      fc.property(fc.anything(), x => {
        assert.equal(
          bound({ ...ingress, binding: x as typeof ingress.binding }, [root.publicKey], 0),
          'BINDING_MALFORMED'
        )
      }),
      { numRuns: 500 }
    )
  })

  it('takes the schedule only when a majority signed identical values', function () {
    const auth = [1, 2, 3].map(i => c.signSeedKeypair(Buffer.alloc(32, 20 + i)))
    const signers = auth.map(a => Buffer.from(a.publicKey).toString('hex'))
    const s = { network: 'n', genesisMs: 1000, epochMs: 60_000, graceMs: 5000 }
    const got = (answers: unknown[]): string => {
      const r = chooseSchedule(c, answers, signers)
      return r.ok ? JSON.stringify(r.value) : r.code
    }
    assert.equal(got([signSchedule(c, s, auth[0]!), signSchedule(c, s, auth[1]!)]), JSON.stringify(s))
    assert.equal(
      got([signSchedule(c, s, auth[0]!), signSchedule(c, { ...s, epochMs: 1000 }, auth[1]!)]),
      'DIR_NONE_VALID',
      'two different schedules: no majority'
    )
    assert.equal(
      got([signSchedule(c, s, auth[0]!), signSchedule(c, s, auth[0]!)]),
      'DIR_NONE_VALID',
      'one authority counted once'
    )
    const forged = { ...signSchedule(c, s, auth[1]!), schedule: { ...s, genesisMs: 0 } }
    assert.equal(got([signSchedule(c, s, auth[0]!), forged]), 'DIR_NONE_VALID')
  })
})

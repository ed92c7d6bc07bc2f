/**
 * The directory client against three scripted authority servers on loopback (their answers are
 * set per test, so every refusal can be provoked): a document signed by one authority, an
 * oversized, stale or future one, another geometry or network, and two authorities signing
 * different documents for one epoch. Each is refused with its reason, and the last good document
 * stays in use.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { directoryClient } from '../../client/directory.ts'
import {
  buildEpochDocument,
  type CryptoSuite,
  type DirectoryClient,
  type DirectoryRejection,
  epochStart,
  loadCrypto,
  MAX_DOCUMENT_BYTES,
  makeGeometry,
  NETWORK_GEOMETRY,
  type NetworkDocument,
  signDocument,
  signSchedule
} from '../../mix/index.ts'

const MIXING = {
  strategy: 'batch' as const,
  intervalMs: 100,
  minPool: 8,
  flushFraction: 0.7,
  minBatch: 4,
  maxDelayMs: 5000,
  loopRatePerSec: 0.5
}

describe('directory client', function () {
  let c: CryptoSuite
  const servers: Server[] = []
  /** What each scripted authority answers, by path. */
  const answers: Array<Map<string, string | Buffer>> = [new Map(), new Map(), new Map()]
  const refs: Array<{ url: string; publicKey: string }> = []
  let keys: Array<{ publicKey: Uint8Array; secretKey: Uint8Array }>
  const schedule = { network: 'dir-test', genesisMs: 1_000_000, epochMs: 60_000, graceMs: 5000 }
  let t = epochStart(schedule, 5) + 1000

  before(async function () {
    c = await loadCrypto()
    keys = [1, 2, 3].map(i => c.signSeedKeypair(Buffer.alloc(32, 70 + i)))
    for (let i = 0; i < 3; i++) {
      const s = createServer((req, res) => {
        const a = answers[i]!.get(req.url ?? '')
        if (a === undefined) {
          res.writeHead(404).end()
          return
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(a)
      })
      await new Promise<void>(resolve => s.listen(0, '127.0.0.1', () => resolve()))
      servers.push(s)
      refs.push({
        url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
        publicKey: Buffer.from(keys[i]!.publicKey).toString('hex')
      })
      answers[i]!.set('/v1/schedule', JSON.stringify(signSchedule(c, schedule, keys[i]!)))
    }
  })
  after(async function () {
    for (const s of servers) await new Promise(resolve => s.close(resolve))
  })

  const doc = (epoch: number, extra: Partial<NetworkDocument> = {}): NetworkDocument => ({
    ...buildEpochDocument(c, {
      network: schedule.network,
      epoch,
      schedule,
      graceMs: schedule.graceMs,
      geometry: NETWORK_GEOMETRY,
      mixing: MIXING,
      descriptors: [],
      ingresses: []
    }),
    ...extra
  })
  const serve = (epoch: number, d: NetworkDocument | Buffer, by: number[], on = [0, 1, 2]): void => {
    const body = Buffer.isBuffer(d)
      ? d
      : JSON.stringify(
          signDocument(
            c,
            d,
            by.map(i => keys[i]!)
          )
        )
    for (const i of on) answers[i]!.set(`/v1/document/${epoch}`, body)
  }
  const client = (): { dir: DirectoryClient; why: DirectoryRejection[] } => {
    const why: DirectoryRejection[] = []
    return {
      dir: directoryClient({
        crypto: c,
        authorities: refs,
        now: () => t,
        maxSkewMs: 2000,
        onRejected: r => why.push(r)
      }),
      why
    }
  }

  it("takes a document signed by a majority, and the next epoch's ahead of its start", async function () {
    const { dir } = client()
    serve(5, doc(5), [0, 1])
    serve(6, doc(6), [1, 2])
    const d = await dir.refresh()
    assert.equal(d?.epoch, 5)
    assert.equal(dir.document(6)?.epoch, 6)
    assert.equal(dir.schedule?.network, 'dir-test')
  })

  it('refuses below the threshold, oversized, stale, future, other geometry and other network', async function () {
    const cases: Array<[DirectoryRejection, () => void]> = [
      ['bad_signatures', () => serve(5, doc(5), [2])],
      ['too_large', () => serve(5, Buffer.alloc(MAX_DOCUMENT_BYTES + 10, 0x20), [])],
      ['not_valid_now', () => serve(5, doc(5, { validFromMs: t - 50_000, validUntilMs: t - 10_000 }), [0, 1, 2])],
      ['not_valid_now', () => serve(5, doc(5, { validFromMs: t + 10_000 }), [0, 1, 2])],
      [
        'geometry',
        () => {
          const g = makeGeometry({ hops: 4, userPayloadBytes: 1024 })
          serve(
            5,
            doc(5, { geometry: { hops: g.hops, userPayloadBytes: g.userPayloadBytes, hash: 'ab'.repeat(32) } }),
            [0, 1, 2]
          )
        }
      ],
      ['wrong_network', () => serve(5, doc(5, { network: 'other' }), [0, 1, 2])]
    ]
    for (const [expected, setup] of cases) {
      const { dir, why } = client()
      setup()
      assert.equal(await dir.fetch(5), null, expected)
      assert.ok(why.includes(expected), `${expected}: got ${why.join(',')}`)
    }
  })

  it('refuses both documents when two authorities sign different ones for an epoch, and keeps the last good one', async function () {
    const { dir, why } = client()
    serve(5, doc(5), [0, 1, 2])
    assert.equal((await dir.refresh())?.epoch, 5)
    // Epoch 6 starts; authority 2 signs two different documents, one with each other authority.
    t = epochStart(schedule, 6) + 1000
    serve(6, doc(6), [0, 1], [0])
    serve(6, doc(6, { mixing: { ...MIXING, minPool: 1 } }), [1, 2], [1, 2])
    const cur = await dir.refresh()
    assert.ok(why.includes('equivocation'))
    assert.equal(cur?.epoch, 5, 'the last good document stays in use')
    assert.deepEqual(dir.refusedEpochs, [6])
    // Even if the equivocators later agree, that epoch stays refused.
    serve(6, doc(6), [0, 1, 2])
    assert.equal(await dir.fetch(6), null)
    assert.equal(dir.current()?.epoch, 5)
  })
})

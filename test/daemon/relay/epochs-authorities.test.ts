/**
 * A reload that changes a relay's directory.authorities (RelayEpochs.setAuthorities): the new list
 * is followed only once a majority of it serves the schedule the relay runs on. Real authorities
 * on loopback: A (the list at start), B (same network and schedule, another key) and C (another
 * network). The relay's descriptor reaches B only after the switch (the control: B has none
 * before), and a list for another network is refused, leaving the relay on A.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Authority, createLogger } from '../../../daemon/index.ts'
import { RelayEpochs } from '../../../daemon/relay/keys/epochs.ts'
import { type CryptoSuite, loadCrypto, NETWORK_GEOMETRY, relayId } from '../../../mix/index.ts'
import { freePort } from '../../../tools/index.ts'
import { TEST_MIXING } from '../../helpers/authority-config.ts'
import { captureStream } from '../../helpers/log-capture.ts'

const MIXING = TEST_MIXING

describe('relay: a reload that changes the authorities', function () {
  this.timeout(60_000)
  let c: CryptoSuite
  before(async () => {
    c = await loadCrypto()
  })

  it('follows a new list that serves the same schedule, and refuses one for another network', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sealmix-authorities-'))
    const identity = c.signSeedKeypair(Buffer.alloc(32, 91))
    const identityKey = Buffer.from(identity.publicKey).toString('hex')
    const id = relayId(c, identity.publicKey)
    let t = Date.now()
    const schedule = { genesisMs: t + 60_000, epochMs: 10_000 }
    const started: Authority[] = []
    const authority = async (
      seed: number,
      network: string
    ): Promise<{ a: Authority; ref: { url: string; publicKey: string } }> => {
      const signing = c.signSeedKeypair(Buffer.alloc(32, seed))
      const port = await freePort()
      const a = new Authority({
        crypto: c,
        signing,
        network,
        schedule,
        graceMs: 2000,
        geometry: NETWORK_GEOMETRY,
        mixing: MIXING,
        ingresses: [],
        host: '127.0.0.1',
        port,
        now: () => t,
        peers: [],
        admission: { relays: [{ identityKey, role: 'gateway', layer: 0 }], servers: [] }
      })
      await a.start()
      started.push(a)
      return { a, ref: { url: `http://127.0.0.1:${port}`, publicKey: Buffer.from(signing.publicKey).toString('hex') } }
    }
    const A = await authority(92, 'net')
    const B = await authority(93, 'net')
    const C = await authority(94, 'other-net')
    const epochs = new RelayEpochs({
      crypto: c,
      dataDir: dir,
      authorities: [A.ref],
      identity,
      self: { id, role: 'gateway', layer: 0, address: 'ws://gw.example:9000' },
      maxSkewMs: 1000,
      now: () => t,
      log: createLogger('silent', captureStream),
      onRejected: () => {}
    })
    try {
      assert.equal(await epochs.firstDocument(() => A.a.descriptors > 0), null)
      assert.equal(A.a.descriptors, 1)
      assert.equal(B.a.descriptors, 0, 'control: B has not been sent the descriptor')

      assert.equal(await epochs.setAuthorities([C.ref]), 'refused', 'another network: refused')
      assert.equal(await epochs.setAuthorities([A.ref]), 'unchanged')
      assert.equal(await epochs.firstDocument(() => A.a.descriptors > 0), null)
      assert.equal(C.a.descriptors, 0, 'the refused list is not followed')

      assert.equal(await epochs.setAuthorities([B.ref]), 'applied')
      assert.equal(await epochs.firstDocument(() => B.a.descriptors > 0), null)
      assert.equal(B.a.descriptors, 1, 'the descriptor goes to the new list')
      t = schedule.genesisMs + 1
      const doc = await epochs.firstDocument(() => false)
      assert.ok(doc !== null, 'a document signed by the new list is taken')
      assert.deepEqual(
        doc.relays.map(r => r.id),
        [id]
      )
    } finally {
      await epochs.stop()
      for (const a of started) await a.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

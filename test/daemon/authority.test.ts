/**
 * Three directory authorities on loopback with an injected clock: a descriptor posted to one
 * reaches all; nothing is served before an epoch's publish deadline; after it, each serves the
 * same document signed by all three; with one down, the other two still make a majority and a
 * DirectoryClient takes their document. Ingress descriptors signed by the ingress are listed with
 * the gateways of the epoch. A restarted authority builds the same documents from its state file.
 */
import assert from 'node:assert/strict'
import { directoryClient } from '../../client/directory.ts'
import { Authority, freePort } from '../../daemon/index.ts'
import { deterministicRng, epochStart, loadCrypto, NETWORK_GEOMETRY, publishDeadline, relayId, signDescriptor, signIngressDescriptor, type CryptoSuite, type MixingParams } from '../../mix/index.ts'
import { waitFor } from '../helpers/testnet.ts'

const MIXING: MixingParams = { strategy: 'batch', intervalMs: 100, minPool: 8, flushFraction: 0.7, minBatch: 4, maxDelayMs: 5000, loopRatePerSec: 0.5 }

describe('directory authorities', function () {
  this.timeout(30_000)
  let c: CryptoSuite
  let auths: Authority[]
  let t = Date.now()
  const schedule = { genesisMs: t + 1000, epochMs: 10_000 }
  const refs: Array<{ url: string, publicKey: string }> = []
  before(async function () {
    c = await loadCrypto()
    const keys = [1, 2, 3].map(i => c.signSeedKeypair(Buffer.alloc(32, 40 + i)))
    const ports = [await freePort(), await freePort(), await freePort()]
    for (let i = 0; i < 3; i++) refs.push({ url: `http://127.0.0.1:${ports[i]!}`, publicKey: Buffer.from(keys[i]!.publicKey).toString('hex') })
    auths = keys.map((k, i) => new Authority({
      crypto: c, signing: k, network: 'auth-test', schedule, graceMs: 2000, geometry: NETWORK_GEOMETRY, mixing: MIXING, ingresses: [], host: '127.0.0.1', port: ports[i]!, now: () => t,
      peers: refs.filter((_, j) => j !== i)
    }))
    for (const a of auths) await a.start()
  })
  after(async function () { for (const a of auths) await a.stop() })

  const ident = (seed: string): { id: string, identityKey: string, secretKey: Uint8Array, rng: ReturnType<typeof deterministicRng> } => {
    const rng = deterministicRng(c, seed)
    const k = c.signSeedKeypair(rng.bytes(32))
    return { id: relayId(c, k.publicKey), identityKey: Buffer.from(k.publicKey).toString('hex'), secretKey: k.secretKey, rng }
  }
  function descriptor (seed: string, role: 'gateway' | 'mix', layer: number): unknown {
    const i = ident(seed)
    return signDescriptor(c, { version: 1, id: i.id, role, layer, address: `ws://${seed}.example:9000`, identityKey: i.identityKey, mixKeys: [0, 1, 2, 3].map(k => ({ epoch: k, key: i.rng.bytes(32).toString('hex') })) }, i.secretKey)
  }
  const post = async (url: string, body: unknown): Promise<number> => (await fetch(`${url}/v1/descriptor`, { method: 'POST', body: JSON.stringify(body) })).status

  it('shares descriptors, serves nothing before the deadline, then one document signed by all three', async function () {
    for (const [seed, role, layer] of [['g1', 'gateway', 0], ['m1', 'mix', 1], ['m2', 'mix', 2], ['m3', 'mix', 3]] as const) assert.equal(await post(refs[0]!.url, descriptor(seed, role, layer)), 200)
    const ing = ident('ingress')
    const g1 = ident('g1').id
    assert.equal(await post(refs[1]!.url, signIngressDescriptor(c, { id: ing.id, serverName: 'hs.example', identityKey: ing.identityKey, boxKey: 'ab'.repeat(32), gateways: [g1, 'cd'.repeat(32)] }, t, ing.secretKey)), 200)
    assert.equal(await post(refs[0]!.url, { descriptor: { version: 1 }, signature: '00' }), 400)
    await waitFor(() => auths.every(a => a.descriptors === 5), 5000, 'descriptors shared')
    assert.equal((await fetch(`${refs[0]!.url}/v1/document/0`)).status, 404, 'not served before the deadline')
    t = publishDeadline(schedule, 0) + 10
    const served = await Promise.all(refs.map(async a => await (await fetch(`${a.url}/v1/document/current`)).json() as { document: { epoch: number, relays: unknown[], ingresses: Array<{ gateways: string[] }> }, signatures: unknown[] }))
    for (const s of served) {
      assert.equal(s.signatures.length, 3)
      assert.equal(s.document.epoch, 0)
      assert.equal(s.document.relays.length, 4)
      assert.deepEqual(s.document.ingresses.map(i => i.gateways), [[g1]], 'the ingress is listed with the gateways this epoch has')
    }
    // A descriptor that arrives after the deadline does not change the document of that epoch.
    assert.equal(await post(refs[0]!.url, descriptor('late', 'mix', 2)), 200)
    const again = await (await fetch(`${refs[2]!.url}/v1/document/0`)).json() as { document: { relays: unknown[] } }
    assert.equal(again.document.relays.length, 4)
    assert.equal(auths[0]!.build(1).relays.length, 5, 'it counts for the next epoch')
  })

  it('with one authority down, a client still takes the document of the other two', async function () {
    await auths[2]!.stop()
    t = epochStart(schedule, 0) + 3000
    const dir = directoryClient({ crypto: c, authorities: refs, now: () => t, maxSkewMs: 1000 })
    const doc = await dir.refresh()
    assert.equal(doc?.epoch, 0)
    // The next epoch's document is built and signed with authority 3 down: two signatures make it.
    t = publishDeadline(schedule, 1) + 10
    const b = await (await fetch(`${refs[0]!.url}/v1/document/1`)).json() as { signatures: unknown[] }
    assert.equal(b.signatures.length, 2)
    assert.equal((await dir.fetch(1))?.relays.length, 5)
    assert.equal(dir.schedule?.epochMs, 10_000)
  })

  it('a restarted authority builds the same documents from its state file', async function () {
    const { mkdtempSync, rmSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const dir = mkdtempSync(join(tmpdir(), 'sealmix-authority-state-'))
    const make = async (): Promise<Authority> => {
      const a = new Authority({ crypto: c, signing: c.signSeedKeypair(Buffer.alloc(32, 77)), network: 'auth-test', schedule, graceMs: 2000, geometry: NETWORK_GEOMETRY, mixing: MIXING, ingresses: [], host: '127.0.0.1', port: await freePort(), now: () => t, peers: [], stateFile: join(dir, 'descriptors.json') })
      await a.start()
      return a
    }
    try {
      t = epochStart(schedule, 1) + 100
      const a = await make()
      for (const [seed, role, layer] of [['r1', 'gateway', 0], ['r2', 'mix', 1]] as const) {
        const i = ident(seed)
        assert.equal(await post(`http://127.0.0.1:${a.port}`, signDescriptor(c, { version: 1, id: i.id, role, layer, address: `ws://${seed}.example:9000`, identityKey: i.identityKey, mixKeys: [1, 2, 3, 4].map(k => ({ epoch: k, key: i.rng.bytes(32).toString('hex') })) }, i.secretKey)), 200)
      }
      const before = JSON.stringify(a.build(2))
      await a.stop()
      const b = await make()
      assert.equal(b.descriptors, 2)
      assert.equal(JSON.stringify(b.build(2)), before, 'same bytes after the restart')
      assert.equal(b.build(2).relays.length, 2)
      await b.stop()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

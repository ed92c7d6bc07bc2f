/**
 * Three directory authorities on loopback with an injected clock: a descriptor posted to one
 * reaches all; nothing is served before an epoch's publish deadline; after it, each serves the
 * same document signed by all three; with one down, the other two still make a majority and a
 * DirectoryClient takes their document. Ingress descriptors signed by the ingress are listed with
 * the gateways of the epoch. A restarted authority builds the same documents from its state file.
 * Admission: only the relays (with their role and layer) and servers its operator admitted are
 * taken, an edit of the admission file takes effect without a restart, and a flood from one source
 * is answered 429 beyond its rate.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { directoryClient } from '../../../client/directory.ts'
import {
  type Admission,
  Authority,
  type AuthorityOptions,
  admit,
  loadAdmission,
  NO_ADMISSION,
  remove,
  saveAdmission
} from '../../../daemon/index.ts'
import type { IngressDescriptor } from '../../../mix/index.ts'
import {
  type CryptoSuite,
  deterministicRng,
  epochAt,
  epochStart,
  loadCrypto,
  NETWORK_GEOMETRY,
  publishDeadline,
  relayId,
  signDescriptor,
  signIngressBinding,
  signIngressDescriptor
} from '../../../mix/index.ts'
import { freePort } from '../../../tools/index.ts'
import { TEST_MIXING } from '../../helpers/authority-config.ts'
import { floodPosts } from '../../helpers/flood.ts'
import { waitFor } from '../../helpers/testnet.ts'

const MIXING = TEST_MIXING

describe('directory authorities', function () {
  this.timeout(30_000)
  let c: CryptoSuite
  let auths: Authority[]
  let t = Date.now()
  const schedule = { genesisMs: t + 1000, epochMs: 10_000 }
  const refs: Array<{ url: string; publicKey: string }> = []
  let admission: Admission
  before(async function () {
    c = await loadCrypto()
    const keys = [1, 2, 3].map(i => c.signSeedKeypair(Buffer.alloc(32, 40 + i)))
    const ports = [await freePort(), await freePort(), await freePort()]
    for (let i = 0; i < 3; i++)
      refs.push({ url: `http://127.0.0.1:${ports[i]!}`, publicKey: Buffer.from(keys[i]!.publicKey).toString('hex') })
    const admitted = (
      [
        ['g1', 'gateway', 0],
        ['m1', 'mix', 1],
        ['m2', 'mix', 2],
        ['m3', 'mix', 3],
        ['late', 'mix', 2],
        ['r1', 'gateway', 0],
        ['r2', 'mix', 1]
      ] as const
    ).map(([seed, role, layer]) => ({ identityKey: ident(seed).identityKey, role, layer }))
    admission = {
      relays: admitted,
      servers: [{ name: 'hs.example', rootKeys: [Buffer.from(HS_ROOT().publicKey).toString('hex')] }]
    }
    auths = keys.map(
      (k, i) =>
        new Authority({
          crypto: c,
          signing: k,
          network: 'auth-test',
          schedule,
          graceMs: 2000,
          geometry: NETWORK_GEOMETRY,
          mixing: MIXING,
          ingresses: [],
          host: '127.0.0.1',
          port: ports[i]!,
          now: () => t,
          peers: refs.filter((_, j) => j !== i),
          admission
        })
    )
    for (const a of auths) await a.start()
  })
  after(async function () {
    for (const a of auths) await a.stop()
  })

  const ident = (
    seed: string
  ): { id: string; identityKey: string; secretKey: Uint8Array; rng: ReturnType<typeof deterministicRng> } => {
    const rng = deterministicRng(c, seed)
    const k = c.signSeedKeypair(rng.bytes(32))
    return {
      id: relayId(c, k.publicKey),
      identityKey: Buffer.from(k.publicKey).toString('hex'),
      secretKey: k.secretKey,
      rng
    }
  }
  function descriptor(seed: string, role: 'gateway' | 'mix', layer: number): unknown {
    const i = ident(seed)
    return signDescriptor(
      c,
      {
        version: 1,
        id: i.id,
        role,
        layer,
        address: `ws://${seed}.example:9000`,
        identityKey: i.identityKey,
        mixKeys: [0, 1, 2, 3].map(k => ({ epoch: k, key: i.rng.bytes(32).toString('hex') }))
      },
      i.secretKey
    )
  }
  const post = async (url: string, body: unknown): Promise<number> =>
    (await fetch(`${url}/v1/descriptor`, { method: 'POST', body: JSON.stringify(body) })).status
  /** hs.example's server root key, which binds its ingresses. */
  const HS_ROOT = (): { publicKey: Uint8Array; secretKey: Uint8Array } => c.signSeedKeypair(Buffer.alloc(32, 66))
  const boundIngress = (
    i: { id: string; identityKey: string },
    gateways: string[],
    boxKey = 'ab'.repeat(32),
    root = HS_ROOT()
  ): IngressDescriptor => {
    const subject = { serverName: 'hs.example', identityKey: i.identityKey, boxKey }
    return { id: i.id, ...subject, gateways, binding: signIngressBinding(c, subject, t + 3_600_000, root.secretKey) }
  }

  it('shares descriptors, serves nothing before the deadline, then one document signed by all three', async function () {
    for (const [seed, role, layer] of [
      ['g1', 'gateway', 0],
      ['m1', 'mix', 1],
      ['m2', 'mix', 2],
      ['m3', 'mix', 3]
    ] as const)
      assert.equal(await post(refs[0]!.url, descriptor(seed, role, layer)), 200)
    const ing = ident('ingress')
    const g1 = ident('g1').id
    assert.equal(
      await post(refs[1]!.url, signIngressDescriptor(c, boundIngress(ing, [g1, 'cd'.repeat(32)]), t, ing.secretKey)),
      200
    )
    // A rogue ingress for the same server: self-signed, its binding by a key that is not hs.example's root.
    const rogue = ident('rogue-ingress')
    assert.equal(
      await post(
        refs[1]!.url,
        signIngressDescriptor(
          c,
          boundIngress(rogue, [g1], 'ef'.repeat(32), c.signSeedKeypair(Buffer.alloc(32, 67))),
          t,
          rogue.secretKey
        )
      ),
      403
    )
    assert.equal(await post(refs[0]!.url, { descriptor: { version: 1 }, signature: '00' }), 400)
    await waitFor(() => auths.every(a => a.descriptors === 5), 5000, 'descriptors shared')
    assert.equal((await fetch(`${refs[0]!.url}/v1/document/0`)).status, 404, 'not served before the deadline')
    t = publishDeadline(schedule, 0) + 10
    const served = await Promise.all(
      refs.map(
        async a =>
          (await (await fetch(`${a.url}/v1/document/current`)).json()) as {
            document: { epoch: number; relays: unknown[]; ingresses: Array<{ gateways: string[] }> }
            signatures: unknown[]
          }
      )
    )
    for (const s of served) {
      assert.equal(s.signatures.length, 3)
      assert.equal(s.document.epoch, 0)
      assert.equal(s.document.relays.length, 4)
      assert.deepEqual(
        s.document.ingresses.map(i => i.gateways),
        [[g1]],
        'the ingress is listed with the gateways this epoch has'
      )
    }
    // A descriptor that arrives after the deadline does not change the document of that epoch.
    assert.equal(await post(refs[0]!.url, descriptor('late', 'mix', 2)), 200)
    const again = (await (await fetch(`${refs[2]!.url}/v1/document/0`)).json()) as { document: { relays: unknown[] } }
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
    const b = (await (await fetch(`${refs[0]!.url}/v1/document/1`)).json()) as { signatures: unknown[] }
    assert.equal(b.signatures.length, 2)
    assert.equal((await dir.fetch(1))?.relays.length, 5)
    assert.equal(dir.schedule?.epochMs, 10_000)
  })

  it('a restarted authority builds the same documents from its state file', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'sealmix-authority-state-'))
    const make = async (): Promise<Authority> => {
      const a = new Authority({
        crypto: c,
        signing: c.signSeedKeypair(Buffer.alloc(32, 77)),
        network: 'auth-test',
        schedule,
        graceMs: 2000,
        geometry: NETWORK_GEOMETRY,
        mixing: MIXING,
        ingresses: [],
        host: '127.0.0.1',
        port: await freePort(),
        now: () => t,
        peers: [],
        stateFile: join(dir, 'descriptors.json'),
        admission
      })
      await a.start()
      return a
    }
    try {
      t = epochStart(schedule, 1) + 100
      const a = await make()
      for (const [seed, role, layer] of [
        ['r1', 'gateway', 0],
        ['r2', 'mix', 1]
      ] as const) {
        const i = ident(seed)
        assert.equal(
          await post(
            `http://127.0.0.1:${a.port}`,
            signDescriptor(
              c,
              {
                version: 1,
                id: i.id,
                role,
                layer,
                address: `ws://${seed}.example:9000`,
                identityKey: i.identityKey,
                mixKeys: [1, 2, 3, 4].map(k => ({ epoch: k, key: i.rng.bytes(32).toString('hex') }))
              },
              i.secretKey
            )
          ),
          200
        )
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

describe('directory authority: admission', function () {
  this.timeout(60_000)
  let c: CryptoSuite
  let dir: string
  let a: Authority
  const t = Date.now()
  const schedule = { genesisMs: t - 1000, epochMs: 10_000 }
  before(async function () {
    c = await loadCrypto()
    dir = mkdtempSync(join(tmpdir(), 'sealmix-admission-'))
  })
  afterEach(async function () {
    await a?.stop()
  })
  after(function () {
    rmSync(dir, { recursive: true, force: true })
  })

  const relay = (
    seed: string,
    role: 'gateway' | 'mix',
    layer: number,
    claim = { role, layer }
  ): { identityKey: string; id: string; sd: unknown } => {
    const rng = deterministicRng(c, seed)
    const k = c.signSeedKeypair(rng.bytes(32))
    const identityKey = Buffer.from(k.publicKey).toString('hex')
    const id = relayId(c, k.publicKey)
    const e = epochAt(schedule, t)
    return {
      identityKey,
      id,
      sd: signDescriptor(
        c,
        {
          version: 1,
          id,
          role: claim.role,
          layer: claim.layer,
          address: `ws://${seed}.example:9000`,
          identityKey,
          mixKeys: [e, e + 1, e + 2, e + 3].map(x => ({ epoch: x, key: rng.bytes(32).toString('hex') }))
        },
        k.secretKey
      )
    }
  }
  const post = async (body: unknown): Promise<{ status: number; reason?: string }> => {
    const r = await fetch(`http://127.0.0.1:${a.port}/v1/descriptor`, { method: 'POST', body: JSON.stringify(body) })
    return { status: r.status, reason: ((await r.json()) as { reason?: string }).reason }
  }
  const start = async (admission: AuthorityOptions['admission'], stateFile?: string): Promise<void> => {
    a = new Authority({
      crypto: c,
      signing: c.signSeedKeypair(Buffer.alloc(32, 91)),
      network: 'adm-test',
      schedule,
      graceMs: 2000,
      geometry: NETWORK_GEOMETRY,
      mixing: MIXING,
      ingresses: [],
      host: '127.0.0.1',
      port: 0,
      now: () => t,
      peers: [],
      admission,
      stateFile
    })
    await a.start()
  }

  it('refuses an unadmitted relay before storing anything, and an admitted one that claims another role or layer', async function () {
    const ok = relay('adm-ok', 'mix', 2)
    const stranger = relay('adm-stranger', 'mix', 2)
    const liar = relay('adm-liar', 'mix', 1, { role: 'mix', layer: 3 })
    const state = join(dir, 'state-1.json')
    await start(
      {
        relays: [
          { identityKey: ok.identityKey, role: 'mix', layer: 2 },
          { identityKey: liar.identityKey, role: 'mix', layer: 1 }
        ],
        servers: []
      },
      state
    )
    assert.deepEqual(await post(stranger.sd), { status: 403, reason: 'not_admitted' })
    assert.deepEqual(await post(liar.sd), { status: 403, reason: 'wrong_role' })
    assert.equal((await post(ok.sd)).status, 200)
    const ing = signIngressDescriptor(
      c,
      {
        id: ok.id,
        serverName: 'rogue.example',
        identityKey: ok.identityKey,
        boxKey: 'ab'.repeat(32),
        gateways: ['cd'.repeat(32)],
        binding: { notAfterMs: t + 1000, signature: '00'.repeat(64) }
      },
      t,
      Buffer.alloc(64)
    )
    assert.deepEqual(await post(ing), { status: 403, reason: 'server_not_admitted' })
    assert.deepEqual(a.heldRelayIds, [ok.id])
    const refused = await a.metrics.registry.getSingleMetricAsString('sealmix_authority_descriptors_refused_total')
    for (const r of ['not_admitted', 'wrong_role', 'server_not_admitted'])
      assert.match(refused, new RegExp(`reason="${r}"} 1`))
    await a.stop()
    const saved = readFileSync(state, 'utf8')
    assert.ok(
      saved.includes(ok.identityKey) && !saved.includes(stranger.identityKey) && !saved.includes(liar.identityKey),
      'only the admitted relay reaches the state file'
    )
  })

  it('admit takes effect at the next document without a restart, and remove drops the relay from the next one', async function () {
    const file = join(dir, 'admitted.yaml')
    const r = relay('adm-later', 'gateway', 0)
    await start({ file })
    assert.deepEqual(await post(r.sd), { status: 403, reason: 'not_admitted' })
    saveAdmission(file, admit(loadAdmission(file), [{ identityKey: r.identityKey, role: 'gateway', layer: 0 }], []))
    await waitFor(async () => (await post(r.sd)).status === 200, 10_000, 'the running authority takes the admission')
    const next = epochAt(schedule, t) + 1
    assert.deepEqual(
      a.build(next).relays.map(x => x.id),
      [r.id]
    )
    saveAdmission(file, remove(loadAdmission(file), [r.identityKey], []))
    await waitFor(() => a.heldRelayIds.length === 0, 10_000, 'the removed relay is dropped')
    assert.deepEqual(a.build(next).relays, [])
    assert.deepEqual(await post(r.sd), { status: 403, reason: 'not_admitted' })
  })

  it('a flood of 10,000 POSTs from one source is answered 429 beyond its rate while another source still gets in', async function () {
    const ok = relay('adm-flood-ok', 'mix', 1)
    await start({ relays: [{ identityKey: ok.identityKey, role: 'mix', layer: 1 }], servers: [] })
    const junk = JSON.stringify(relay('adm-flood-junk', 'mix', 1).sd)
    const started = Date.now()
    const codes = await floodPosts(a.port, junk, 10_000)
    const seconds = (Date.now() - started) / 1000
    // 50 per second and a burst of 100 from one source: almost all of the flood is refused unread.
    assert.ok((codes.get(429) ?? 0) > 9000, `429s: ${JSON.stringify([...codes])} in ${seconds} s`)
    assert.ok(
      (codes.get(403) ?? 0) <= 100 + 50 * Math.ceil(seconds) + 50,
      `refused as unadmitted: ${JSON.stringify([...codes])}`
    )
    assert.equal((await post(ok.sd)).status, 200, 'another source is still heard')
    assert.deepEqual(a.heldRelayIds, [ok.id])
  })

  it('junk from many sources exhausts only the budget of what nobody admitted: an admitted relay is still heard', async function () {
    const ok = relay('adm-many-ok', 'gateway', 0)
    await start({ relays: [{ identityKey: ok.identityKey, role: 'gateway', layer: 0 }], servers: [] })
    await a.stop()
    a = new Authority({
      crypto: c,
      signing: c.signSeedKeypair(Buffer.alloc(32, 92)),
      network: 'adm-test',
      schedule,
      graceMs: 2000,
      geometry: NETWORK_GEOMETRY,
      mixing: MIXING,
      ingresses: [],
      host: '127.0.0.1',
      port: 0,
      now: () => t,
      peers: [],
      admission: { relays: [{ identityKey: ok.identityKey, role: 'gateway', layer: 0 }], servers: [] },
      limits: { perSourcePerSecond: 100_000, perSecond: 5 }
    })
    await a.start()
    const junk = JSON.stringify(relay('adm-many-junk', 'mix', 1).sd)
    const codes = new Map<number, number>()
    for (let i = 2; i < 10; i++)
      for (const [k, v] of await floodPosts(a.port, junk, 250, { localAddress: `127.0.0.${i}`, concurrency: 8 }))
        codes.set(k, (codes.get(k) ?? 0) + v)
    assert.ok(
      (codes.get(429) ?? 0) >= 1900,
      `the total budget for unadmitted descriptors ran out: ${JSON.stringify([...codes])}`
    )
    assert.equal((await post(ok.sd)).status, 200, 'the admitted relay is heard all the same')
  })

  it("checks held bindings again when a server's root keys change, and drops those the new keys do not vouch for", async function () {
    const file = join(dir, 'admitted-roots.yaml')
    const [rootA, rootB] = [c.signSeedKeypair(Buffer.alloc(32, 94)), c.signSeedKeypair(Buffer.alloc(32, 95))]
    const hex = (k: Uint8Array): string => Buffer.from(k).toString('hex')
    saveAdmission(file, admit(NO_ADMISSION, [], [{ name: 'hs.example', rootKeys: [hex(rootA.publicKey)] }]))
    await start({ file })
    const k = c.signSeedKeypair(Buffer.alloc(32, 96))
    const subject = { serverName: 'hs.example', identityKey: hex(k.publicKey), boxKey: 'ab'.repeat(32) }
    assert.equal(
      (
        await post(
          signIngressDescriptor(
            c,
            {
              id: relayId(c, k.publicKey),
              ...subject,
              gateways: ['cd'.repeat(32)],
              binding: signIngressBinding(c, subject, t + 3_600_000, rootA.secretKey)
            },
            t,
            k.secretKey
          )
        )
      ).status,
      200
    )
    assert.equal(a.descriptors, 1)
    saveAdmission(file, admit(NO_ADMISSION, [], [{ name: 'hs.example', rootKeys: [hex(rootB.publicKey)] }]))
    await waitFor(() => a.descriptors === 0, 10_000, 'the ingress bound by the old root dropped')
  })

  it('lists at most 8 ingresses of one server, refuses a ninth, and refuses an ingress naming a gateway twice', async function () {
    const root = c.signSeedKeypair(Buffer.alloc(32, 93))
    await start({
      relays: [],
      servers: [{ name: 'hs.example', rootKeys: [Buffer.from(root.publicKey).toString('hex')] }]
    })
    const ingress = (i: number, gateways = ['cd'.repeat(32)]): unknown => {
      const k = c.signSeedKeypair(Buffer.alloc(32, 100 + i))
      const subject = {
        serverName: 'hs.example',
        identityKey: Buffer.from(k.publicKey).toString('hex'),
        boxKey: 'ab'.repeat(32)
      }
      return signIngressDescriptor(
        c,
        {
          id: relayId(c, k.publicKey),
          ...subject,
          gateways,
          binding: signIngressBinding(c, subject, t + 3_600_000, root.secretKey)
        },
        t,
        k.secretKey
      )
    }
    for (let i = 0; i < 8; i++) assert.equal((await post(ingress(i))).status, 200)
    assert.deepEqual(await post(ingress(8)), { status: 403, reason: 'server_full' })
    assert.deepEqual(await post(ingress(9, ['cd'.repeat(32), 'cd'.repeat(32)])), { status: 400, reason: 'malformed' })
  })
})

/**
 * Which build runs, everywhere an operator or the directory looks (daemon/io/build-info.ts): the
 * version and commit worked out once (stamped into the bundle by tools/build/node.ts, else git, else
 * 'unknown'); sealmix_build_info{version,commit,node} and the /healthz JSON of a real relay; the
 * `software` a relay signs into its descriptor, which an authority lists in the document, a
 * tampered one breaking the signature and a long or non-ASCII one refused by the parsers, while
 * descriptors and documents without it keep their old bytes.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { build } from 'esbuild'
import {
  Authority,
  type BuildInfo,
  buildInfo,
  createLogger,
  healthzBody,
  softwareTag,
  versionLine
} from '../../../daemon/index.ts'
import { RelayEpochs } from '../../../daemon/relay/keys/epochs.ts'
import {
  buildEpochDocument,
  type CryptoSuite,
  deterministicRng,
  documentBytes,
  isSoftware,
  loadCrypto,
  NETWORK_GEOMETRY,
  type NetworkDocument,
  relayId,
  type SignedDescriptor,
  signDescriptor,
  signDocument,
  verifyDescriptorSignature,
  verifyDocument
} from '../../../mix/index.ts'
import { buildCommit, buildStamp, NODE_BUILD } from '../../../tools/build/node.ts'
import { freePort } from '../../../tools/index.ts'
import { TEST_MIXING } from '../../helpers/authority-config.ts'
import { captureStream } from '../../helpers/log-capture.ts'
import { createTestnet, httpGet, PROJECT, type Testnet } from '../../helpers/testnet.ts'

const PACKAGE_VERSION = (JSON.parse(readFileSync(join(PROJECT, 'package.json'), 'utf8')) as { version: string }).version
const MIXING = TEST_MIXING

describe('build info', function () {
  this.timeout(60_000)
  let c: CryptoSuite
  before(async function () {
    c = await loadCrypto()
  })

  describe('the version and the commit', function () {
    it('come from package.json and the checkout (or unknown), once, with the Node version', function () {
      const b = buildInfo()
      assert.equal(b.version, PACKAGE_VERSION)
      assert.match(b.commit, /^([0-9a-f]{4,64}|unknown)$/)
      assert.equal(b.node, process.version)
      assert.equal(buildInfo(), b, 'worked out once')
      assert.equal(versionLine(b), `sealmix ${b.version}${b.commit === 'unknown' ? '' : ` (${b.commit})`}`)
      assert.equal(versionLine({ version: '1.2.3', commit: 'unknown', node: 'v24.0.0' }), 'sealmix 1.2.3')
    })

    it('a bundle knows the commit stamped at build time, with no git to ask (positive control: an unstamped one does not)', async function () {
      // Inside the project, so that the bundle's package imports resolve from node_modules.
      mkdirSync(join(PROJECT, 'test-output'), { recursive: true })
      const dir = mkdtempSync(join(PROJECT, 'test-output', 'build-info-'))
      try {
        const load = async (name: string, define: Record<string, string>): Promise<BuildInfo> => {
          const outfile = join(dir, `${name}.mjs`)
          await build({ ...NODE_BUILD, entryPoints: ['daemon/io/build-info.ts'], outfile, define })
          const m = (await import(pathToFileURL(outfile).href)) as { buildInfo: () => BuildInfo }
          return m.buildInfo()
        }
        const stamped = await load('stamped', buildStamp(PROJECT, 'feedbee'))
        assert.deepEqual(stamped, { version: PACKAGE_VERSION, commit: 'feedbee', node: process.version })
        const plain = await load('plain', {})
        assert.notEqual(plain.commit, 'feedbee')
        assert.equal(plain.commit, buildInfo().commit, 'unstamped: the run-time answer')
        // A stamp that is not a commit is not believed.
        assert.notEqual((await load('junk', buildStamp(PROJECT, 'not a commit'))).commit, 'not a commit')
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })

    it('the build stamps SEALMIX_COMMIT, else the checkout, else nothing', function () {
      assert.equal(buildCommit(PROJECT, { SEALMIX_COMMIT: 'abc1234' }), 'abc1234')
      assert.throws(() => buildCommit(PROJECT, { SEALMIX_COMMIT: 'abc 1234' }), /SEALMIX_COMMIT must be a hex commit/)
      const empty = mkdtempSync(join(tmpdir(), 'sealmix-nogit-'))
      try {
        assert.equal(buildCommit(empty, {}), null)
      } finally {
        rmSync(empty, { recursive: true, force: true })
      }
      assert.deepEqual(buildStamp(PROJECT, null), { SEALMIX_BUILD_VERSION: JSON.stringify(PACKAGE_VERSION) })
    })
  })

  describe('a running relay', function () {
    let net: Testnet
    before(async function () {
      net = await createTestnet(c)
      await net.start(net.nodes[0]!)
    })
    after(async function () {
      await net?.stop()
    })

    it('exports sealmix_build_info{version,commit,node} = 1', async function () {
      const b = buildInfo()
      const text = (await httpGet(net.nodes[0]!.metricsPort, '/metrics')).body
      const lines = text.split('\n').filter(l => l.startsWith('sealmix_build_info'))
      assert.deepEqual(lines, [`sealmix_build_info{version="${b.version}",commit="${b.commit}",node="${b.node}"} 1`])
      assert.match(text, /^# TYPE sealmix_build_info gauge$/m)
    })

    it('answers /healthz with its version and commit', async function () {
      const r = await httpGet(net.nodes[0]!.metricsPort, '/healthz')
      assert.equal(r.status, 200)
      const b = buildInfo()
      assert.deepEqual(JSON.parse(r.body), { status: 'ok', version: b.version, commit: b.commit })
      assert.equal(r.body, healthzBody())
    })
  })

  describe('the software field of a relay descriptor', function () {
    const ident = (seed: string): { id: string; identityKey: string; secretKey: Uint8Array; keys: string[] } => {
      const rng = deterministicRng(c, seed)
      const k = c.signSeedKeypair(rng.bytes(32))
      return {
        id: relayId(c, k.publicKey),
        identityKey: Buffer.from(k.publicKey).toString('hex'),
        secretKey: k.secretKey,
        keys: [0, 1, 2, 3].map(() => rng.bytes(32).toString('hex'))
      }
    }
    const descriptor = (seed: string, software?: unknown): SignedDescriptor => {
      const i = ident(seed)
      const d = {
        version: 1 as const,
        id: i.id,
        role: 'gateway' as const,
        layer: 0,
        address: `ws://${seed}.example:9000`,
        identityKey: i.identityKey,
        mixKeys: i.keys.map((key, epoch) => ({ epoch, key })),
        ...(software === undefined ? {} : { software: software as string })
      }
      return signDescriptor(c, d, i.secretKey)
    }
    const code = (sd: unknown): string => {
      const v = verifyDescriptorSignature(c, JSON.parse(JSON.stringify(sd)))
      return v.ok ? 'ok' : `${v.code} ${v.detail ?? ''}`.trim()
    }

    it('this build says sealmix/VERSION+COMMIT, within the field rules', function () {
      const b = buildInfo()
      const tag = softwareTag(b)
      assert.equal(tag, b.commit === 'unknown' ? `sealmix/${b.version}` : `sealmix/${b.version}+${b.commit}`)
      assert.ok(isSoftware(tag))
      assert.equal(softwareTag({ version: '0.1.0', commit: 'a'.repeat(40), node: 'v24' }), 'sealmix/0.1.0', 'too long')
      assert.equal(softwareTag({ version: 'x y', commit: 'abc1234', node: 'v24' }), undefined)
    })

    it('is signed: a tampered version breaks the signature; an old descriptor without it stays valid', function () {
      const sd = descriptor('s1', 'sealmix/0.1.0+abc1234')
      assert.equal(code(sd), 'ok')
      const tampered = { ...sd, descriptor: { ...sd.descriptor, software: 'sealmix/0.1.1+abc1234' } }
      assert.equal(code(tampered), 'DESC_BAD_SIGNATURE')
      const stripped = { ...sd, descriptor: { ...sd.descriptor, software: undefined } }
      assert.equal(code(stripped), 'DESC_BAD_SIGNATURE', 'removed after signing')
      assert.equal(code(descriptor('s2')), 'ok', 'a descriptor from before the field')
    })

    it('refuses an over-long, non-ASCII, spaced or non-string version (positive control: 32 characters pass)', function () {
      assert.equal(code(descriptor('s3', `sealmix/${'1'.repeat(24)}`)), 'ok', '32 characters')
      for (const bad of [`sealmix/${'1'.repeat(25)}`, 'sealmix/0.1.0é', 'sealmix 0.1.0', '', 'a\nb', '-x', 7, null])
        assert.equal(code(descriptor('s4', bad)), 'DESC_MALFORMED software', JSON.stringify(bad))
    })

    it('is listed in the document only when given, and a document with a bad one is refused', function () {
      const signer = c.signSeedKeypair(Buffer.alloc(32, 9))
      const t0 = 1_000_000
      const doc = (descriptors: unknown[]): NetworkDocument =>
        buildEpochDocument(c, {
          network: 'sw',
          epoch: 0,
          schedule: { genesisMs: t0, epochMs: 10_000 },
          graceMs: 1000,
          geometry: NETWORK_GEOMETRY,
          mixing: MIXING,
          descriptors,
          ingresses: []
        })
      const withIt = doc([descriptor('s5', 'sealmix/0.1.0+abc1234'), descriptor('s6')])
      const listed = Object.fromEntries(withIt.relays.map(r => [r.address, r]))
      assert.equal(listed['ws://s5.example:9000']!.software, 'sealmix/0.1.0+abc1234')
      assert.ok(!('software' in listed['ws://s6.example:9000']!), 'absent, not undefined: the old bytes')
      assert.ok(!documentBytes(doc([descriptor('s6')])).includes('software'))
      const verify = (d: NetworkDocument): string => {
        const bytes = Buffer.from(JSON.stringify(signDocument(c, d, [signer])))
        const v = verifyDocument(c, bytes, { signers: [signer.publicKey], geometry: NETWORK_GEOMETRY, nowMs: t0 })
        return v.ok ? 'ok' : `${v.code} ${v.detail ?? ''}`.trim()
      }
      assert.equal(verify(withIt), 'ok')
      const bad = { ...withIt, relays: withIt.relays.map(r => ({ ...r, software: 'sealmix/0.1.0 ünïcode' })) }
      assert.equal(verify(bad), 'DIR_MALFORMED relay software')
    })

    it("a relay following an authority publishes this build's software, and the document lists it", async function () {
      const dir = mkdtempSync(join(tmpdir(), 'sealmix-software-'))
      const signing = c.signSeedKeypair(Buffer.alloc(32, 77))
      const identity = c.signSeedKeypair(Buffer.alloc(32, 78))
      const identityKey = Buffer.from(identity.publicKey).toString('hex')
      const id = relayId(c, identity.publicKey)
      let t = Date.now()
      const schedule = { genesisMs: t + 60_000, epochMs: 10_000 }
      const port = await freePort()
      const ref = { url: `http://127.0.0.1:${port}`, publicKey: Buffer.from(signing.publicKey).toString('hex') }
      const auth = new Authority({
        crypto: c,
        signing,
        network: 'sw',
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
      await auth.start()
      const epochs = new RelayEpochs({
        crypto: c,
        dataDir: dir,
        authorities: [ref],
        identity,
        self: { id, role: 'gateway', layer: 0, address: 'ws://gw.example:9000' },
        maxSkewMs: 1000,
        now: () => t,
        log: createLogger('trace', captureStream),
        onRejected: () => {}
      })
      try {
        // Published before epoch 0's deadline (genesis); no document is served yet.
        assert.equal(await epochs.firstDocument(() => auth.descriptors > 0), null)
        t = schedule.genesisMs + 1
        const doc = await epochs.firstDocument(() => false)
        assert.ok(doc !== null)
        assert.deepEqual(
          doc.relays.map(r => [r.id, r.software]),
          [[id, softwareTag()]]
        )
      } finally {
        await epochs.stop()
        await auth.stop()
        rmSync(dir, { recursive: true, force: true })
      }
    })
  })
})

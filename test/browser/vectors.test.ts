/**
 * The third-party known-answer checks, run once more inside Chromium on the browser binding
 * (libsodium-wrappers + @noble, as the SDK bundle carries it): test/browser/vectors-entry.ts is
 * bundled here with the SDK bundle's settings and served to the page from memory on a made-up
 * origin (page.route; no server). The checks are the ones the Node vector tests assert on
 * (test/helpers/vector-checks.ts), with the data read in Node from ../shared/vectors/ and passed in.
 *
 * - Katzenpost primitives, the header bytes of every hop of the 10 Katzenpost Sphinx cases, and the
 *   lioness-rs LIONESS vector all pass in the page, and the page checks exactly the cases Node does.
 *   Control: one flipped byte in each of three expected outputs fails exactly those three cases, at
 *   that byte.
 * - Sealed sender (no third-party vectors): the page seals the same envelopes as Node from the same
 *   seeds (v1, and v2 to two devices); each side opens the other's. Control: a flipped byte is refused,
 *   with the code Node gives.
 * - A Sphinx packet and SURB from the same seed are Node's bytes, and Node unwraps the page's packet.
 */
import assert from 'node:assert/strict'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { Browser, Page } from 'playwright-core'
import { type CryptoSuite, loadCrypto, NETWORK_GEOMETRY, Sphinx } from '../../mix/index.ts'
import { nodeOnly } from '../../tools/build/browser.ts'
import { chromiumOrSkip, launchChromium } from '../helpers/chromium.ts'
import {
  checkAll,
  flipMiddle,
  LIONESS_FILE,
  type LionessVector,
  PRIMITIVE_FILES,
  type PrimitiveVectors,
  SEALED_CONTENT,
  SPHINX_FILE,
  type SphinxCase,
  sealFixture,
  sphinxFixture,
  VECTOR_FILES,
  type VectorData
} from '../helpers/vector-checks.ts'
import { assertChecks, hasVectors, hex, loadVectors, skipMessage, tally } from '../helpers/vectors.ts'
import type { VectorsPage } from './vectors-entry.ts'

declare const sealmixVectors: VectorsPage

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const PAGE = '<!doctype html><meta charset="utf-8"><script type="module" src="/vectors.js"></script>'
/** Never resolved: page.route answers every request to it. */
const ORIGIN = 'http://sealmix.test'

/** The entry as the SDK bundle is built (buffer polyfill injected as Buffer), kept in memory. */
async function bundle(): Promise<string> {
  const r = await build({
    entryPoints: ['test/browser/vectors-entry.ts'],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    inject: ['client/browser/buffer-global.ts'],
    plugins: [nodeOnly],
    write: false,
    logLevel: 'warning',
    absWorkingDir: ROOT
  })
  return r.outputFiles[0]!.text
}

let saidNoVectors = false
/** Every file the page checks, read here; else the test is skipped with one line (once) naming the folder. */
function vectorDataOrSkip(ctx: Mocha.Context): VectorData {
  const missing = VECTOR_FILES.find(f => !hasVectors(f))
  if (missing !== undefined) {
    if (!saidNoVectors) console.log(`      ${skipMessage(missing)}`)
    saidNoVectors = true
    ctx.skip()
  }
  const kinds = Object.keys(PRIMITIVE_FILES) as Array<keyof PrimitiveVectors>
  return {
    primitives: Object.fromEntries(
      kinds.map(k => [k, loadVectors<{ vectors: unknown[] }>(PRIMITIVE_FILES[k]).vectors])
    ) as unknown as PrimitiveVectors,
    sphinx: loadVectors<SphinxCase[]>(SPHINX_FILE),
    lioness: loadVectors<{ vectors: LionessVector[] }>(LIONESS_FILE).vectors
  }
}

/** The hex string with one bit of byte `at` flipped. */
function flipHexByte(s: string, at: number): string {
  const b = hex(s)
  b[at]! ^= 0x01
  return b.toString('hex')
}

describe('the vector checks in Chromium, on the browser binding', function () {
  let browser: Browser | null = null
  let page: Page
  let native: CryptoSuite
  const pageErrors: string[] = []

  before(async function () {
    const executable = chromiumOrSkip(this)
    this.timeout(60_000)
    native = await loadCrypto('sodium-native')
    const [js, b] = await Promise.all([bundle(), launchChromium(executable)])
    browser = b
    page = await browser.newPage()
    page.on('pageerror', e => pageErrors.push(e.message))
    page.on('console', m => {
      if (m.type() === 'error') pageErrors.push(m.text())
    })
    await page.route(`${ORIGIN}/**`, async route => {
      const path = new URL(route.request().url()).pathname
      if (path === '/')
        await route.fulfill({
          contentType: 'text/html; charset=utf-8',
          body: PAGE
        })
      else if (path === '/vectors.js') await route.fulfill({ contentType: 'text/javascript; charset=utf-8', body: js })
      else await route.fulfill({ status: 404, body: '' })
    })
    await page.goto(`${ORIGIN}/`)
    await page.waitForFunction(() => 'sealmixVectors' in globalThis, null, { timeout: 30_000 })
  })

  after(async function () {
    await browser?.close()
  })

  afterEach(function () {
    assert.deepEqual(pageErrors.splice(0), [], 'the page reported errors')
  })

  it('passes every Katzenpost primitive, Sphinx hop and LIONESS check, the same cases as Node', async function () {
    const data = vectorDataOrSkip(this)
    // What the Node vector tests check (the same functions), as the count and names the page must match.
    const inNode = checkAll(native, data)
    assertChecks(inNode)
    const r = await page.evaluate(d => sealmixVectors.vectors(d), data)
    assert.equal(r.binding, 'browser')
    assert.deepEqual(
      r.results.map(x => x.name),
      inNode.map(x => x.name),
      'the page checked other cases than Node'
    )
    assertChecks(r.results)
    const vectors = Object.values(data.primitives).reduce((n, v) => n + v.length, 0)
    tally('katzenpost primitive vectors, five files (browser binding in Chromium)', vectors)
    tally('katzenpost sphinx cases, header bytes (browser binding in Chromium)', data.sphinx.length)
    tally(
      'katzenpost sphinx hop transforms, header bytes (browser binding in Chromium)',
      data.sphinx.reduce((n, c) => n + c.Path.length, 0)
    )
    tally('lioness-rs vector (browser binding in Chromium)', data.lioness.length)
  })

  it('fails a flipped byte of an expected output in that case, at that byte (positive control)', async function () {
    const data = vectorDataOrSkip(this)
    const t = structuredClone(data)
    const kdf = t.primitives.kdf_sphinx[0]!
    kdf.payload_encryption_hex = flipHexByte(kdf.payload_encryption_hex, 9)
    // The next hop's ID is only compared, never fed to a later hop, so exactly one case changes.
    const kase = t.sphinx[4]!
    kase.Path[3]!.ID = flipHexByte(kase.Path[3]!.ID, 7)
    const lioness = t.lioness[0]!
    lioness.ciphertext_hex = flipHexByte(lioness.ciphertext_hex, 300)
    const r = await page.evaluate(d => sealmixVectors.vectors(d), t)
    assert.equal(r.results.length, checkAll(native, data).length)
    assert.deepEqual(
      r.results.filter(x => !x.ok).map(x => [x.name, x.firstDiff]),
      [
        [`kdf_sphinx ${kdf.name} payload_encryption`, 9],
        ['sphinx case 4 hop 2 next id', 7],
        [`lioness ${lioness.name} encrypt`, 300]
      ]
    )
  })

  it('seals Node’s envelopes from the same seeds; each opens the other’s; a flipped byte is refused', async function () {
    const n = sealFixture(native)
    const r = await page.evaluate(w => sealmixVectors.sealed(w), {
      v1: n.v1.toString('hex'),
      v2bob: n.v2.bob.toString('hex'),
      v2carol: n.v2.carol.toString('hex')
    })
    const from = { userId: '@alice:example.org', deviceId: 'ALICEDEV', serverName: 'example.org' }
    const content = { contentType: 2, contentHex: Buffer.from(SEALED_CONTENT).toString('hex') }
    // Chromium opens Node's envelopes, and Node opens Chromium's.
    assert.deepEqual(r.openedV1, { ok: true, envelopeVersion: 1, ...from, ...content })
    assert.deepEqual(r.openedV2bob, { ok: true, envelopeVersion: 2, ...from, ...content })
    assert.deepEqual(r.openedV2carol, { ok: true, envelopeVersion: 2, ...from, ...content })
    assert.deepEqual(n.open(hex(r.v1), 'bob'), r.openedV1)
    assert.deepEqual(n.open(hex(r.v2bob), 'bob'), r.openedV2bob)
    assert.deepEqual(n.open(hex(r.v2carol), 'carol'), r.openedV2carol)
    // The same seeds give the same bytes.
    assert.equal(r.v1, n.v1.toString('hex'))
    assert.equal(r.v2bob, n.v2.bob.toString('hex'))
    assert.equal(r.v2carol, n.v2.carol.toString('hex'))
    // Control: Chromium refuses a flipped byte, for the reason Node gives.
    for (const [got, wire] of [
      [r.tamperedV1, n.v1],
      [r.tamperedV2, n.v2.bob]
    ] as const) {
      assert.equal(got.ok, false)
      assert.match(got.code ?? '', /^SEAL_/)
      assert.deepEqual(got, n.open(flipMiddle(wire), 'bob'))
    }
  })

  it('builds Node’s Sphinx packet and SURB from the same seed; Node unwraps the page’s packet', async function () {
    const n = sphinxFixture(native)
    const r = await page.evaluate(() => sealmixVectors.sphinx())
    assert.equal(r.packet, n.packet.toString('hex'))
    assert.equal(r.surb, n.surb.toString('hex'))
    const sphinx = new Sphinx(native, NETWORK_GEOMETRY)
    let pkt = hex(r.packet)
    for (let i = 0; i < n.secretKeys.length; i++) {
      const u = sphinx.unwrap(pkt, { keys: [n.secretKeys[i]!] })
      if (i < n.secretKeys.length - 1) {
        assert.equal(u.type, 'forward', `hop ${i}`)
        if (u.type === 'forward') pkt = u.packet
      } else {
        assert.equal(u.type, 'deliver', 'last hop')
        if (u.type === 'deliver') assert.deepEqual(u.payload, n.payload)
      }
    }
  })
})

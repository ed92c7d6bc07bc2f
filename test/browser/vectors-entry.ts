/**
 * The page side of test/browser/vectors.test.ts, bundled for Chromium with the SDK bundle's settings
 * (the injected `buffer` polyfill as Buffer, node:crypto and sodium-native stubbed). It makes the
 * browser suite, runs the shared checks of test/helpers/vector-checks.ts on it and gives back plain
 * data (hex strings), which is what crosses page.evaluate. Everything is put on one global rather
 * than run at load, so that Node decides what runs, with which data, and in which order.
 */
import { type CryptoSuite, createBrowserCrypto } from '../../mix/index.ts'
import {
  type CheckResult,
  checkAll,
  flipMiddle,
  type OpenSummary,
  sealFixture,
  sphinxFixture,
  type VectorData
} from '../helpers/vector-checks.ts'

export interface VectorsPage {
  /** The known-answer checks on the browser suite, with the data read in Node. */
  vectors(data: VectorData): Promise<{ binding: string; results: CheckResult[] }>
  /**
   * The seeded sealed-sender fixture made here, and what bob (and carol) make of Node's envelopes,
   * as given and with one byte flipped.
   */
  sealed(node: { v1: string; v2bob: string; v2carol: string }): Promise<{
    v1: string
    v2bob: string
    v2carol: string
    openedV1: OpenSummary
    openedV2bob: OpenSummary
    openedV2carol: OpenSummary
    tamperedV1: OpenSummary
    tamperedV2: OpenSummary
  }>
  /** The seeded Sphinx packet and SURB made here. */
  sphinx(): Promise<{ packet: string; surb: string }>
}

// One suite for the page: making it loads libsodium's WebAssembly, which is the slow part.
let suite: Promise<CryptoSuite> | undefined
const browserSuite = (): Promise<CryptoSuite> => (suite ??= createBrowserCrypto())

const hex = (s: string): Buffer => Buffer.from(s, 'hex')

const page: VectorsPage = {
  async vectors(data) {
    const c = await browserSuite()
    return { binding: c.name, results: checkAll(c, data) }
  },
  async sealed(node) {
    const f = sealFixture(await browserSuite())
    return {
      v1: f.v1.toString('hex'),
      v2bob: f.v2.bob.toString('hex'),
      v2carol: f.v2.carol.toString('hex'),
      openedV1: f.open(hex(node.v1), 'bob'),
      openedV2bob: f.open(hex(node.v2bob), 'bob'),
      openedV2carol: f.open(hex(node.v2carol), 'carol'),
      tamperedV1: f.open(flipMiddle(hex(node.v1)), 'bob'),
      tamperedV2: f.open(flipMiddle(hex(node.v2bob)), 'bob')
    }
  },
  async sphinx() {
    const f = sphinxFixture(await browserSuite())
    return { packet: f.packet.toString('hex'), surb: f.surb.toString('hex') }
  }
}

;(globalThis as unknown as { sealmixVectors: VectorsPage }).sealmixVectors = page

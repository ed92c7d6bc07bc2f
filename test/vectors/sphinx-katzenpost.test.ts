/**
 * Katzenpost X25519 NIKE Sphinx vectors (r = 5, U = 103): the header transform of every hop of all
 * 10 cases with each binding, and, with npm `aez` as the payload SPRP (test-only), the full
 * forwarded packets, final payloads and SURB-reply payloads.
 */
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { BINDINGS, type CryptoSuite, loadCrypto, Sphinx, type Sprp } from '../../mix/index.ts'
import {
  type SphinxCase as Case,
  checkSphinxCase,
  SPHINX_FILE as FILE,
  SPHINX_VECTOR_GEOMETRY as geometry
} from '../helpers/vector-checks.ts'
import { assertChecks, hex, loadVectors, requireVectors, tally } from '../helpers/vectors.ts'

interface AezModule {
  encrypt(k: Buffer, n: Buffer, ad: Buffer[] | null, tau: number, m: Buffer): Buffer
  decrypt(k: Buffer, n: Buffer, ad: Buffer[] | null, tau: number, c: Buffer): Buffer | null
}
function aezSprp(): Sprp {
  const aez = createRequire(import.meta.url)('aez') as AezModule
  return {
    name: 'aez-v5 (npm aez, tests only)',
    encrypt(key, iv, body) {
      aez.encrypt(Buffer.from(key), Buffer.from(iv), null, 0, Buffer.from(body)).copy(body)
    },
    decrypt(key, iv, body) {
      const pt = aez.decrypt(Buffer.from(key), Buffer.from(iv), null, 0, Buffer.from(body))
      assert.ok(pt !== null)
      pt.copy(body)
    }
  }
}

for (const binding of BINDINGS) {
  describe(`Katzenpost Sphinx vectors, header bytes of every hop (${binding})`, function () {
    let crypto: CryptoSuite
    let cases: Case[]
    before(async function () {
      requireVectors(this, FILE)
      crypto = await loadCrypto(binding)
      cases = loadVectors<Case[]>(FILE)
    })

    it('has the 10 cases of the upstream file', function () {
      assert.equal(cases.length, 10)
    })

    for (let ci = 0; ci < 10; ci++) {
      it(`case ${ci}: every hop's commands and next header`, function () {
        // The comparisons are in test/helpers/vector-checks.ts, which the Chromium run shares.
        const c = cases[ci]!
        assertChecks(checkSphinxCase(crypto, c, ci))
        tally(`katzenpost sphinx hop transforms, header bytes (${binding})`, c.Path.length)
        tally(`katzenpost sphinx cases, header bytes (${binding})`)
      })
    }
  })
}

describe('Katzenpost Sphinx vectors end to end with AEZ as the SPRP (npm aez, test-only)', function () {
  let cases: Case[]
  let sphinx: Sphinx
  before(async function () {
    requireVectors(this, FILE)
    cases = loadVectors<Case[]>(FILE)
    sphinx = new Sphinx(await loadCrypto('sodium-native'), geometry, aezSprp())
  })

  it('AEZ primitive vectors (sprp_aez.json) reproduce through the SPRP adapter', function () {
    requireVectors(this, 'katzenpost/primitives/sprp_aez.json')
    const f = loadVectors<{
      vectors: Array<{ name: string; key_hex: string; iv_hex: string; plaintext_hex: string; ciphertext_hex: string }>
    }>('katzenpost/primitives/sprp_aez.json')
    const sprp = aezSprp()
    for (const v of f.vectors) {
      const b = hex(v.plaintext_hex)
      sprp.encrypt(hex(v.key_hex), hex(v.iv_hex), b)
      assert.equal(b.toString('hex'), v.ciphertext_hex, v.name)
      sprp.decrypt(hex(v.key_hex), hex(v.iv_hex), b)
      assert.equal(b.toString('hex'), v.plaintext_hex, v.name)
    }
    tally('primitive sprp_aez (npm aez)', f.vectors.length)
  })

  for (let ci = 0; ci < 10; ci++) {
    it(`case ${ci}: full forwarded packets and the ${ci < 5 ? 'final payload' : 'SURB-reply payload'}`, function () {
      const c = cases[ci]!
      const n = c.Path.length
      let pkt = hex(c.Packets[0]!)
      for (let i = 0; i < n; i++) {
        const r = sphinx.unwrap(pkt, { keys: [hex(c.Nodes[i]!.PrivateKey)], strictCombinations: false })
        if (i < n - 1) {
          assert.equal(r.type, 'forward', `case ${ci} hop ${i}`)
          if (r.type !== 'forward') return
          assert.equal(r.packet.toString('hex'), c.Packets[i + 1], `case ${ci} hop ${i} full packet`)
          pkt = r.packet
          tally('katzenpost sphinx full forwarded packets (AEZ)')
        } else if (ci < 5) {
          assert.equal(r.type, 'deliver', `case ${ci} final hop`)
          if (r.type !== 'deliver') return
          assert.equal(r.payload.toString('hex'), c.Payload)
          tally('katzenpost sphinx final payloads (AEZ)')
        } else {
          assert.equal(r.type, 'surb_reply', `case ${ci} final hop`)
          if (r.type !== 'surb_reply') return
          assert.equal(c.Surb.slice(0, geometry.headerBytes * 2), c.Packets[0]!.slice(0, geometry.headerBytes * 2))
          const reply = sphinx.decryptSurbPayload(r.body, hex(c.SurbKeys))
          assert.ok(reply !== null, 'SURB reply tag must verify')
          assert.equal(reply.toString('hex'), c.Payload)
          tally('katzenpost sphinx SURB-reply payloads (AEZ)')
        }
      }
      tally('katzenpost sphinx cases end to end (AEZ)')
    })
  }
})

import assert from 'node:assert/strict'
import { BINDINGS, type CryptoSuite, loadCrypto } from '../../mix/index.ts'
import { checkPrimitive, PRIMITIVE_FILES, type PrimitiveVectors } from '../helpers/vector-checks.ts'
import { assertChecks, loadVectors, requireVectors, tally } from '../helpers/vectors.ts'

/** The file's vectors (skips, naming the folder, where it is absent); an empty list fails rather than passing vacuously. */
function vectorsOf<K extends keyof PrimitiveVectors>(ctx: Mocha.Context, kind: K): PrimitiveVectors[K] {
  const rel = PRIMITIVE_FILES[kind]
  requireVectors(ctx, rel)
  const f = loadVectors<{ primitive: string; vectors: PrimitiveVectors[K] }>(rel)
  assert.ok(Array.isArray(f.vectors) && f.vectors.length > 0, `${rel} holds no vectors`)
  return f.vectors
}

// The comparisons themselves are in test/helpers/vector-checks.ts, which the Chromium run shares.
const TITLES: { readonly [K in keyof PrimitiveVectors]: string } = {
  sha512_256: 'SHA-512/256 (replay tag hash)',
  hmac_sha256: 'HMAC-SHA256 (header MAC)',
  stream_aes256ctr: 'AES-256-CTR keystream (routing info)',
  chacha20_deterministic_rand: 'ChaCha20 with an 8-byte zero nonce (blinding PRG)',
  kdf_sphinx: 'Sphinx KDF: HKDF-SHA256 expand-only, 160 bytes and its split'
}

for (const binding of BINDINGS) {
  describe(`Katzenpost primitive vectors (${binding})`, function () {
    let c: CryptoSuite
    before(async function () {
      c = await loadCrypto(binding)
    })

    for (const kind of Object.keys(TITLES) as Array<keyof PrimitiveVectors>) {
      it(TITLES[kind], function () {
        const vectors = vectorsOf(this, kind)
        assertChecks(checkPrimitive(c, kind, vectors))
        tally(`primitive ${kind} (${binding})`, vectors.length)
      })
    }
  })
}

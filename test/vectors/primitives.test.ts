import assert from 'node:assert/strict'
import { BINDINGS, type CryptoSuite, loadCrypto } from '../../mix/index.ts'
import { deriveHopKeys } from '../../mix/sphinx/index.ts'
import { hex, loadVectors, requireVectors, tally } from '../helpers/vectors.ts'

interface File<V> {
  primitive: string
  vectors: Array<V & { name: string }>
}

const P = 'katzenpost/primitives/'

/** The file's vectors (skips, naming the folder, where it is absent); an empty list fails rather than passing vacuously. */
function vectorsOf<V>(ctx: Mocha.Context, rel: string): Array<V & { name: string }> {
  requireVectors(ctx, rel)
  const f = loadVectors<File<V>>(rel)
  assert.ok(Array.isArray(f.vectors) && f.vectors.length > 0, `${rel} holds no vectors`)
  return f.vectors
}

for (const binding of BINDINGS) {
  describe(`Katzenpost primitive vectors (${binding})`, function () {
    let c: CryptoSuite
    before(async function () {
      c = await loadCrypto(binding)
    })

    it('SHA-512/256 (replay tag hash)', function () {
      const vectors = vectorsOf<{ input_hex: string; output_hex: string }>(this, P + 'hash_sha512_256.json')
      for (const v of vectors) assert.equal(c.sha512_256(hex(v.input_hex)).toString('hex'), v.output_hex, v.name)
      tally(`primitive sha512_256 (${binding})`, vectors.length)
    })

    it('HMAC-SHA256 (header MAC)', function () {
      const vectors = vectorsOf<{ key_hex: string; msg_hex: string; mac_hex: string }>(this, P + 'mac_hmac_sha256.json')
      for (const v of vectors)
        assert.equal(c.hmacSha256(hex(v.key_hex), hex(v.msg_hex)).toString('hex'), v.mac_hex, v.name)
      tally(`primitive hmac_sha256 (${binding})`, vectors.length)
    })

    it('AES-256-CTR keystream (routing info)', function () {
      const vectors = vectorsOf<{ key_hex: string; iv_hex: string; length: number; keystream_hex: string }>(
        this,
        P + 'stream_aes256ctr.json'
      )
      for (const v of vectors) {
        const ks = Buffer.alloc(v.length)
        c.aes256CtrXor(ks, ks, hex(v.key_hex), hex(v.iv_hex))
        assert.equal(ks.toString('hex'), v.keystream_hex, v.name)
      }
      tally(`primitive stream_aes256ctr (${binding})`, vectors.length)
    })

    it('ChaCha20 with an 8-byte zero nonce (blinding PRG)', function () {
      const vectors = vectorsOf<{ key_hex: string; keystream_hex: string }>(
        this,
        P + 'chacha20_deterministic_rand.json'
      )
      for (const v of vectors) {
        const ks = Buffer.alloc(v.keystream_hex.length / 2)
        c.chacha20Xor(ks, ks, hex(v.key_hex))
        assert.equal(ks.toString('hex'), v.keystream_hex, v.name)
      }
      tally(`primitive chacha20_deterministic_rand (${binding})`, vectors.length)
    })

    it('Sphinx KDF: HKDF-SHA256 expand-only, 160 bytes and its split', function () {
      const vectors = vectorsOf<{
        ikm_hex: string
        header_mac_hex: string
        header_encryption_hex: string
        header_encryption_iv_hex: string
        payload_encryption_hex: string
        blinding_factor_seed_hex: string
      }>(this, P + 'kdf_sphinx.json')
      for (const v of vectors) {
        const k = deriveHopKeys(c, hex(v.ikm_hex))
        assert.equal(k.headerMac.toString('hex'), v.header_mac_hex, v.name)
        assert.equal(k.headerKey.toString('hex'), v.header_encryption_hex, v.name)
        assert.equal(k.headerIv.toString('hex'), v.header_encryption_iv_hex, v.name)
        assert.equal(k.payloadKey.toString('hex'), v.payload_encryption_hex, v.name)
        assert.equal(k.blindingSeed.toString('hex'), v.blinding_factor_seed_hex, v.name)
      }
      tally(`primitive kdf_sphinx (${binding})`, vectors.length)
    })
  })
}

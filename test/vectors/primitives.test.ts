import assert from 'node:assert/strict'
import { BINDINGS, loadCrypto, type CryptoSuite } from '../../mix/index.ts'
import { deriveHopKeys } from '../../mix/sphinx/index.ts'
import { hex, loadVectors, requireVectors, tally } from '../helpers/vectors.ts'

interface File<V> { primitive: string, vectors: Array<V & { name: string }> }

const P = 'katzenpost/primitives/'

for (const binding of BINDINGS) {
  describe(`Katzenpost primitive vectors (${binding})`, function () {
    let c: CryptoSuite
    before(async function () { c = await loadCrypto(binding) })

    it('SHA-512/256 (replay tag hash)', function () {
      requireVectors(this, P + 'hash_sha512_256.json')
      const f = loadVectors<File<{ input_hex: string, output_hex: string }>>(P + 'hash_sha512_256.json')
      assert.ok(f.vectors.length > 0)
      for (const v of f.vectors) assert.equal(c.sha512_256(hex(v.input_hex)).toString('hex'), v.output_hex, v.name)
      tally(`primitive sha512_256 (${binding})`, f.vectors.length)
    })

    it('HMAC-SHA256 (header MAC)', function () {
      requireVectors(this, P + 'mac_hmac_sha256.json')
      const f = loadVectors<File<{ key_hex: string, msg_hex: string, mac_hex: string }>>(P + 'mac_hmac_sha256.json')
      assert.ok(f.vectors.length > 0)
      for (const v of f.vectors) assert.equal(c.hmacSha256(hex(v.key_hex), hex(v.msg_hex)).toString('hex'), v.mac_hex, v.name)
      tally(`primitive hmac_sha256 (${binding})`, f.vectors.length)
    })

    it('AES-256-CTR keystream (routing info)', function () {
      requireVectors(this, P + 'stream_aes256ctr.json')
      const f = loadVectors<File<{ key_hex: string, iv_hex: string, length: number, keystream_hex: string }>>(P + 'stream_aes256ctr.json')
      for (const v of f.vectors) {
        const ks = Buffer.alloc(v.length)
        c.aes256CtrXor(ks, ks, hex(v.key_hex), hex(v.iv_hex))
        assert.equal(ks.toString('hex'), v.keystream_hex, v.name)
      }
      tally(`primitive stream_aes256ctr (${binding})`, f.vectors.length)
    })

    it('ChaCha20 with an 8-byte zero nonce (blinding PRG)', function () {
      requireVectors(this, P + 'chacha20_deterministic_rand.json')
      const f = loadVectors<File<{ key_hex: string, keystream_hex: string }>>(P + 'chacha20_deterministic_rand.json')
      for (const v of f.vectors) {
        const ks = Buffer.alloc(v.keystream_hex.length / 2)
        c.chacha20Xor(ks, ks, hex(v.key_hex))
        assert.equal(ks.toString('hex'), v.keystream_hex, v.name)
      }
      tally(`primitive chacha20_deterministic_rand (${binding})`, f.vectors.length)
    })

    it('Sphinx KDF: HKDF-SHA256 expand-only, 160 bytes and its split', function () {
      requireVectors(this, P + 'kdf_sphinx.json')
      const f = loadVectors<File<{ ikm_hex: string, header_mac_hex: string, header_encryption_hex: string, header_encryption_iv_hex: string, payload_encryption_hex: string, blinding_factor_seed_hex: string }>>(P + 'kdf_sphinx.json')
      for (const v of f.vectors) {
        const k = deriveHopKeys(c, hex(v.ikm_hex))
        assert.equal(k.headerMac.toString('hex'), v.header_mac_hex, v.name)
        assert.equal(k.headerKey.toString('hex'), v.header_encryption_hex, v.name)
        assert.equal(k.headerIv.toString('hex'), v.header_encryption_iv_hex, v.name)
        assert.equal(k.payloadKey.toString('hex'), v.payload_encryption_hex, v.name)
        assert.equal(k.blindingSeed.toString('hex'), v.blinding_factor_seed_hex, v.name)
      }
      tally(`primitive kdf_sphinx (${binding})`, f.vectors.length)
    })
  })
}

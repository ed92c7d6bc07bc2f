/** A signing key file that cannot be used stops with RELAY_KEYS_INVALID naming it, never a half-read key. */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RelayError, signingKey } from '../../../daemon/index.ts'
import { type CryptoSuite, loadCrypto } from '../../../mix/index.ts'

describe('signing key files', function () {
  let c: CryptoSuite
  let dir: string
  before(async function () {
    c = await loadCrypto()
    dir = mkdtempSync(join(tmpdir(), 'sealmix-signing-'))
  })
  after(function () {
    rmSync(dir, { recursive: true, force: true })
  })

  it('is made once, then read back as the same key', function () {
    const f = join(dir, 'made.key')
    const a = signingKey(c, f, { create: true })
    const b = signingKey(c, f, { create: false })
    assert.deepEqual(Buffer.from(a.publicKey), Buffer.from(b.publicKey))
  })

  it('missing, of the wrong size or not a file: RELAY_KEYS_INVALID with the file named', function () {
    const short = join(dir, 'short.key')
    writeFileSync(short, Buffer.alloc(10))
    const folder = join(dir, 'folder.key')
    mkdirSync(folder)
    for (const [file, says] of [
      [join(dir, 'none.key'), /is missing/],
      [short, /must hold exactly 32 bytes/],
      [folder, /cannot be read \(EISDIR\)/]
    ] as const) {
      assert.throws(
        () => signingKey(c, file, { create: false }),
        (e: unknown) =>
          e instanceof RelayError && e.code === 'RELAY_KEYS_INVALID' && e.message.includes(file) && says.test(e.message)
      )
    }
  })
})

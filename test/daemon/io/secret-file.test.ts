/**
 * daemon/io/secret-file.ts: secrets are made 0600 whatever the umask, atomically, never replacing
 * a key unless told to; a read says what is wrong in a named result; an erase overwrites the
 * bytes the file held (seen through a second hard link) before the name goes.
 */
import assert from 'node:assert/strict'
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  checkSecretFile,
  createSecretKey,
  eraseSecretFile,
  readSecretFile,
  secretDir,
  writeSecretFile
} from '../../../daemon/io/index.ts'

const fill =
  (v: number) =>
  (b: Buffer): void => {
    b.fill(v)
  }
const mode = (p: string): number => statSync(p).mode & 0o777

describe('secret files', function () {
  let dir: string
  let umask: number
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'sealmix-secret-'))
    // A wide umask: the mode must not depend on it.
    umask = process.umask(0o000)
  })
  afterEach(function () {
    process.umask(umask)
    rmSync(dir, { recursive: true, force: true })
  })

  it('a key is made 0600 with the bytes given, and no temporary file is left', function () {
    const p = join(dir, 'a.key')
    let filled: Buffer | null = null
    assert.deepEqual(
      createSecretKey(p, 32, b => {
        b.fill(7)
        filled = b
      }),
      { kind: 'written' }
    )
    assert.equal(mode(p), 0o600)
    assert.deepEqual(readFileSync(p), Buffer.alloc(32, 7))
    assert.deepEqual(filled, Buffer.alloc(32), 'the bytes are zeroed in memory once written')
    assert.deepEqual(readdirSync(dir), ['a.key'])
  })

  it('an existing key is never replaced, and nothing is written for it; `replace` replaces it', function () {
    const p = join(dir, 'a.key')
    writeFileSync(p, Buffer.alloc(17, 1), { mode: 0o644 })
    let asked = false
    assert.deepEqual(
      createSecretKey(p, 32, () => {
        asked = true
      }),
      { kind: 'exists' }
    )
    assert.equal(asked, false, 'no randomness drawn for a key that exists')
    assert.deepEqual(readFileSync(p), Buffer.alloc(17, 1))
    assert.deepEqual(createSecretKey(p, 32, fill(9), { replace: true }), { kind: 'written' })
    assert.deepEqual(readFileSync(p), Buffer.alloc(32, 9))
    assert.equal(mode(p), 0o600, 'a replaced file is a new one, 0600')
  })

  it("a dangling link in the key's place counts as taken: nothing is written through it", function () {
    const p = join(dir, 'a.key')
    const target = join(dir, 'elsewhere')
    symlinkSync(target, p)
    assert.deepEqual(createSecretKey(p, 32, fill(3)), { kind: 'exists' })
    assert.equal(existsSync(target), false)
  })

  it('an exclusive write reports a file that exists; a plain one replaces it, narrowed to 0600', function () {
    const p = join(dir, 'conf.yaml')
    writeFileSync(p, 'old', { mode: 0o644 })
    assert.deepEqual(writeSecretFile(p, 'new', { exclusive: true }), { kind: 'exists' })
    assert.equal(readFileSync(p, 'utf8'), 'old')
    assert.deepEqual(writeSecretFile(p, 'new'), { kind: 'written' })
    assert.equal(readFileSync(p, 'utf8'), 'new')
    assert.equal(mode(p), 0o600)
  })

  it('a stale temporary file, or a link in its place, is not written through', function () {
    const p = join(dir, 'conf.yaml')
    const target = join(dir, 'target')
    writeFileSync(target, 'untouched')
    symlinkSync(target, join(dir, '.conf.yaml.tmp'))
    writeSecretFile(p, 'secret')
    assert.equal(readFileSync(target, 'utf8'), 'untouched')
    assert.equal(readFileSync(p, 'utf8'), 'secret')
    assert.equal(existsSync(join(dir, '.conf.yaml.tmp')), false)
  })

  it('a read names what is wrong: missing, wrong size (not read), unreadable', function () {
    const p = join(dir, 'a.key')
    assert.deepEqual(readSecretFile(p, 32), { kind: 'missing' })
    assert.deepEqual(checkSecretFile(p, 32), { kind: 'missing' })
    for (const n of [0, 17, 33]) {
      writeFileSync(p, Buffer.alloc(n, 5))
      assert.deepEqual(readSecretFile(p, 32), { kind: 'wrong-size', size: n })
      assert.deepEqual(checkSecretFile(p, 32), { kind: 'wrong-size', size: n })
    }
    writeFileSync(p, Buffer.alloc(32, 5))
    assert.deepEqual(readSecretFile(p, 32), { kind: 'read', bytes: Buffer.alloc(32, 5) })
    assert.deepEqual(checkSecretFile(p, 32), { kind: 'sound' })
    const d = join(dir, 'd.key')
    mkdirSync(d)
    const r = readSecretFile(d, 32)
    assert.equal(r.kind, 'unreadable')
    assert.equal(r.kind === 'unreadable' && r.errno, 'EISDIR')
    assert.equal(checkSecretFile(d, 32).kind, 'unreadable')
    if (process.getuid?.() !== 0) {
      chmodSync(p, 0o000)
      const u = readSecretFile(p, 32)
      assert.equal(u.kind === 'unreadable' && u.errno, 'EACCES')
    }
  })

  it('an erase overwrites every byte the file held, syncs, and leaves no name', function () {
    for (const n of [32, 64, 5000]) {
      const p = join(dir, `mix-${n}.key`)
      writeFileSync(p, Buffer.alloc(n, 0xab), { mode: 0o600 })
      // A second name for the same inode: what the file holds after the erase, seen after its name is gone.
      const witness = join(dir, `witness-${n}`)
      linkSync(p, witness)
      assert.deepEqual(eraseSecretFile(p), { kind: 'erased', size: n })
      assert.equal(existsSync(p), false)
      const left = readFileSync(witness)
      assert.equal(left.length, n, 'overwritten in place, not grown or truncated')
      assert.ok(left.equals(Buffer.alloc(n)), 'every byte is zero')
    }
    assert.deepEqual(eraseSecretFile(join(dir, 'none.key')), { kind: 'missing' })
  })

  it('a secret directory is made 0700, and a wider one is narrowed', function () {
    const d = join(dir, 'keys')
    secretDir(d)
    assert.equal(mode(d), 0o700)
    chmodSync(d, 0o755)
    secretDir(d)
    assert.equal(mode(d), 0o700)
  })
})

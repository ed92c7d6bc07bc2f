/**
 * File modes of what `sealmix init` writes. `init --out` onto an existing 0644 file must not leave
 * the tokens in it readable by everyone, and a data directory made beforehand at 0755 must not stay
 * 0755: what init writes is 0600 (files) and 0700 (directories) whether it existed or not. Run as
 * root (uid 0), init warns on stderr, and only then. Real CLI (the bundle), every role.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SEALMIX } from '../helpers/bundle.ts'
import { PROJECT } from '../helpers/testnet.ts'

const HEX = 'ab'.repeat(32)
const ROOT_WARNING = /^sealmix: warning: init runs as root/m

function sealmix(args: string[], uid?: number): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...SEALMIX, ...args], {
    cwd: PROJECT,
    encoding: 'utf8',
    timeout: 60_000,
    ...(uid !== undefined ? { uid, gid: uid } : {})
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

const mode = (p: string): string => (statSync(p).mode & 0o777).toString(8)

/** A file that was there before init, readable by everyone, and a data directory made at 0755. */
function preexisting(dir: string, files: string[], dataDirs: string[]): void {
  for (const f of files) {
    writeFileSync(f, 'old contents\n')
    chmodSync(f, 0o644)
  }
  for (const d of dataDirs) {
    mkdirSync(d, { recursive: true })
    chmodSync(d, 0o755)
  }
  chmodSync(dir, 0o777)
}

describe('hostile: init writes its secrets 0600 and 0700, and warns as root', function () {
  this.timeout(120_000)
  let dir: string
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'sealmix-hostile-init-'))
    chmodSync(dir, 0o755)
  })
  after(function () {
    rmSync(dir, { recursive: true, force: true })
  })

  function expectSecret(files: string[], dirs: string[], r: { status: number | null; stderr: string }): void {
    assert.equal(r.status, 0, r.stderr)
    for (const f of files) assert.equal(mode(f), '600', f)
    for (const d of dirs) {
      assert.equal(mode(d), '700', d)
      const keys = join(d, 'keys')
      try {
        statSync(keys)
      } catch {
        continue
      }
      assert.equal(mode(keys), '700', keys)
      for (const k of readdirSync(keys)) assert.equal(mode(join(keys, k)), '600', join(keys, k))
    }
    assert.equal(ROOT_WARNING.test(r.stderr), asRoot, `warns exactly when run as root: ${r.stderr}`)
  }

  it('a relay (static network file and directory): config and data directory', function () {
    const out = join(dir, 'relay.yaml')
    const data = join(dir, 'relay-data')
    preexisting(dir, [out], [data])
    // A key file left readable by an earlier, careless copy.
    mkdirSync(join(data, 'keys'), { recursive: true })
    chmodSync(join(data, 'keys'), 0o755)
    writeFileSync(join(data, 'keys', 'identity.key'), Buffer.alloc(32, 7))
    chmodSync(join(data, 'keys', 'identity.key'), 0o644)
    expectSecret(
      [out],
      [data],
      sealmix([
        'init',
        '--role',
        'mix',
        '--data-dir',
        data,
        '--network',
        join(dir, 'network.json'),
        '--signer',
        HEX,
        '--out',
        out
      ])
    )
    const out2 = join(dir, 'relay2.yaml')
    const data2 = join(dir, 'relay2-data')
    preexisting(dir, [out2], [data2])
    expectSecret(
      [out2],
      [data2],
      sealmix([
        'init',
        '--role',
        'gateway',
        '--data-dir',
        data2,
        '--authority',
        `http://127.0.0.1:1=${HEX}`,
        '--out',
        out2
      ])
    )
  })

  it('run as another user than root: no warning, the same modes', function () {
    if (!asRoot) {
      console.log('      skipped: not running as root, so the tests above already ran init as another user')
      this.skip()
    }
    const out3 = join(dir, 'nobody.yaml')
    const data3 = join(dir, 'nobody-data')
    const r = sealmix(
      ['init', '--role', 'gateway', '--data-dir', data3, '--authority', `http://127.0.0.1:1=${HEX}`, '--out', out3],
      65534
    )
    if (r.status === null) {
      // Node or the checkout under a directory only root may enter (CI's Node 24 lives in root's cache).
      console.log(`      skipped: uid 65534 cannot run ${process.execPath} in this checkout`)
      this.skip()
    }
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stderr, '')
    assert.equal(mode(out3), '600')
    assert.equal(mode(data3), '700')
  })

  it('an ingress: config, registration (both hold the tokens) and data directory', function () {
    const out = join(dir, 'ingress.yaml')
    const reg = join(dir, 'registration.yaml')
    const data = join(dir, 'ingress-data')
    preexisting(dir, [out, reg], [data])
    expectSecret(
      [out, reg],
      [data],
      sealmix([
        'init',
        '--role',
        'ingress',
        '--data-dir',
        data,
        '--server-name',
        'example.org',
        '--homeserver',
        'http://127.0.0.1:8008',
        '--network',
        join(dir, 'network.json'),
        '--signer',
        HEX,
        '--out',
        out,
        '--registration',
        reg,
        '--gateway',
        HEX
      ])
    )
  })

  it('an authority: config, signing key and data directory', function () {
    const out = join(dir, 'authority.yaml')
    const data = join(dir, 'authority-data')
    preexisting(dir, [out], [data])
    writeFileSync(join(data, 'authority.key'), Buffer.alloc(32, 9))
    chmodSync(join(data, 'authority.key'), 0o644)
    expectSecret(
      [out, join(data, 'authority.key')],
      [data],
      sealmix([
        'init',
        '--role',
        'authority',
        '--data-dir',
        data,
        '--network-name',
        'n',
        '--genesis-ms',
        '0',
        '--out',
        out
      ])
    )
  })

  it('a client: profile and contact card (both hold secrets)', function () {
    const out = join(dir, 'alice.profile.json')
    const card = join(dir, 'alice.contact.json')
    const token = join(dir, 'alice.token')
    writeFileSync(token, 'tok-alice-0123456789\n')
    chmodSync(token, 0o644)
    preexisting(dir, [out, card], [])
    expectSecret(
      [out, card],
      [],
      sealmix([
        'init',
        '--role',
        'client',
        '--user',
        '@alice:example.org',
        '--device',
        'A',
        '--token-file',
        token,
        '--homeserver',
        'http://127.0.0.1:8008',
        '--ingress-api',
        'http://127.0.0.1:8090',
        '--gateway',
        HEX,
        '--authority',
        `http://127.0.0.1:1=${HEX}`,
        '--out',
        out,
        '--contact-out',
        card
      ])
    )
  })
})

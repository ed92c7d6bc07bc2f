/**
 * `sealmix keys backup` and `sealmix keys restore` as processes, on relays made and run with the
 * CLI: restored into an empty data directory, the relay is the same relay to the signed network
 * file (its static mix key comes back refused: its replay tags are not in a backup) and to a
 * directory authority (listed again under its id, with new mix keys). The backup is 0600 and
 * never overwritten unasked; a wrong passphrase, a flipped byte or a data directory with keys is
 * refused with its code and writes nothing.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { loadCrypto } from '../../mix/index.ts'
import { freePort } from '../../tools/index.ts'
import { SEALMIX } from '../helpers/bundle.ts'
import { ok, runRelay, sealmix, staticNetwork, waitForStatus } from '../helpers/cli-relay.ts'
import { httpGet, PROJECT, waitFor } from '../helpers/testnet.ts'

const PASSPHRASE = 'correct horse battery staple'

/** A copy of the relay config at `from` with another data directory and metrics port. */
function moveConfig(from: string, to: string, dataDir: string, metricsPort: number): void {
  const cfg = parseYaml(readFileSync(from, 'utf8')) as { dataDir: string; metrics: { port: number } }
  writeFileSync(to, toYaml({ ...cfg, dataDir, metrics: { ...cfg.metrics, port: metricsPort } }), { mode: 0o600 })
}

const mode = (p: string): number => statSync(p).mode & 0o777

describe('sealmix keys backup and restore', function () {
  this.timeout(180_000)
  const root = mkdtempSync(join(tmpdir(), 'sealmix-keys-'))
  after(function () {
    rmSync(root, { recursive: true, force: true })
  })
  const passFile = join(root, 'passphrase')
  before(function () {
    writeFileSync(passFile, `${PASSPHRASE}\n`, { mode: 0o600 })
  })

  it('restores a static relay that the signed network file takes as the same relay, its mix key refused; refuses what it must, writing nothing', async function () {
    const dir = join(root, 'static')
    mkdirSync(dir)
    const net = await staticNetwork(dir)
    const a = runRelay(net.config)
    const backup = join(dir, 'mix1.keys')
    try {
      await waitForStatus(a, net.metricsPort, '/readyz', 200)
      // Backed up while it runs: the keys are only read.
      const made = sealmix(['keys', 'backup', '--config', net.config, '--out', backup, '--passphrase-file', passFile])
      assert.equal(made.status, 0, made.stderr)
      assert.match(made.stdout, /keys\/identity\.key, keys\/mailbox\.key, keys\/mix\.key/)
      assert.doesNotMatch(made.stdout + made.stderr, new RegExp(PASSPHRASE))
    } finally {
      assert.equal(await a.stop(), 0, a.output())
    }
    assert.equal(mode(backup), 0o600)
    const bytes = readFileSync(backup)
    for (const f of readdirSync(join(net.dataDir, 'keys')).filter(f => f.endsWith('.key')))
      assert.equal(bytes.indexOf(readFileSync(join(net.dataDir, 'keys', f))), -1, `${f} is in the clear`)

    // An existing backup is kept unless --force; replaced, it is a new file of the same mode.
    const again = sealmix(['keys', 'backup', '--config', net.config, '--out', backup, '--passphrase-file', passFile])
    assert.equal(again.status, 73, again.stderr)
    assert.match(again.stderr, /^sealmix: KEYS_BACKUP_EXISTS: .*--force/)
    assert.deepEqual(readFileSync(backup), bytes)
    const short = join(dir, 'short')
    writeFileSync(short, 'too short\n', { mode: 0o600 })
    const weak = sealmix([
      'keys',
      'backup',
      '--config',
      net.config,
      '--out',
      join(dir, 'weak'),
      '--passphrase-file',
      short
    ])
    assert.equal(weak.status, 64)
    assert.match(weak.stderr, /at least 12 characters/)
    assert.ok(!existsSync(join(dir, 'weak')))

    const restored = join(dir, 'restored')
    const config = join(dir, 'restored.yaml')
    const metricsPort = await freePort()
    moveConfig(net.config, config, restored, metricsPort)
    const restore = (input: string, env: Record<string, string> = {}, target = ['--config', config]) =>
      sealmix(['keys', 'restore', '--in', input, ...target], env)

    const wrong = restore(backup, { SEALMIX_BACKUP_PASSPHRASE: 'wrong horse battery staple' })
    assert.equal(wrong.status, 77, wrong.stderr)
    assert.match(wrong.stderr, /^sealmix: KEYS_BACKUP_WRONG_PASSPHRASE: /)
    assert.ok(!existsSync(restored), 'nothing written')
    for (const at of [20, 100, bytes.length - 1]) {
      const flipped = Buffer.from(bytes)
      flipped[at]! ^= 0x01
      const f = join(dir, `flipped-${at}`)
      writeFileSync(f, flipped)
      const r = restore(f, { SEALMIX_BACKUP_PASSPHRASE: PASSPHRASE })
      assert.equal(r.status, 65, `byte ${at}: ${r.stderr}`)
      assert.match(r.stderr, /^sealmix: KEYS_BACKUP_CORRUPT: /)
      assert.ok(!existsSync(restored), 'nothing written')
    }
    const busy = restore(backup, { SEALMIX_BACKUP_PASSPHRASE: PASSPHRASE }, ['--data-dir', net.dataDir])
    assert.equal(busy.status, 73, busy.stderr)
    assert.ok(busy.stderr.includes(`KEYS_RESTORE_NOT_EMPTY: `) && busy.stderr.includes(join(net.dataDir, 'keys')))

    const done = restore(backup, {}, ['--config', config, '--passphrase-file', passFile])
    assert.equal(done.status, 0, done.stderr)
    assert.match(done.stdout, /refuses every packet for that key/)
    for (const f of ['identity.key', 'mailbox.key', 'mix.key']) {
      assert.deepEqual(readFileSync(join(restored, 'keys', f)), readFileSync(join(net.dataDir, 'keys', f)), f)
      assert.equal(mode(join(restored, 'keys', f)), 0o600, f)
    }
    assert.equal(mode(join(restored, 'keys')), 0o700)
    assert.equal(readFileSync(join(restored, 'FORMAT'), 'utf8'), 'sealmix-data 2\n')

    // The same relay: the network file lists it (a different identity or mix key would stop it with RELAY_NOT_IN_NETWORK).
    const b = runRelay(config)
    try {
      const why = await waitForStatus(b, metricsPort, '/readyz', 503)
      await waitFor(() => /"relay started"/.test(b.output()), 20_000, 'relay started')
      assert.match(b.output(), /"listed":true/)
      assert.match(why + (await httpGet(metricsPort, '/readyz')).body, /replay protection is incomplete/)
    } finally {
      assert.equal(await b.stop(), 0, b.output())
    }
  })

  it('restores a relay that follows an authority, which lists it again under the same id with new mix keys', async function () {
    const c = await loadCrypto()
    const dir = join(root, 'directory')
    mkdirSync(dir)
    const authPort = await freePort()
    const authConfig = join(dir, 'authority.yaml')
    const { signer } = JSON.parse(
      ok([
        'init',
        '--role',
        'authority',
        '--data-dir',
        join(dir, 'authority'),
        '--listen',
        `127.0.0.1:${authPort}`,
        '--network-name',
        'keys-test',
        '--genesis-ms',
        String(Date.now() + 3000),
        '--epoch',
        '2s',
        '--grace',
        '500ms',
        '--out',
        authConfig
      ])
    ) as { signer: string }
    const aDir = join(dir, 'a')
    const aConfig = join(dir, 'a.yaml')
    const aMetrics = await freePort()
    const { identityKey } = JSON.parse(
      ok([
        'init',
        '--role',
        'mix',
        '--layer',
        '1',
        '--data-dir',
        aDir,
        '--listen',
        `127.0.0.1:${await freePort()}`,
        '--metrics',
        `127.0.0.1:${aMetrics}`,
        '--authority',
        `http://127.0.0.1:${authPort}=${signer}`,
        '--max-skew',
        '500ms',
        '--out',
        aConfig
      ])
    ) as { identityKey: string }
    ok(['authority', 'admit', '--config', authConfig, '--relay', `mix:1:${identityKey}`])
    const auth = spawn(process.execPath, [...SEALMIX, 'authority', '--config', authConfig], {
      cwd: PROJECT,
      stdio: 'ignore'
    })
    /** Public halves of the epoch mix keys in a data directory. */
    const mixKeys = (dataDir: string): string[] =>
      readdirSync(join(dataDir, 'keys'))
        .filter(f => /^mix-\d+\.key$/.test(f))
        .map(f => {
          const pub = Buffer.alloc(32)
          c.x25519Base(pub, readFileSync(join(dataDir, 'keys', f)))
          return pub.toString('hex')
        })
    try {
      const a = runRelay(aConfig)
      try {
        await waitForStatus(a, aMetrics, '/readyz', 200, 60_000)
      } finally {
        assert.equal(await a.stop(), 0, a.output())
      }
      const before = mixKeys(aDir)
      assert.ok(before.length > 0)
      const backup = join(dir, 'a.keys')
      const made = sealmix(['keys', 'backup', '--config', aConfig, '--out', backup], {
        SEALMIX_BACKUP_PASSPHRASE: PASSPHRASE
      })
      assert.equal(made.status, 0, made.stderr)
      assert.match(made.stdout, /\(keys\/identity\.key, keys\/mailbox\.key\)/)
      const bytes = readFileSync(backup)
      for (const f of readdirSync(join(aDir, 'keys')).filter(f => f.startsWith('mix-')))
        assert.equal(bytes.indexOf(readFileSync(join(aDir, 'keys', f))), -1, `${f} is in the backup`)

      const bDir = join(dir, 'b')
      const bConfig = join(dir, 'b.yaml')
      const bMetrics = await freePort()
      moveConfig(aConfig, bConfig, bDir, bMetrics)
      const restored = sealmix(['keys', 'restore', '--in', backup, '--config', bConfig], {
        SEALMIX_BACKUP_PASSPHRASE: PASSPHRASE
      })
      assert.equal(restored.status, 0, restored.stderr)
      assert.match(restored.stdout, /makes new mix keys/)
      assert.deepEqual(readdirSync(join(bDir, 'keys')).sort(), ['identity.key', 'mailbox.key'])
      // Ready means listed in the current document with this relay's id, role, layer and (new) key.
      const b = runRelay(bConfig)
      try {
        await waitForStatus(b, bMetrics, '/readyz', 200, 60_000)
      } finally {
        assert.equal(await b.stop(), 0, b.output())
      }
      assert.deepEqual(
        readFileSync(join(bDir, 'keys', 'identity.key')),
        readFileSync(join(aDir, 'keys', 'identity.key'))
      )
      const after = mixKeys(bDir)
      assert.ok(after.length > 0)
      assert.deepEqual(
        after.filter(k => before.includes(k)),
        [],
        'a mix key of the old relay came back'
      )
    } finally {
      await new Promise(resolve => {
        auth.once('exit', resolve)
        auth.kill('SIGTERM')
      })
    }
  })
})

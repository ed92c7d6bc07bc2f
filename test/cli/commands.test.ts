/**
 * The CLI as operators and homeserver admins run it (real processes): --help on every command,
 * `inspect` (counts and ages, never contents or ids; refuses a data directory in use),
 * `init --role ingress` (config, keys, application-service registration) and ingress config
 * validation.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { HELP } from '../../cli/help.ts'
import { ensureKeys } from '../../daemon/index.ts'
import { commit, openDatabase } from '../../daemon/store/db.ts'
import { QueueStore } from '../../daemon/store/queue-store.ts'
import { loadCrypto } from '../../mix/index.ts'
import { PROJECT } from '../helpers/testnet.ts'

function sealmix (...args: string[]): { status: number | null, stdout: string, stderr: string } {
  return spawnSync(process.execPath, ['--import', 'tsx', 'cli/index.ts', ...args], { cwd: PROJECT, encoding: 'utf8', timeout: 60_000 })
}

describe('sealmix commands', function () {
  this.timeout(120_000)
  const root = mkdtempSync(join(tmpdir(), 'sealmix-cli-'))

  it('answers --help on every command with its usage, exit 0', function () {
    for (const cmd of Object.keys(HELP).filter(k => k !== '')) {
      const r = sealmix(cmd, '--help')
      assert.equal(r.status, 0, cmd)
      assert.match(r.stdout, /usage:\s+sealmix /, cmd)
    }
  })

  it('inspect prints counts, bytes, destinations and oldest age, and no id; a data directory in use exits 75', async function () {
    const c = await loadCrypto()
    const dir = join(root, 'relay')
    ensureKeys(c, dir)
    const cfgFile = join(root, 'relay.json')
    const raw = { role: 'gateway', dataDir: dir, network: { file: join(root, 'none.json'), signers: ['00'.repeat(32)] } }
    writeFileSync(cfgFile, JSON.stringify(raw))
    const db = await openDatabase(join(dir, 'db'))
    const spool = new QueueStore(db, 'spool', { quota: 100, ttlMs: 3600_000 * 48 })
    const mailbox = new QueueStore(db, 'mailbox', { quota: 100, ttlMs: 3600_000 * 48 })
    const destA = Buffer.alloc(32, 0xa1); const destB = Buffer.alloc(32, 0xb2); const box = Buffer.alloc(32, 0xc3)
    const now = Date.now()
    const puts = [spool.put(destA, Buffer.alloc(100), now - 3 * 3600_000), spool.put(destA, Buffer.alloc(100), now), spool.put(destB, Buffer.alloc(50), now), mailbox.put(box, Buffer.alloc(10), now)]
    await commit(db, puts.map(p => p.op))
    const locked = sealmix('inspect', '--config', cfgFile)
    assert.equal(locked.status, 75)
    assert.match(locked.stderr, /RELAY_STORE_LOCKED/)
    await db.close()
    const r = sealmix('inspect', '--config', cfgFile, '--json')
    assert.equal(r.status, 0, r.stderr)
    const got = JSON.parse(r.stdout) as { spool: { packets: number, bytes: number, destinations: number, oldestAgeSeconds: number }, mailbox: { packets: number, destinations: number } }
    assert.deepEqual([got.spool.packets, got.spool.bytes, got.spool.destinations], [3, 250, 2])
    assert.ok(got.spool.oldestAgeSeconds >= 2 * 3600, `the oldest spooled record is hours old (got ${got.spool.oldestAgeSeconds} s)`)
    assert.deepEqual([got.mailbox.packets, got.mailbox.destinations], [1, 1])
    const text = sealmix('inspect', '--config', cfgFile).stdout
    for (const id of [destA, destB, box]) assert.equal(text.includes(id.toString('hex')) || r.stdout.includes(id.toString('hex')), false)
    assert.match(text, /^spool {4}3 packets, 250 bytes, 2 ingresses, oldest \d+ s$/m)
  })

  it('init --role ingress writes keys, a config that validates and the homeserver\'s registration; a bad ingress config names key, rule and value', function () {
    const cfg = join(root, 'ingress.yaml')
    const reg = join(root, 'registration.yaml')
    const r = sealmix('init', '--role', 'ingress', '--data-dir', join(root, 'ingress'), '--server-name', 'example.org', '--homeserver', 'http://127.0.0.1:8008',
      '--network', join(root, 'network.json'), '--signer', 'ab'.repeat(32), '--out', cfg, '--registration', reg, '--gateway', 'cd'.repeat(32))
    assert.equal(r.status, 0, r.stderr)
    const printed = JSON.parse(r.stdout) as { ingress: { id: string, serverName: string, boxKey: string, gateways: string[] }, serverRootKey: string }
    assert.equal(printed.ingress.serverName, 'example.org')
    assert.deepEqual(printed.ingress.gateways, ['cd'.repeat(32)])
    assert.match(printed.serverRootKey, /^[0-9a-f]{64}$/)
    const config = parseYaml(readFileSync(cfg, 'utf8')) as { homeserver: { asToken: string, hsToken: string } }
    const registration = parseYaml(readFileSync(reg, 'utf8')) as { as_token: string, hs_token: string, sender_localpart: string, namespaces: { users: Array<{ exclusive: boolean, regex: string }> } }
    assert.equal(registration.as_token, config.homeserver.asToken)
    assert.equal(registration.hs_token, config.homeserver.hsToken)
    assert.notEqual(registration.as_token, registration.hs_token)
    assert.equal(registration.sender_localpart, 'sealmix')
    assert.deepEqual(registration.namespaces.users, [{ exclusive: true, regex: '@sealmix:example\\.org' }])
    assert.ok(new RegExp(`^${registration.namespaces.users[0]!.regex}$`).test('@sealmix:example.org'))
    assert.equal(sealmix('validate-config', '--role', 'ingress', '--config', cfg).stdout.trim(), 'ok')
    const bad = join(root, 'ingress-bad.json')
    writeFileSync(bad, JSON.stringify({ ...parseYaml(readFileSync(cfg, 'utf8')) as object, limits: { perDestinationPerMinute: 0 } }))
    const b = sealmix('validate-config', '--role', 'ingress', '--config', bad)
    assert.equal(b.status, 78)
    assert.equal(b.stderr.trim(), 'sealmix: CLIENT_CONFIG_INVALID: limits.perDestinationPerMinute must be >= 1 (got 0)')
    const secret = join(root, 'ingress-secret.json')
    writeFileSync(secret, JSON.stringify({ ...parseYaml(readFileSync(cfg, 'utf8')) as object, homeserver: { url: 'http://x', asToken: 'short', hsToken: config.homeserver.hsToken } }))
    const s = sealmix('validate-config', '--role', 'ingress', '--config', secret)
    assert.equal(s.status, 78)
    assert.equal(s.stderr.trim(), 'sealmix: CLIENT_CONFIG_INVALID: homeserver.asToken must be at least 16 characters (got <redacted>)')
  })
})

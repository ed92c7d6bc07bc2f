/**
 * The CLI as operators and homeserver admins run it (real processes): --help on every command and
 * the options it declares, usage errors that name the argument (exit 64), `--name=value`,
 * durations with units, `sealmix version`, the installed `bin` running the bundle,
 * `inspect` (counts and ages, never contents or ids; refuses a data directory in use),
 * `init --role ingress` (config, keys, application-service registration) and ingress config
 * validation.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { HELP } from '../../cli/help.ts'
import { COMMAND_OPTIONS, INIT_ROLES } from '../../cli/options.ts'
import { ensureKeys } from '../../daemon/index.ts'
import { commit, openDatabase } from '../../daemon/io/db.ts'
import { QueueStore } from '../../daemon/relay/gateway/queue-store.ts'
import { loadCrypto } from '../../mix/index.ts'
import { PROJECT } from '../helpers/testnet.ts'

type Run = { status: number | null; stdout: string; stderr: string }

/** Node alone, no tsx: what the image and the installed `bin` run (npm run build made dist/ before the tests). */
function node(script: string, ...args: string[]): Run {
  return spawnSync(process.execPath, [script, ...args], { cwd: PROJECT, encoding: 'utf8', timeout: 60_000 })
}

/** The bundle, as operators run it (and faster to start than the sources through tsx). */
const sealmix = (...args: string[]): Run => node('dist/sealmix.mjs', ...args)

/** The `--name`s in the synopsis of a help text (its first paragraph). */
const synopsisOptions = (text: string): Set<string> =>
  new Set(
    [...text.split('\n\n')[0]!.matchAll(/--([a-z][a-z-]*)/g)]
      .map(m => m[1]!)
      .filter(n => n !== 'help' && n !== 'version')
  )

const usageError = (r: Run, message: string, cmd: string): void => {
  assert.equal(r.status, 64, r.stderr)
  assert.equal(r.stderr, `sealmix: ${message} (see sealmix${cmd === '' ? '' : ` ${cmd}`} --help)\n`)
  assert.equal(r.stdout, '')
}

describe('sealmix commands', function () {
  this.timeout(120_000)
  const root = mkdtempSync(join(tmpdir(), 'sealmix-cli-'))
  // Keys and configs made by the commands under test: removed with the suite.
  after(function () {
    rmSync(root, { recursive: true, force: true })
  })

  it('answers --help on every command with its usage, exit 0', function () {
    for (const cmd of Object.keys(HELP).filter(k => k !== '')) {
      const r = sealmix(cmd, '--help')
      assert.equal(r.status, 0, cmd)
      assert.match(r.stdout, /usage:\s+sealmix /, cmd)
    }
    assert.equal(sealmix('run', '-h').stdout, sealmix('help', 'run').stdout)
    for (const top of [[], ['--help'], ['-h'], ['help']])
      assert.match(
        sealmix(...top).stdout,
        /^sealmix: a metadata-hiding mixnet relay\n\nusage: sealmix <command>/,
        top.join(' ')
      )
  })

  it("declares exactly the options each command's --help shows, and for init those of each role", function () {
    assert.deepEqual(
      Object.keys(COMMAND_OPTIONS).sort(),
      Object.keys(HELP)
        .filter(k => k !== '')
        .sort()
    )
    for (const [cmd, options] of Object.entries(COMMAND_OPTIONS))
      assert.deepEqual([...synopsisOptions(HELP[cmd]!)].sort(), Object.keys(options).sort(), cmd)
    const blocks = HELP.init!.split('\n\n')[0]!
      .split(/^\s*sealmix init /m)
      .slice(1)
    for (const block of blocks) {
      const roles = /^--role ([a-z|]+)/.exec(block)![1]!.split('|')
      for (const role of roles)
        assert.deepEqual([...synopsisOptions(block)].sort(), [...INIT_ROLES[role]!].sort(), role)
    }
    assert.deepEqual(
      blocks.flatMap(b => /^--role ([a-z|]+)/.exec(b)![1]!.split('|')).sort(),
      Object.keys(INIT_ROLES).sort()
    )
  })

  it('refuses an unknown option, a missing, repeated or stray argument, naming it (exit 64)', function () {
    usageError(sealmix('run', '--confg', 'sealmix.yaml'), "unknown option '--confg' for 'run'", 'run')
    usageError(sealmix('run', '--confg=sealmix.yaml'), "unknown option '--confg' for 'run'", 'run')
    usageError(sealmix('run', '-c', 'sealmix.yaml'), "unknown option '-c' for 'run'", 'run')
    usageError(sealmix('run'), '--config is required', 'run')
    usageError(sealmix('run', '--config', 'a.yaml', '--config=b.yaml'), '--config may be given once', 'run')
    usageError(sealmix('run', '--config'), 'option --config needs a value', 'run')
    usageError(sealmix('run', 'sealmix.yaml'), "'run' takes no arguments (got 'sealmix.yaml')", 'run')
    usageError(
      sealmix('inspect', '--json=yes', '--config', 'x'),
      'option --json takes no value (got --json=yes)',
      'inspect'
    )
    usageError(
      sealmix('send', '--profile', '--to', 'bob.json'),
      "option --profile needs a value before '--to' (write --profile=VALUE for a value that starts with '-')",
      'send'
    )
    usageError(sealmix('send', '--timeout-ms', '5000'), "unknown option '--timeout-ms' for 'send'", 'send')
    usageError(
      sealmix('init', '--role', 'client', '--listen', '127.0.0.1:9000'),
      "option --listen does not apply to 'init --role client'",
      'init'
    )
    usageError(sealmix('frobnicate'), "unknown command 'frobnicate'", '')
    usageError(sealmix('--config', 'x', 'run'), "unknown option '--config'; options come after the command", '')
  })

  it('takes --name=value as --name value', function () {
    const dir = join(root, 'keygen')
    const spaced = sealmix(
      'keygen',
      '--data-dir',
      dir,
      '--role',
      'mix',
      '--layer',
      '2',
      '--address',
      'ws://127.0.0.1:9002'
    )
    assert.equal(spaced.status, 0, spaced.stderr)
    const joined = sealmix('keygen', `--data-dir=${dir}`, '--role=mix', '--layer=2', '--address=ws://127.0.0.1:9002')
    assert.equal(joined.status, 0, joined.stderr)
    assert.deepEqual(JSON.parse(joined.stdout), JSON.parse(spaced.stdout))
    assert.equal((JSON.parse(joined.stdout) as { layer: number }).layer, 2)
  })

  it('network signs only what every relay will accept: a malformed descriptor, a missing layer or a file that is not JSON are refused, naming it, and nothing is written', function () {
    const dir = join(root, 'net')
    mkdirSync(dir, { recursive: true })
    const key = join(dir, 'signer.key')
    assert.equal(sealmix('signer-keygen', '--out', key).status, 0)
    const d: string[] = []
    for (const [role, layer] of [
      ['gateway', 0],
      ['gateway', 0],
      ['mix', 1],
      ['mix', 2],
      ['mix', 3]
    ] as const) {
      const r = sealmix(
        'keygen',
        '--data-dir',
        join(dir, `r${d.length}`),
        '--role',
        role,
        '--layer',
        String(layer),
        '--address',
        `ws://127.0.0.1:${9100 + d.length}`
      )
      assert.equal(r.status, 0, r.stderr)
      d.push(join(dir, `r${d.length}.json`))
      writeFileSync(d[d.length - 1]!, r.stdout)
    }
    const out = join(dir, 'network.json')
    const net = (...files: string[]): Run => sealmix('network', '--signer-key', key, '--out', out, ...files)
    writeFileSync(join(dir, 'bad.json'), '{"id":1}')
    writeFileSync(join(dir, 'empty.json'), '')
    const bad = net(...d.slice(0, 4), join(dir, 'bad.json'))
    assert.equal(bad.status, 65)
    assert.match(
      bad.stderr,
      /nothing written: the network file would be refused by every relay: DIR_MALFORMED \(.*\) in .*bad\.json/
    )
    const gap = net(...d.slice(0, 4))
    assert.equal(gap.status, 65)
    assert.match(gap.stderr, /no relay in layer 3/)
    const empty = net(...d, join(dir, 'empty.json'))
    assert.equal(empty.status, 65)
    assert.match(empty.stderr, /empty\.json: not a JSON descriptor/)
    assert.equal(existsSync(out), false)
    const good = net(...d)
    assert.equal(good.status, 0, good.stderr)
    assert.match(good.stdout, /signed 5 relays/)
  })

  it('durations need a unit: a bare number is refused with the rule, before anything is written', function () {
    const dir = join(root, 'authority')
    const out = join(root, 'authority.yaml')
    const init = (...more: string[]): Run =>
      sealmix(
        'init',
        '--role',
        'authority',
        '--data-dir',
        dir,
        '--network-name',
        'test',
        '--genesis-ms',
        '0',
        '--out',
        out,
        ...more
      )
    usageError(
      init('--epoch', '5'),
      '--epoch must be a duration with a unit such as 5s, 250ms, 1m or 1h (got 5)',
      'init'
    )
    usageError(
      init('--epoch', '5s', '--grace', '300000'),
      '--grace must be a duration with a unit such as 5s, 250ms, 1m or 1h (got 300000)',
      'init'
    )
    usageError(
      init('--epoch', '5 s'),
      '--epoch must be a duration with a unit such as 5s, 250ms, 1m or 1h (got 5 s)',
      'init'
    )
    assert.equal(existsSync(dir) || existsSync(out), false, 'a refused init writes nothing')
    usageError(
      sealmix('listen', '--profile', 'p.json', '--every', '2000'),
      '--every must be a duration with a unit such as 5s, 250ms, 1m or 1h (got 2000)',
      'listen'
    )
    usageError(
      sealmix('listen', '--profile', 'p.json', '--every=50ms'),
      '--every must be at least 100ms (got 50ms)',
      'listen'
    )
    usageError(
      sealmix('send', '--profile', 'p.json', '--to', 'c.json', '--message', 'hi', '--timeout', '120'),
      '--timeout must be a duration with a unit such as 5s, 250ms, 1m or 1h (got 120)',
      'send'
    )
    usageError(
      sealmix('devnet', '--epoch', '60000'),
      '--epoch must be a duration with a unit such as 5s, 250ms, 1m or 1h (got 60000)',
      'devnet'
    )
    const r = init('--epoch', '1.5m', '--grace=250ms')
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual((parseYaml(readFileSync(out, 'utf8')) as { epoch: unknown }).epoch, {
      genesisMs: 0,
      epochMs: 90_000,
      graceMs: 250
    })
  })

  it('sealmix version and --version print the package version (and the commit in a checkout), from the bundle and the sources', function () {
    const { version } = JSON.parse(readFileSync(join(PROJECT, 'package.json'), 'utf8')) as { version: string }
    const line = sealmix('version')
    assert.equal(line.status, 0, line.stderr)
    assert.match(line.stdout, new RegExp(`^sealmix ${version.replace(/\./g, '\\.')}( \\([0-9a-f]{4,}\\))?\n$`))
    assert.equal(sealmix('--version').stdout, line.stdout)
    // The sources find package.json as the bundle does: both sit one directory below the root.
    assert.equal(
      spawnSync(process.execPath, ['--import', 'tsx', 'cli/index.ts', 'version'], { cwd: PROJECT, encoding: 'utf8' })
        .stdout,
      line.stdout
    )
    const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: PROJECT, encoding: 'utf8' })
    if (existsSync(join(PROJECT, '.git')) && git.status === 0)
      assert.equal(line.stdout, `sealmix ${version} (${git.stdout.trim()})\n`)
  })

  it('the installed bin (cli/sealmix.mjs) runs the bundle with node alone, and says so when the bundle is missing (exit 70)', function () {
    const help = node('cli/sealmix.mjs', '--help')
    assert.equal(help.status, 0, help.stderr)
    assert.match(help.stdout, /^sealmix: a metadata-hiding mixnet relay\n\nusage: sealmix <command>/)
    usageError(node('cli/sealmix.mjs', 'run', '--confg', 'x'), "unknown option '--confg' for 'run'", 'run')
    // A package without dist/: the bin alone, one directory below an empty root.
    const bare = join(root, 'unbuilt')
    mkdirSync(join(bare, 'cli'), { recursive: true })
    copyFileSync(join(PROJECT, 'cli', 'sealmix.mjs'), join(bare, 'cli', 'sealmix.mjs'))
    const missing = spawnSync(process.execPath, [join(bare, 'cli', 'sealmix.mjs'), '--help'], {
      encoding: 'utf8',
      timeout: 60_000
    })
    assert.equal(missing.status, 70)
    assert.equal(missing.stderr, 'sealmix: dist/sealmix.mjs is missing; run npm run build\n')
  })

  it('inspect prints counts, bytes, destinations and oldest age, and no id; a data directory in use exits 75', async function () {
    const c = await loadCrypto()
    const dir = join(root, 'relay')
    ensureKeys(c, dir)
    const cfgFile = join(root, 'relay.json')
    const raw = {
      role: 'gateway',
      dataDir: dir,
      network: { file: join(root, 'none.json'), signers: ['00'.repeat(32)] }
    }
    writeFileSync(cfgFile, JSON.stringify(raw))
    const db = await openDatabase(join(dir, 'db'))
    const spool = new QueueStore(db, 'spool', { quota: 100, ttlMs: 3600_000 * 48 })
    const mailbox = new QueueStore(db, 'mailbox', { quota: 100, ttlMs: 3600_000 * 48 })
    const destA = Buffer.alloc(32, 0xa1)
    const destB = Buffer.alloc(32, 0xb2)
    const box = Buffer.alloc(32, 0xc3)
    const now = Date.now()
    const puts = [
      spool.put(destA, Buffer.alloc(100), now - 3 * 3600_000),
      spool.put(destA, Buffer.alloc(100), now),
      spool.put(destB, Buffer.alloc(50), now),
      mailbox.put(box, Buffer.alloc(10), now)
    ]
    await commit(
      db,
      puts.map(p => p.op)
    )
    const locked = sealmix('inspect', '--config', cfgFile)
    assert.equal(locked.status, 75)
    assert.match(locked.stderr, /RELAY_STORE_LOCKED/)
    await db.close()
    const r = sealmix('inspect', '--config', cfgFile, '--json')
    assert.equal(r.status, 0, r.stderr)
    const got = JSON.parse(r.stdout) as {
      spool: { packets: number; bytes: number; destinations: number; oldestAgeSeconds: number }
      mailbox: { packets: number; destinations: number }
    }
    assert.deepEqual([got.spool.packets, got.spool.bytes, got.spool.destinations], [3, 250, 2])
    assert.ok(
      got.spool.oldestAgeSeconds >= 2 * 3600,
      `the oldest spooled record is hours old (got ${got.spool.oldestAgeSeconds} s)`
    )
    assert.deepEqual([got.mailbox.packets, got.mailbox.destinations], [1, 1])
    const text = sealmix('inspect', '--config', cfgFile).stdout
    for (const id of [destA, destB, box])
      assert.equal(text.includes(id.toString('hex')) || r.stdout.includes(id.toString('hex')), false)
    assert.match(text, /^spool {4}3 packets, 250 bytes, 2 ingresses, oldest \d+ s$/m)
  })

  it("init --role ingress writes keys, a config that validates and the homeserver's registration; a bad ingress config names key, rule and value", function () {
    const cfg = join(root, 'ingress.yaml')
    const reg = join(root, 'registration.yaml')
    const r = sealmix(
      'init',
      '--role',
      'ingress',
      '--data-dir',
      join(root, 'ingress'),
      '--server-name',
      'example.org',
      '--homeserver',
      'http://127.0.0.1:8008',
      '--network',
      join(root, 'network.json'),
      '--signer',
      'ab'.repeat(32),
      '--out',
      cfg,
      '--registration',
      reg,
      '--gateway',
      'cd'.repeat(32)
    )
    assert.equal(r.status, 0, r.stderr)
    const printed = JSON.parse(r.stdout) as {
      ingress: { id: string; serverName: string; boxKey: string; gateways: string[] }
      serverRootKey: string
    }
    assert.equal(printed.ingress.serverName, 'example.org')
    assert.deepEqual(printed.ingress.gateways, ['cd'.repeat(32)])
    assert.match(printed.serverRootKey, /^[0-9a-f]{64}$/)
    const config = parseYaml(readFileSync(cfg, 'utf8')) as { homeserver: { asToken: string; hsToken: string } }
    const registration = parseYaml(readFileSync(reg, 'utf8')) as {
      as_token: string
      hs_token: string
      sender_localpart: string
      namespaces: { users: Array<{ exclusive: boolean; regex: string }> }
    }
    assert.equal(registration.as_token, config.homeserver.asToken)
    assert.equal(registration.hs_token, config.homeserver.hsToken)
    assert.notEqual(registration.as_token, registration.hs_token)
    assert.equal(registration.sender_localpart, 'sealmix')
    assert.deepEqual(registration.namespaces.users, [{ exclusive: true, regex: '@sealmix:example\\.org' }])
    assert.ok(new RegExp(`^${registration.namespaces.users[0]!.regex}$`).test('@sealmix:example.org'))
    // validate-config checks that the static network file can be read (its contents: at start).
    if (!existsSync(join(root, 'network.json'))) writeFileSync(join(root, 'network.json'), '{}')
    assert.equal(sealmix('validate-config', '--role', 'ingress', '--config', cfg).stdout.trim(), 'ok')
    assert.equal(sealmix('validate-config', '--role=ingress', `--config=${cfg}`).stdout.trim(), 'ok')
    // Run again (to renew the binding): the keys, the binding and the homeserver's tokens stay as they were.
    const binding = readFileSync(join(root, 'ingress', 'keys', 'binding.json'), 'utf8')
    const again = sealmix(
      'init',
      '--role',
      'ingress',
      '--data-dir',
      join(root, 'ingress'),
      '--server-name',
      'example.org',
      '--homeserver',
      'http://127.0.0.1:8008',
      '--network',
      join(root, 'network.json'),
      '--signer',
      'ab'.repeat(32),
      '--out',
      cfg,
      '--registration',
      reg,
      '--gateway',
      'cd'.repeat(32)
    )
    assert.equal(again.status, 0, again.stderr)
    assert.equal((JSON.parse(again.stdout) as { serverRootKey: string }).serverRootKey, printed.serverRootKey)
    assert.equal(readFileSync(join(root, 'ingress', 'keys', 'binding.json'), 'utf8'), binding)
    assert.deepEqual(
      (parseYaml(readFileSync(reg, 'utf8')) as { as_token: string }).as_token,
      config.homeserver.asToken,
      'the homeserver keeps its registration'
    )
    const bad = join(root, 'ingress-bad.json')
    writeFileSync(
      bad,
      JSON.stringify({ ...(parseYaml(readFileSync(cfg, 'utf8')) as object), limits: { perDestinationPerMinute: 0 } })
    )
    const b = sealmix('validate-config', '--role', 'ingress', '--config', bad)
    assert.equal(b.status, 78)
    assert.equal(
      b.stderr.trim(),
      'sealmix: INGRESS_CONFIG_INVALID: limits.perDestinationPerMinute must be >= 1 (got 0)'
    )
    const secret = join(root, 'ingress-secret.json')
    writeFileSync(
      secret,
      JSON.stringify({
        ...(parseYaml(readFileSync(cfg, 'utf8')) as object),
        homeserver: { url: 'http://x', asToken: 'short', hsToken: config.homeserver.hsToken }
      })
    )
    const s = sealmix('validate-config', '--role', 'ingress', '--config', secret)
    assert.equal(s.status, 78)
    assert.equal(
      s.stderr.trim(),
      'sealmix: INGRESS_CONFIG_INVALID: homeserver.asToken must be at least 16 characters (got <redacted>)'
    )
  })
})

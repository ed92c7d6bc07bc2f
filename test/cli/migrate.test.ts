/**
 * The data directory's format (daemon/io/data-format.ts) as an operator meets it, with the CLI
 * bundle: init records it; a relay refuses an older directory (a format-1 one: data, no FORMAT
 * file) naming `sealmix migrate`, and a newer one; `sealmix migrate` upgrades in place, a second
 * run does nothing, a running relay makes it exit 75, and a directory not laid out as its format
 * says is left as it is. The registry of steps leads from format 1 to the current one.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DATA_FORMAT, MIGRATIONS } from '../../daemon/index.ts'
import { runRelay, sealmix, staticNetwork, waitForStatus } from '../helpers/cli-relay.ts'

const format = (dir: string): string => readFileSync(join(dir, 'FORMAT'), 'utf8')

describe('sealmix migrate and the data directory format', function () {
  this.timeout(180_000)
  const root = mkdtempSync(join(tmpdir(), 'sealmix-migrate-'))
  after(function () {
    rmSync(root, { recursive: true, force: true })
  })

  it('has one step from each format to the next, from 1 to the current', function () {
    assert.deepEqual(
      MIGRATIONS.map(m => [m.from, m.to]),
      Array.from({ length: DATA_FORMAT - 1 }, (_, i) => [i + 1, i + 2])
    )
  })

  it('refuses an older and a newer data directory at start; migrate upgrades an older one once, and the relay runs', async function () {
    const net = await staticNetwork(root)
    assert.equal(format(net.dataDir), `sealmix-data ${DATA_FORMAT}\n`, 'init records the format')
    // A relay that has run: a database and keys/store.state. Without FORMAT that is what sealmix before formats left.
    const first = runRelay(net.config)
    try {
      await waitForStatus(first, net.metricsPort, '/readyz', 200)
      const busy = sealmix(['migrate', '--config', net.config])
      assert.equal(busy.status, 75, busy.stderr)
      assert.match(busy.stderr, /RELAY_STORE_LOCKED/)
    } finally {
      assert.equal(await first.stop(), 0, first.output())
    }
    unlinkSync(join(net.dataDir, 'FORMAT'))

    const old = runRelay(net.config)
    assert.equal(await old.exited, 78, old.output())
    assert.match(old.output(), /DATA_FORMAT_OLDER: .* is in format 1 .*'sealmix migrate --config FILE'/)
    assert.equal(sealmix(['validate-config', '--config', net.config]).status, 0, 'the config itself is fine')
    const inspect = sealmix(['inspect', '--config', net.config])
    assert.equal(inspect.status, 78, inspect.stderr)
    assert.match(inspect.stderr, /DATA_FORMAT_OLDER/)

    // Not the layout of format 1 (a key gone): refused, and nothing is recorded.
    const mailbox = join(net.dataDir, 'keys', 'mailbox.key')
    const mailboxKey = readFileSync(mailbox)
    unlinkSync(mailbox)
    const odd = sealmix(['migrate', '--config', net.config])
    assert.equal(odd.status, 78, odd.stderr)
    assert.match(odd.stderr, /DATA_LAYOUT_UNKNOWN: .*keys\/mailbox\.key is missing/)
    assert.throws(() => format(net.dataDir), /ENOENT/)
    writeFileSync(mailbox, mailboxKey, { mode: 0o600 })

    const migrated = sealmix(['migrate', '--config', net.config])
    assert.equal(migrated.status, 0, migrated.stderr)
    assert.match(migrated.stdout, /^format 1 -> 2: records the format in FORMAT/m)
    assert.equal(format(net.dataDir), `sealmix-data ${DATA_FORMAT}\n`)
    const twice = sealmix(['migrate', '--config', net.config])
    assert.equal(twice.status, 0, twice.stderr)
    assert.match(twice.stdout, /in format 2 already: nothing to do/)
    assert.equal(format(net.dataDir), `sealmix-data ${DATA_FORMAT}\n`)

    const upgraded = runRelay(net.config)
    try {
      await waitForStatus(upgraded, net.metricsPort, '/readyz', 200)
    } finally {
      assert.equal(await upgraded.stop(), 0, upgraded.output())
    }

    writeFileSync(join(net.dataDir, 'FORMAT'), `sealmix-data ${DATA_FORMAT + 1}\n`)
    const newer = runRelay(net.config)
    assert.equal(await newer.exited, 78, newer.output())
    assert.match(newer.output(), /DATA_FORMAT_NEWER: .*newer than this sealmix/)
    const down = sealmix(['migrate', '--config', net.config])
    assert.equal(down.status, 78, down.stderr)
    assert.equal(format(net.dataDir), `sealmix-data ${DATA_FORMAT + 1}\n`, 'never migrated down')
  })

  it('init refuses to add keys to a data directory of an older format', function () {
    const dir = join(root, 'old')
    mkdirSync(join(dir, 'keys'), { recursive: true })
    writeFileSync(join(dir, 'FORMAT'), 'sealmix-data 1\n')
    const r = sealmix([
      'init',
      '--role',
      'mix',
      '--data-dir',
      dir,
      '--listen',
      '127.0.0.1:9000',
      '--authority',
      `http://127.0.0.1:8700=${'ab'.repeat(32)}`,
      '--layer',
      '1',
      '--out',
      join(root, 'old.yaml')
    ])
    assert.equal(r.status, 78, r.stderr)
    assert.match(r.stderr, /DATA_FORMAT_OLDER: .*sealmix migrate --config FILE/)
    assert.equal(readFileSync(join(dir, 'FORMAT'), 'utf8'), 'sealmix-data 1\n')
    assert.deepEqual(readdirSync(join(dir, 'keys')), [], 'no key made')
  })
})

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, parseConfig, RelayError } from '../../../daemon/index.ts'

const SIGNER = 'ab'.repeat(32)
const base = (): Record<string, unknown> => ({
  role: 'mix',
  dataDir: './data',
  network: { file: 'net.json', signers: [SIGNER] }
})

function refused(raw: unknown, message: string): void {
  assert.throws(
    () => parseConfig(raw, '/etc/sealmix'),
    (e: unknown) => {
      assert.ok(e instanceof RelayError)
      assert.equal(e.code, 'RELAY_CONFIG_INVALID')
      assert.equal(e.message, `RELAY_CONFIG_INVALID: ${message}`)
      return true
    }
  )
}

describe('config', function () {
  it('fills defaults, resolves paths against the config file, and freezes the result', function () {
    const c = parseConfig(base(), '/etc/sealmix')
    assert.equal(c.dataDir, '/etc/sealmix/data')
    assert.equal(c.network?.file, '/etc/sealmix/net.json')
    assert.equal(c.metrics.host, '127.0.0.1')
    assert.equal(c.metrics.port, 9464)
    assert.equal(c.limits.workers, 2)
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.limits))
  })

  it('refuses unknown keys, at the top and nested, naming the key but never its value', function () {
    refused({ ...base(), colour: 'blue' }, 'colour is not a known key (got a string, not shown)')
    refused(
      { ...base(), limits: { maxConections: 5 } },
      'limits.maxConections is not a known key (got a number, not shown)'
    )
  })

  it('names the key, the rule and the value for each kind of error', function () {
    refused({ ...base(), role: 'exit' }, 'role must be one of "gateway", "mix" (got "exit")')
    refused({ ...base(), limits: { maxConnections: -1 } }, 'limits.maxConnections must be >= 1 (got -1)')
    refused({ ...base(), limits: { workers: 'two' } }, 'limits.workers must be a number (got "two")')
    refused(
      { ...base(), network: { file: 'x', signers: ['nothex'] } },
      'network.signers.0 must be 64 lowercase hex characters (a 32-byte key) (got "nothex")'
    )
    refused({ ...base(), network: { file: 'x', signers: [] } }, 'network.signers must have at least 1 entries (got [])')
    refused(
      { role: 'mix', network: { file: 'x', signers: [SIGNER] } },
      'dataDir must be a string; set it in the file or with SEALMIX_DATA_DIR (got nothing)'
    )
    refused({ ...base(), replay: { falsePositiveRate: 0.5 } }, 'replay.falsePositiveRate must be < 0.01 (got 0.5)')
    refused(
      { ...base(), limits: { maxConnections: 10, reservedPeerSlots: 10 } },
      'limits.reservedPeerSlots must be less than limits.maxConnections (10) (got 10)'
    )
    refused('role: mix', 'the config must be a mapping (got a string)')
    refused({ ...base(), mailbox: { pushIntervalMs: 20 } }, 'mailbox.pushIntervalMs must be >= 50 (got 20)')
    refused({ ...base(), mailbox: { pushBatch: 17 } }, 'mailbox.pushBatch must be <= 16 (got 17)')
    refused(
      { ...base(), mailbox: { pushIntervalMs: 100.5 } },
      'mailbox.pushIntervalMs must be a whole number (got 100.5)'
    )
    refused(
      { ...base(), ingressRoots: { 'example.org': 'ab' } },
      'ingressRoots.example.org must be a list (got a string)'
    )
  })

  it('takes exactly one of network and directory, with a layer that fits the role', function () {
    const directory = {
      authorities: [{ url: 'http://a.example:8700', publicKey: SIGNER }],
      address: 'ws://m.example:9000',
      layer: 2
    }
    const c = parseConfig({ role: 'mix', dataDir: './data', directory }, '/etc/sealmix')
    assert.equal(c.directory?.maxSkewMs, 30_000)
    assert.equal(c.network, undefined)
    refused(
      { role: 'mix', dataDir: './data' },
      'network exactly one of network (a static file) and directory (authorities) must be set (got <neither>)'
    )
    refused(
      { ...base(), directory },
      'network exactly one of network (a static file) and directory (authorities) must be set (got <both>)'
    )
    refused(
      { role: 'gateway', dataDir: './data', directory },
      'directory.layer must be 0 for a gateway and 1..3 for a mix (role is gateway) (got 2)'
    )
    refused(
      { role: 'mix', dataDir: './data', directory: { ...directory, address: 'http://m.example' } },
      'directory.address must be a ws:// or wss:// URL (got "http://m.example")'
    )
    refused(
      { role: 'mix', dataDir: './data', directory: { ...directory, authorities: [] } },
      'directory.authorities must have at least 1 entries (got [])'
    )
  })

  it('never prints a secret value', function () {
    refused({ ...base(), metrics: { token: 'short' } }, 'metrics.token must be at least 16 characters (got <redacted>)')
  })

  it('reads YAML and JSON files and reports unreadable ones', function () {
    const dir = mkdtempSync(join(tmpdir(), 'sealmix-cfg-'))
    writeFileSync(
      join(dir, 'a.yaml'),
      'role: gateway\ndataDir: d\nnetwork:\n  file: n.json\n  signers: [' + SIGNER + ']\n'
    )
    assert.equal(loadConfig(join(dir, 'a.yaml')).role, 'gateway')
    writeFileSync(join(dir, 'b.json'), JSON.stringify(base()))
    assert.equal(loadConfig(join(dir, 'b.json')).role, 'mix')
    writeFileSync(join(dir, 'c.yaml'), 'role: [unclosed')
    assert.throws(() => loadConfig(join(dir, 'c.yaml')), { code: 'RELAY_CONFIG_UNREADABLE' })
    assert.throws(() => loadConfig(join(dir, 'missing.yaml')), {
      code: 'RELAY_CONFIG_UNREADABLE',
      message: `RELAY_CONFIG_UNREADABLE: cannot read config file ${join(dir, 'missing.yaml')}: ENOENT`
    })
    rmSync(dir, { recursive: true, force: true })
  })
})

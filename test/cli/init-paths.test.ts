/**
 * What `sealmix init` writes must work wherever the config is put: --out into a directory that
 * does not exist yet (made, 0700, before any key), and relative --data-dir and --network written
 * as absolute paths (a config's relative paths are read from the config's own directory, so
 * `--network network.json --out /etc/sealmix/relay.yaml` used to look for /etc/sealmix/network.json).
 * validate-config then says when the network file cannot be read, naming it; the control is the
 * same config with the file in place.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { SEALMIX } from '../helpers/bundle.ts'

describe('cli: init writes a config that works from anywhere', function () {
  this.timeout(60_000)
  let dir: string
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sealmix-init-paths-'))
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  const sealmix = (...args: string[]) =>
    spawnSync(process.execPath, [...SEALMIX, ...args], { cwd: dir, encoding: 'utf8' })

  it('makes the --out directory and writes absolute paths; validate-config names an unreadable network file', function () {
    const signer = sealmix('signer-keygen', '--out', 'keys/signer.key')
    assert.equal(signer.status, 0, signer.stderr)
    const signerHex = signer.stdout.trim()
    // A whole network (every path needs a mix of each layer); the gateway is the relay configured below.
    const layout = [
      ['data', 'gateway', '0'],
      ['mix1', 'mix', '1'],
      ['mix2', 'mix', '2'],
      ['mix3', 'mix', '3']
    ]
    const relays = layout.map(([d, role, layer], i) => {
      const k = sealmix(
        'keygen',
        '--data-dir',
        d!,
        '--role',
        role!,
        '--layer',
        layer!,
        '--address',
        `ws://127.0.0.1:${9000 + i}`
      )
      assert.equal(k.status, 0, k.stderr)
      writeFileSync(join(dir, `${d}.json`), k.stdout)
      return `${d}.json`
    })
    const net = sealmix('network', '--signer-key', 'keys/signer.key', '--out', 'network.json', ...relays)
    assert.equal(net.status, 0, net.stderr)
    const out = join('etc', 'sealmix', 'relay.yaml')
    const init = sealmix(
      'init',
      '--role',
      'gateway',
      '--data-dir',
      'data',
      '--network',
      'network.json',
      '--signer',
      signerHex,
      '--out',
      out
    )
    assert.equal(init.status, 0, init.stderr)
    assert.equal(statSync(join(dir, 'etc', 'sealmix')).mode & 0o777, 0o700, 'the new directory is 0700')
    const written = parseYaml(readFileSync(join(dir, out), 'utf8')) as { dataDir: string; network: { file: string } }
    assert.equal(written.dataDir, join(dir, 'data'))
    assert.equal(written.network.file, join(dir, 'network.json'))

    const ingressOut = join('etc', 'ingress', 'ingress.yaml')
    const ingress = sealmix(
      'init',
      '--role',
      'ingress',
      '--data-dir',
      'ingress',
      '--server-name',
      'example.org',
      '--homeserver',
      'http://127.0.0.1:8008',
      '--network',
      'network.json',
      '--signer',
      signerHex,
      '--out',
      ingressOut,
      '--registration',
      join('matrix', 'new', 'registration.yaml'),
      '--gateway',
      'cd'.repeat(32)
    )
    assert.equal(ingress.status, 0, ingress.stderr)
    const ingressConfig = parseYaml(readFileSync(join(dir, ingressOut), 'utf8')) as { network: { file: string } }
    assert.equal(ingressConfig.network.file, join(dir, 'network.json'))
    assert.equal(sealmix('validate-config', '--config', ingressOut).status, 0, 'control: the ingress config validates')

    const ok = sealmix('validate-config', '--config', out)
    assert.equal(ok.status, 0, `control: the file is there: ${ok.stderr}`)
    renameSync(join(dir, 'network.json'), join(dir, 'moved.json'))
    const missing = sealmix('validate-config', '--config', out)
    assert.equal(missing.status, 78)
    assert.equal(
      missing.stderr.trim(),
      `sealmix: RELAY_NETWORK_INVALID: the network document was refused: unreadable (ENOENT: ${join(dir, 'network.json')})`
    )
    const ingressMissing = sealmix('validate-config', '--config', ingressOut)
    assert.equal(ingressMissing.status, 78)
    assert.equal(
      ingressMissing.stderr.trim(),
      `sealmix: INGRESS_NETWORK_INVALID: cannot read the network file ${join(dir, 'network.json')}: ENOENT`
    )
  })
})

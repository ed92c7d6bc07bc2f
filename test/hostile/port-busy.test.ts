/**
 * An address a program cannot bind ends it with one line naming the address (config, not client
 * data) and the key to change, and the documented status for "cannot bind" (71, as every
 * program's): the relay's listener and operations port, the ingress's API and operations port,
 * the authority's port. Each test holds the port with a socket of its own, then runs the real
 * program (the bundle); the positive control for the wording is an address that is not this
 * host's (EADDRNOTAVAIL names the host key instead).
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { listenHttp, RelayError } from '../../daemon/index.ts'
import { type CryptoSuite, loadCrypto } from '../../mix/index.ts'
import { freePort } from '../../tools/index.ts'
import { initAuthority } from '../helpers/authority-config.ts'
import { SEALMIX } from '../helpers/bundle.ts'
import { createTestnet, httpGet, PROJECT, type Testnet, waitFor, writeIngressConfig } from '../helpers/testnet.ts'

/** The documented status for an address that cannot be bound (docs/OPERATIONS.md, "Exit statuses"). */
const CANNOT_BIND = 71

/** Run the program to its end (at most 60 s): status and the non-empty lines of its stderr. */
async function runToExit(args: string[]): Promise<{ status: number | null; stderr: string[] }> {
  const p = spawn(process.execPath, [...SEALMIX, ...args], { cwd: PROJECT, stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  p.stderr.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const t = setTimeout(() => p.kill('SIGKILL'), 60_000)
  const status = await new Promise<number | null>(resolve => p.once('exit', code => resolve(code)))
  clearTimeout(t)
  return { status, stderr: err.split('\n').filter(l => l.trim() !== '') }
}

/** Hold 127.0.0.1:port, as another program would. */
async function hold(port: number): Promise<Server> {
  const s = createServer()
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject)
    s.listen(port, '127.0.0.1', () => resolve())
  })
  return s
}

describe('hostile: a busy port', function () {
  this.timeout(120_000)
  let c: CryptoSuite
  let net: Testnet
  let dir: string
  const held: Server[] = []
  const busy = async (port: number): Promise<void> => {
    held.push(await hold(port))
  }

  before(async function () {
    c = await loadCrypto('sodium-native')
    net = await createTestnet(c)
    dir = mkdtempSync(join(tmpdir(), 'sealmix-hostile-port-'))
  })
  afterEach(async function () {
    for (const s of held.splice(0)) await new Promise(resolve => s.close(resolve))
  })
  after(async function () {
    await net?.stop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('names the address and the key: in use (port), not this host (host)', async function () {
    const port = await freePort()
    await busy(port)
    const inUse = await listenHttp({ host: '127.0.0.1', port, section: 'metrics' }, () => {}).catch((e: unknown) => e)
    assert.ok(inUse instanceof RelayError && inUse.code === 'RELAY_LISTEN_FAILED')
    assert.equal(
      inUse.message,
      `RELAY_LISTEN_FAILED: cannot bind metrics 127.0.0.1:${port}: address in use (metrics.port)`
    )
    // 192.0.2.1 (TEST-NET-1) is no host's own address.
    const foreign = await listenHttp({ host: '192.0.2.1', port: 9, section: 'api' }, () => {}).catch((e: unknown) => e)
    assert.equal(
      (foreign as Error).message,
      'RELAY_LISTEN_FAILED: cannot bind api 192.0.2.1:9: address not available on this host (api.host)'
    )
  })

  it('a relay whose listen port or metrics port is busy exits 71 with one line naming it', async function () {
    const node = net.byName('mix1')
    await busy(node.port)
    const listen = await runToExit(['run', '--config', node.configFile])
    assert.equal(listen.status, CANNOT_BIND, listen.stderr.join('\n'))
    assert.deepEqual(listen.stderr, [
      `sealmix: RELAY_LISTEN_FAILED: cannot bind listen 127.0.0.1:${node.port}: address in use (listen.port)`
    ])
    for (const s of held.splice(0)) await new Promise(resolve => s.close(resolve))

    await busy(node.metricsPort)
    const metrics = await runToExit(['run', '--config', node.configFile])
    assert.equal(metrics.status, CANNOT_BIND, metrics.stderr.join('\n'))
    assert.deepEqual(metrics.stderr, [
      `sealmix: RELAY_LISTEN_FAILED: cannot bind metrics 127.0.0.1:${node.metricsPort}: address in use (metrics.port)`
    ])
  })

  it('a relay that follows authorities refuses a busy listen port at start, before any document comes', async function () {
    const [port, metrics] = [await freePort(), await freePort()]
    const file = join(dir, 'follower.yaml')
    const init = spawnSync(
      process.execPath,
      [
        ...SEALMIX,
        'init',
        '--role',
        'mix',
        '--layer',
        '1',
        '--data-dir',
        join(dir, 'follower'),
        '--listen',
        `127.0.0.1:${port}`,
        '--metrics',
        `127.0.0.1:${metrics}`,
        // Nobody answers here: without the probe it would wait for a document and never bind.
        '--authority',
        `http://127.0.0.1:1=${'ab'.repeat(32)}`,
        '--out',
        file
      ],
      { cwd: PROJECT, encoding: 'utf8' }
    )
    assert.equal(init.status, 0, init.stderr)
    await busy(port)
    const r = await runToExit(['run', '--config', file])
    assert.equal(r.status, CANNOT_BIND, r.stderr.join('\n'))
    assert.deepEqual(r.stderr, [
      `sealmix: RELAY_LISTEN_FAILED: cannot bind listen 127.0.0.1:${port}: address in use (listen.port)`
    ])

    // With the port free, it runs, waiting for the authorities, and /readyz says so.
    for (const s of held.splice(0)) await new Promise(resolve => s.close(resolve))
    const p = spawn(process.execPath, [...SEALMIX, 'run', '--config', file], { cwd: PROJECT, stdio: 'ignore' })
    try {
      let body = ''
      await waitFor(
        async () => {
          body = (await httpGet(metrics, '/readyz').catch(() => ({ body: '' }))).body
          return body.includes('waiting for the directory authorities')
        },
        30_000,
        '/readyz to say what the relay waits for'
      )
      assert.match(body, /^not ready: waiting for the directory authorities: no majority of them answers/)
    } finally {
      p.kill('SIGKILL')
    }
  })

  it('an ingress whose API or metrics port is busy exits 71 with one line naming it', async function () {
    const [api, metrics] = [await freePort(), await freePort()]
    const file = join(dir, 'ingress.json')
    writeIngressConfig(net, file, { api: api, metrics: metrics })
    await busy(api)
    const a = await runToExit(['ingress', '--config', file])
    assert.equal(a.status, CANNOT_BIND, a.stderr.join('\n'))
    assert.deepEqual(a.stderr, [
      `sealmix: INGRESS_LISTEN_FAILED: cannot bind api 127.0.0.1:${api}: address in use (api.port)`
    ])
    for (const s of held.splice(0)) await new Promise(resolve => s.close(resolve))

    await busy(metrics)
    const m = await runToExit(['ingress', '--config', file])
    assert.equal(m.status, CANNOT_BIND, m.stderr.join('\n'))
    assert.deepEqual(m.stderr, [
      `sealmix: INGRESS_LISTEN_FAILED: cannot bind metrics 127.0.0.1:${metrics}: address in use (metrics.port)`
    ])
  })

  it('an authority whose port or metrics port is busy exits 71 with one line naming it', async function () {
    const [port, metrics] = [await freePort(), await freePort()]
    const file = join(dir, 'authority.yaml')
    initAuthority({ dir, port: port, network: 'busy', out: file })
    await busy(port)
    const a = await runToExit(['authority', '--config', file])
    assert.equal(a.status, CANNOT_BIND, a.stderr.join('\n'))
    assert.deepEqual(a.stderr, [
      `sealmix: RELAY_LISTEN_FAILED: cannot bind listen 127.0.0.1:${port}: address in use (listen.port)`
    ])
    for (const s of held.splice(0)) await new Promise(resolve => s.close(resolve))

    writeFileSync(file, `${readFileSync(file, 'utf8')}\nmetrics:\n  port: ${metrics}\n`)
    await busy(metrics)
    const m = await runToExit(['authority', '--config', file])
    assert.equal(m.status, CANNOT_BIND, m.stderr.join('\n'))
    assert.deepEqual(m.stderr, [
      `sealmix: RELAY_LISTEN_FAILED: cannot bind metrics 127.0.0.1:${metrics}: address in use (metrics.port)`
    ])
  })
})

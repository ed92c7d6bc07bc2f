/**
 * A request whose body comes one byte every few seconds must not hold an ingress connection open
 * for minutes (Node's own request deadline is 300 s). Every HTTP listener of the ingress cuts such
 * a request off: the API at its body deadline (10 s), the operations listener at its
 * request deadline (15 s). The real `sealmix ingress` process; each connection sends its body a
 * byte a second and the test waits for the server to close it, bounded.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadCrypto } from '../../mix/index.ts'
import { freePort } from '../../tools/index.ts'
import { initAuthority } from '../helpers/authority-config.ts'
import { SEALMIX } from '../helpers/bundle.ts'
import { createTestnet, httpGet, PROJECT, type Testnet, waitFor, writeIngressConfig } from '../helpers/testnet.ts'

/** Headers, then a 1000-byte body a byte a second. Resolves with how long the server kept the connection (null: still open at `boundMs`). */
async function slowBody(port: number, head: string, boundMs: number): Promise<number | null> {
  const t0 = Date.now()
  const s = connect(port, '127.0.0.1')
  s.on('error', () => {})
  s.on('data', () => {})
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve)
    s.once('error', reject)
  })
  s.write(`${head}Content-Length: 1000\r\nContent-Type: application/json\r\n\r\n{`)
  const drip = setInterval(() => {
    if (!s.destroyed) s.write(' ')
  }, 1000)
  try {
    return await new Promise<number | null>(resolve => {
      const bound = setTimeout(() => resolve(null), boundMs)
      s.once('close', () => {
        clearTimeout(bound)
        resolve(Date.now() - t0)
      })
    })
  } finally {
    clearInterval(drip)
    s.destroy()
  }
}

describe('hostile: slow request bodies', function () {
  this.timeout(120_000)
  let net: Testnet
  let dir: string
  let proc: ChildProcess | null = null

  before(async function () {
    net = await createTestnet(await loadCrypto('sodium-native'))
    dir = mkdtempSync(join(tmpdir(), 'sealmix-hostile-http-'))
  })
  after(async function () {
    if (proc !== null && proc.exitCode === null)
      await new Promise(resolve => {
        proc!.once('exit', resolve)
        proc!.kill('SIGKILL')
      })
    await net?.stop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('every listener of the ingress closes a connection whose body does not arrive in time', async function () {
    const [apiPort, metricsPort] = [await freePort(), await freePort()]
    const file = join(dir, 'ingress.json')
    writeIngressConfig(net, file, { api: apiPort, metrics: metricsPort })
    const out: string[] = []
    proc = spawn(process.execPath, [...SEALMIX, 'ingress', '--config', file], {
      cwd: PROJECT,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    proc.stdout!.on('data', (d: Buffer) => out.push(d.toString()))
    await waitFor(
      () => out.join('').includes('"event":"started"') || proc!.exitCode !== null,
      30_000,
      'the ingress starts'
    )
    assert.equal(proc.exitCode, null, out.join(''))

    const BOUND = 60_000
    const [api, capability, ops] = await Promise.all([
      slowBody(
        apiPort,
        'POST /_sealmix/v1/sender_cert HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-0123456789\r\n',
        BOUND
      ),
      slowBody(
        apiPort,
        'PUT /_sealmix/v1/capability HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-0123456789\r\n',
        BOUND
      ),
      slowBody(metricsPort, 'POST /metrics HTTP/1.1\r\nHost: x\r\n', BOUND)
    ])
    assert.ok(
      api !== null && api < 29_000,
      `the API cut the sender_cert body off at its 10 s deadline (open ${String(api)} ms)`
    )
    assert.ok(
      capability !== null && capability < 29_000,
      `the API cut the capability body off at its 10 s deadline (open ${String(capability)} ms)`
    )
    assert.ok(
      ops !== null && ops < 29_000,
      `the operations listener cut the request off at its 15 s deadline (open ${String(ops)} ms)`
    )
    assert.equal(proc.exitCode, null, 'the ingress still runs')
  })

  it("the relay's and the authority's listeners close a connection whose body does not arrive in time", async function () {
    const node = net.byName('mix1')
    const relay = spawn(process.execPath, [...SEALMIX, 'run', '--config', node.configFile], {
      cwd: PROJECT,
      stdio: 'ignore'
    })
    const authorityFile = join(dir, 'authority.yaml')
    const [apiPort, metricsPort] = [await freePort(), await freePort()]
    initAuthority({ dir, port: apiPort, network: 'slow', out: authorityFile })
    writeFileSync(authorityFile, `${readFileSync(authorityFile, 'utf8')}metrics:\n  port: ${metricsPort}\n`)
    const authority = spawn(process.execPath, [...SEALMIX, 'authority', '--config', authorityFile], {
      cwd: PROJECT,
      stdio: 'ignore'
    })
    try {
      const up = async (port: number, path: string): Promise<boolean> =>
        (await httpGet(port, path).catch(() => ({ status: 0 }))).status !== 0
      await waitFor(
        async () =>
          (await up(node.metricsPort, '/healthz')) &&
          (await up(apiPort, '/v1/schedule')) &&
          (await up(metricsPort, '/healthz')),
        30_000,
        'the relay and the authority listen'
      )
      const BOUND = 60_000
      const [relayOps, api, authorityOps] = await Promise.all([
        slowBody(node.metricsPort, 'POST /metrics HTTP/1.1\r\nHost: x\r\n', BOUND),
        slowBody(apiPort, 'POST /v1/descriptor HTTP/1.1\r\nHost: x\r\n', BOUND),
        slowBody(metricsPort, 'POST /metrics HTTP/1.1\r\nHost: x\r\n', BOUND)
      ])
      // Deadlines of 10-15 s; the bound only separates "cut off" from Node's defaults (30-300 s).
      assert.ok(
        relayOps !== null && relayOps < 29_000,
        `the relay's operations listener cut the request off at its 15 s deadline (open ${String(relayOps)} ms)`
      )
      assert.ok(
        api !== null && api < 29_000,
        `the authority's API cut the request off at its 10 s deadline (open ${String(api)} ms)`
      )
      assert.ok(
        authorityOps !== null && authorityOps < 29_000,
        `the authority's operations listener cut the request off at its 15 s deadline (open ${String(authorityOps)} ms)`
      )
    } finally {
      relay.kill('SIGKILL')
      authority.kill('SIGKILL')
    }
  })
})

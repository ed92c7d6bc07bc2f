/**
 * What operators see: metric labels from a closed list, the same series with 10
 * and with 200 clients, a scrape promtool accepts, no address, id or key in any label value or log
 * line; the data-directory lock; graceful and forced shutdown by signal.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { getHeapSpaceStatistics } from 'node:v8'
import { type CryptoSuite, FRAME, loadCrypto, type Rng, Sphinx, systemRng } from '../../mix/index.ts'
import { SEALMIX } from '../helpers/bundle.ts'
import {
  clientConn,
  createTestnet,
  G,
  httpGet,
  ingressConn,
  type Node,
  PROJECT,
  randomBytes,
  sample,
  type Testnet,
  waitFor
} from '../helpers/testnet.ts'
import { needTool } from '../helpers/tools.ts'

/** A process's state letter from /proc (R running, S sleeping, T stopped, ...), after its name's closing parenthesis. */
function processState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
}

/** The `space` label of prom-client's heap metrics: V8's space names without `_space`. */
const V8_SPACES = new Set(getHeapSpaceStatistics().map(x => x.space_name.replace(/_space$/, '')))
const LABEL_ALLOWLIST = new Set([
  'reason',
  'link',
  'kind',
  'role',
  'layer',
  'le',
  'version',
  'commit',
  'node',
  'major',
  'minor',
  'patch',
  'space'
])

function series(text: string): string[] {
  return text
    .split('\n')
    .filter(l => l !== '' && !l.startsWith('#'))
    .map(l => l.slice(0, l.lastIndexOf(' ')))
}

describe('operations', function () {
  this.timeout(120_000)
  let c: CryptoSuite
  let rng: Rng
  let net: Testnet
  let gwA: Node
  const canaries: string[] = []
  before(async function () {
    c = await loadCrypto('sodium-native')
    rng = systemRng(c)
    net = await createTestnet(c, { config: { metrics: { token: 'metrics-token-0123456789' } } })
    gwA = net.byName('gwA')
    writeFileSync(gwA.configFile, JSON.stringify({ ...gwA.raw, log: { level: 'trace' } }))
    for (const n of net.nodes) if (n !== gwA) await net.start(n)
    await net.spawn(gwA)
    // gwA's gauge counts its link to mix1 and mix3's link to it: wait for both.
    await waitFor(async () => sample(await scrape(), 'sealmix_connections', 'link="peer"') >= 2, 20_000, 'gwA links up')
    await waitFor(() => net.linksUp(['mix1', 'mix2', 'mix3', 'gwB']), 15_000, 'in-process links up')
    for (const n of net.nodes)
      canaries.push(
        n.keys.id,
        Buffer.from(n.keys.identity.publicKey).toString('hex'),
        n.keys.mix.publicKey.toString('hex'),
        n.keys.mix.secretKey.toString('hex')
      )
    canaries.push(net.ingress.id)
  })
  after(async function () {
    await net?.stop()
  })

  const scrape = async (): Promise<string> =>
    (await httpGet(gwA.metricsPort, '/metrics', { authorization: 'Bearer metrics-token-0123456789' })).body

  async function traffic(clients: number): Promise<void> {
    const sphinx = new Sphinx(c)
    const conns = []
    for (let i = 0; i < clients; i++) {
      // Each client from its own loopback address (127.77.x.y), as distinct users would be.
      const ip = `127.77.${i >> 8}.${(i & 255) + 1}`
      canaries.push(ip)
      const cl = await clientConn(gwA.port, { localAddress: ip })
      const mailbox = randomBytes(c, 32)
      canaries.push(mailbox.toString('hex'))
      cl.send(FRAME.PULL, mailbox)
      const pkt = net.packetToIngress(sphinx, randomBytes(c, G.userPayloadBytes), rng)
      canaries.push(pkt.subarray(0, 16).toString('hex'))
      cl.send(FRAME.PACKET, pkt)
      conns.push(cl)
    }
    await new Promise(resolve => setTimeout(resolve, 1500))
    for (const cl of conns) cl.close()
  }

  it('serves /metrics only with the bearer token, and /healthz and /readyz without', async function () {
    assert.equal((await httpGet(gwA.metricsPort, '/metrics')).status, 401)
    assert.equal(
      (await httpGet(gwA.metricsPort, '/metrics', { authorization: 'Bearer wrong-token-0123456789' })).status,
      401
    )
    assert.equal((await httpGet(gwA.metricsPort, '/healthz')).status, 200)
    assert.equal((await httpGet(gwA.metricsPort, '/readyz')).status, 200)
    assert.equal((await httpGet(gwA.metricsPort, '/other')).status, 404)
  })

  it('exports the same series with 10 and with 200 clients, with labels from a closed list and no metadata in values', async function () {
    const get = async (): Promise<string> =>
      (await httpGet(gwA.metricsPort, '/metrics', { authorization: 'Bearer metrics-token-0123456789' })).body
    await traffic(10)
    const at10 = await get()
    await traffic(200)
    const at200 = await get()
    assert.deepEqual(series(at200), series(at10), 'the series set does not grow with clients')
    assert.ok(series(at10).length > 50)
    for (const s of series(at200)) {
      for (const m of s.matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) {
        assert.ok(LABEL_ALLOWLIST.has(m[1]!), `label ${m[1]} is not in the allowlist (${s})`)
        const v = m[2]!
        // V8's heap spaces are a closed set of the runtime's (Node 24 has long names such as shared_trusted_large_object).
        if (m[1] === 'space') {
          assert.ok(V8_SPACES.has(v), `space ${v} is not one of V8's heap spaces`)
          continue
        }
        assert.ok(
          !/\b\d{1,3}(\.\d{1,3}){3}\b/.test(v) &&
            !/[0-9a-f]{16,}/i.test(v) &&
            !/[A-Za-z0-9+/_-]{20,}/.test(v) &&
            !v.includes(':'),
          `label value ${v} looks like metadata`
        )
      }
    }
    for (const k of canaries) assert.ok(!at200.includes(k), 'no key, id or packet bytes in the scrape')
    assert.ok(/sealmix_packets_received_total\{link="client"\} ([1-9]\d*)/.test(at200))
  })

  it('promtool check metrics accepts a scrape', async function () {
    const promtool = needTool(this, 'promtool', 'prometheus')
    const text = (await httpGet(gwA.metricsPort, '/metrics', { authorization: 'Bearer metrics-token-0123456789' })).body
    const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' })
    assert.equal(r.status, 0, `promtool: ${r.stdout}${r.stderr}`)
  })

  it('logs at trace level carry no address, id, key, mailbox or packet bytes', async function () {
    const ing = await ingressConn(c, net, net.byName('gwB'))
    ing.close()
    const log = gwA.output.join('')
    assert.ok(log.split('\n').filter(l => l.trim() !== '').length >= 1, 'the relay logged')
    for (const k of canaries) assert.ok(!log.includes(k), 'a canary leaked into the log')
    assert.ok(!/127\.0\.0\.1|::1|::ffff:/.test(log), 'no address in the log')
    for (const line of log.split('\n').filter(l => l.startsWith('{'))) JSON.parse(line)
  })

  it('a second process on the same data directory exits at once with a clear error (75)', function () {
    const r = spawnSync(process.execPath, [...SEALMIX, 'run', '--config', gwA.configFile], {
      cwd: PROJECT,
      encoding: 'utf8',
      timeout: 30_000
    })
    assert.equal(r.status, 75)
    assert.match(r.stderr, /RELAY_STORE_LOCKED: the data directory is in use by another process/)
  })

  it('SIGTERM stops gracefully (exit 0); a second signal exits at once (130)', async function () {
    await new Promise<void>(resolve => {
      gwA.proc!.once('exit', code => {
        assert.equal(code, 0)
        resolve()
      })
      gwA.proc!.kill('SIGTERM')
    })
    gwA.proc = null
    assert.ok(/"msg":"relay stopped"/.test(gwA.output.join('')))
    const p = spawn(process.execPath, [...SEALMIX, 'run', '--config', gwA.configFile], {
      cwd: PROJECT,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    p.stderr.on('data', (d: Buffer) => {
      out += d.toString()
    })
    await waitFor(
      async () => (await httpGet(gwA.metricsPort, '/readyz').catch(() => ({ status: 0 }))).status === 200,
      20_000,
      'restarted'
    )
    // Held by SIGSTOP, the process gets both signals before it runs again, so the second one comes
    // while the graceful stop the first started is still running (whatever the scheduler does).
    // SIGCONT discards a SIGSTOP not yet acted on, so the signals wait until the kernel says the
    // process is stopped (state T); sent sooner, the first could finish the stop before the second.
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(resolve =>
      p.once('exit', (code, signal) => resolve({ code, signal }))
    )
    p.kill('SIGSTOP')
    await waitFor(() => processState(p.pid!) === 'T', 10_000, 'the relay stopped by SIGSTOP')
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGCONT'] as const) p.kill(sig)
    const { code, signal } = await exit
    assert.deepEqual(
      { code, signal },
      { code: 130, signal: null },
      `exit ${String(code)} (signal ${String(signal)}): ${out.slice(-500)}`
    )
    assert.doesNotMatch(out, /"msg":"relay stopped"/, 'exited at once, without finishing the graceful stop')
  })

  it('validate-config prints the first error naming key, rule and value, and exits 78', function () {
    const bad = gwA.configFile.replace('.json', '-bad.json')
    writeFileSync(bad, JSON.stringify({ ...gwA.raw, limits: { workers: 0 } }))
    const r = spawnSync(process.execPath, [...SEALMIX, 'validate-config', '--config', bad], {
      cwd: PROJECT,
      encoding: 'utf8'
    })
    assert.equal(r.status, 78)
    assert.equal(r.stderr.trim(), 'sealmix: RELAY_CONFIG_INVALID: limits.workers must be >= 1 (got 0)')
    assert.equal(
      execFileSync(process.execPath, [...SEALMIX, 'validate-config', '--config', gwA.configFile], {
        cwd: PROJECT,
        encoding: 'utf8'
      }).trim(),
      'ok'
    )
  })
})

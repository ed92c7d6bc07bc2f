/**
 * The monitoring artifacts against running nodes: every metric name a dashboard panel or an alert
 * rule uses is exported by a relay, the ingress or a directory authority, and a real Prometheus server (Debian's
 * package) scrapes a loopback network (5 relays and an ingress), sees every target up, loads the
 * alert rules, and answers every dashboard query with data.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { Authority, NO_ADMISSION } from '../../daemon/index.ts'
import { type CryptoSuite, loadCrypto, NETWORK_GEOMETRY } from '../../mix/index.ts'
import { freePort } from '../../tools/index.ts'
import { type Chat, startChatNet } from '../helpers/chat.ts'
import { httpGet, PROJECT, type Testnet, waitFor } from '../helpers/testnet.ts'
import { needTool } from '../helpers/tools.ts'

interface Dashboard {
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>
}
const dashboard = JSON.parse(readFileSync(join(PROJECT, 'deploy/grafana/dashboards/sealmix.json'), 'utf8')) as Dashboard
const rules = parseYaml(readFileSync(join(PROJECT, 'deploy/prometheus/rules/sealmix.rules.yml'), 'utf8')) as {
  groups: Array<{ rules: Array<{ alert: string; expr: string }> }>
}

/** Metric names in a PromQL expression; histogram series map to their family. */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b(sealmix_[a-z0-9_]+)/g)].map(m => m[1]!.replace(/_(bucket|sum|count)$/, ''))
}

describe('monitoring against running nodes', function () {
  this.timeout(120_000)
  let c: CryptoSuite
  let net: Testnet
  let chat: Chat
  let prom: ChildProcess | null = null
  let dir = ''
  let promPort = 0

  before(async function () {
    c = await loadCrypto('sodium-native')
    ;({ net, chat } = await startChatNet(c, { clientRatePerSec: 20, loopRatePerSec: 5 }))
    const alice = chat.client(chat.alice)
    alice.start()
    const id = alice.send(chat.contact(chat.bob), 'for the dashboards')
    await new Promise<void>(resolve =>
      alice.on('delivered', (e: { messageId: string }) => {
        if (e.messageId === id) resolve()
      })
    )
    alice.close()
    dir = mkdtempSync(join(tmpdir(), 'sealmix-prom-'))
  })
  after(async function () {
    if (prom !== null && prom.exitCode === null) {
      const p = prom
      await new Promise(resolve => {
        p.once('exit', resolve)
        p.kill('SIGKILL')
      })
    }
    await chat?.stop()
    await net?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('every metric a panel or a rule uses is exported by a running relay, ingress or authority', async function () {
    const exported = new Set<string>()
    const auth = new Authority({
      crypto: c,
      signing: c.signSeedKeypair(Buffer.alloc(32, 3)),
      network: 'monitoring',
      schedule: { genesisMs: Date.now(), epochMs: 60_000 },
      graceMs: 5000,
      geometry: NETWORK_GEOMETRY,
      mixing: net.doc.mixing,
      ingresses: [],
      peers: [],
      host: '127.0.0.1',
      port: 0,
      admission: NO_ADMISSION
    })
    await auth.start()
    try {
      for (const line of (await auth.metrics.registry.metrics()).split('\n')) {
        const m = /^# TYPE (\S+) /.exec(line)
        if (m !== null) exported.add(m[1]!)
      }
    } finally {
      await auth.stop()
    }
    for (const port of [...net.nodes.map(n => n.metricsPort), chat.ingress!.metricsPort]) {
      for (const line of (await httpGet(port, '/metrics')).body.split('\n')) {
        const m = /^# TYPE (\S+) /.exec(line)
        if (m !== null) exported.add(m[1]!)
      }
    }
    const used = new Set([
      ...dashboard.panels.flatMap(p => p.targets.flatMap(t => metricNames(t.expr))),
      ...rules.groups.flatMap(g => g.rules.flatMap(r => metricNames(r.expr)))
    ])
    assert.ok(used.size >= 20, `the artifacts use ${used.size} metrics`)
    assert.deepEqual(
      [...used].filter(n => !exported.has(n)),
      []
    )
  })

  it('a real Prometheus scrapes every node, loads the rules, and every dashboard query returns data', async function () {
    const prometheus = needTool(this, 'prometheus', 'prometheus')
    promPort = await freePort()
    const config = parseYaml(readFileSync(join(PROJECT, 'deploy/prometheus/prometheus.yml'), 'utf8')) as {
      global: Record<string, string>
      rule_files: string[]
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>
    }
    // The shipped config, with this network's loopback targets and a fast scrape.
    config.global = { scrape_interval: '1s', evaluation_interval: '1s' }
    config.rule_files = [join(PROJECT, 'deploy/prometheus/rules/*.yml')]
    config.scrape_configs.find(s => s.job_name === 'sealmix-relay')!.static_configs = [
      { targets: net.nodes.map(n => `127.0.0.1:${n.metricsPort}`) }
    ]
    config.scrape_configs.find(s => s.job_name === 'sealmix-ingress')!.static_configs = [
      { targets: [`127.0.0.1:${chat.ingress!.metricsPort}`] }
    ]
    writeFileSync(join(dir, 'prometheus.yml'), toYaml(config))
    prom = spawn(
      prometheus,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`
      ],
      { stdio: 'ignore' }
    )
    const api = async (path: string): Promise<{ status: string; data: unknown }> =>
      JSON.parse((await httpGet(promPort, path)).body) as { status: string; data: unknown }
    await waitFor(
      async () => {
        const t = await api('/api/v1/targets').catch(() => null)
        const active = (t?.data as { activeTargets?: Array<{ health: string }> } | undefined)?.activeTargets ?? []
        return active.length === 6 && active.every(x => x.health === 'up')
      },
      30_000,
      'all 6 targets up in Prometheus'
    )
    const loaded = (await api('/api/v1/rules')).data as { groups: Array<{ rules: unknown[] }> }
    assert.equal(
      loaded.groups.flatMap(g => g.rules).length,
      rules.groups.flatMap(g => g.rules).length,
      'every alert rule is loaded'
    )
    // Rates need two scrapes of a window; give the queries a few seconds of history.
    const empty: string[] = []
    await waitFor(
      async () => {
        empty.length = 0
        for (const p of dashboard.panels) {
          for (const t of p.targets) {
            const r = await api(`/api/v1/query?query=${encodeURIComponent(t.expr)}`)
            const result = (r.data as { result?: unknown[] } | undefined)?.result ?? []
            if (r.status !== 'success' || result.length === 0) empty.push(`${p.title}: ${t.expr}`)
          }
        }
        return empty.length === 0
      },
      30_000,
      'every dashboard query to return data'
    ).catch(() => {})
    assert.deepEqual(empty, [])
  })
})

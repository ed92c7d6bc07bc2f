/**
 * The monitoring artifacts against running nodes: every metric name a dashboard panel or an alert
 * rule uses is exported by a relay, the ingress or a directory authority, and a real Prometheus server (Debian's
 * package) scrapes a loopback network (5 relays and an ingress), sees every target up, loads the
 * alert rules, and answers every dashboard query with data. The dashboard's variables are filled as
 * Grafana fills them (their own label_values queries, against this Prometheus): with All every query
 * returns data from more than one node, and naming one job, instance, role or layer returns only
 * the series of the nodes named.
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

interface Panel {
  title: string
  type: string
  targets?: Array<{ expr: string }>
  panels?: Panel[]
}
interface Dashboard {
  panels: Panel[]
  templating: { list: Array<{ name: string; type: string; query?: string }> }
}
const dashboard = JSON.parse(readFileSync(join(PROJECT, 'deploy/grafana/dashboards/sealmix.json'), 'utf8')) as Dashboard
/** Every query of every panel (rows only group panels). */
const queries = dashboard.panels
  .flatMap(p => (p.type === 'row' ? (p.panels ?? []) : [p]))
  .flatMap(p => (p.targets ?? []).map(t => ({ panel: p.title, expr: t.expr })))

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
      ...queries.flatMap(q => metricNames(q.expr)),
      ...rules.groups.flatMap(g => g.rules.flatMap(r => metricNames(r.expr)))
    ])
    assert.ok(used.size >= 20, `the artifacts use ${used.size} metrics`)
    const missing = [...used].filter(n => !exported.has(n))
    assert.deepEqual(missing, [])
  })

  it('a real Prometheus scrapes every node, loads the rules, and every dashboard query returns data', async function () {
    const prometheus = needTool(this, 'prometheus', 'prometheus')
    promPort = await freePort()
    const config = parseYaml(readFileSync(join(PROJECT, 'deploy/prometheus/prometheus.yml'), 'utf8')) as {
      global: Record<string, string>
      rule_files: string[]
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>
    }
    // The shipped config (its external labels too), with this network's loopback targets and a fast scrape.
    config.global = { ...config.global, scrape_interval: '1s', evaluation_interval: '1s' }
    config.rule_files = [join(PROJECT, 'deploy/prometheus/rules/*.yml')]
    // This network runs on a static network file: no authorities to scrape (their job is dropped).
    config.scrape_configs = config.scrape_configs.filter(s => s.job_name !== 'sealmix-authority')
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
    // Rates need two scrapes of a window; give the queries a few seconds of history. With every
    // variable at All, as Grafana fills them.
    const all = await variableValues({})
    const empty: string[] = []
    await waitFor(
      async () => {
        empty.length = 0
        for (const q of queries) {
          const r = await query(render(q.expr, all))
          if (r === null || r.length === 0) empty.push(`${q.panel}: ${q.expr}`)
        }
        return empty.length === 0
      },
      30_000,
      'every dashboard query to return data'
    ).catch(() => {})
    assert.deepEqual(empty, [])
  })

  /** The result of an instant query, or null when Prometheus refuses it. */
  async function query(expr: string): Promise<Array<{ metric: Record<string, string> }> | null> {
    const r = JSON.parse((await httpGet(promPort, `/api/v1/query?query=${encodeURIComponent(expr)}`)).body) as {
      status: string
      data?: { result?: Array<{ metric: Record<string, string> }> }
    }
    return r.status === 'success' ? (r.data?.result ?? []) : null
  }

  /**
   * The variables as Grafana fills them: each from its own label_values query with the variables
   * before it substituted. `chosen` names the values of some (a list of raw label values); the others
   * are All: the list of every value for job (the variable has no custom All value), `.*` for the rest.
   */
  const filled = new Map<string, Record<string, string>>()
  async function variableValues(chosen: Record<string, string[]>): Promise<Record<string, string>> {
    const key = JSON.stringify(chosen)
    const known = filled.get(key)
    if (known !== undefined) return known
    const out: Record<string, string> = { __rate_interval: '1m' }
    for (const v of dashboard.templating.list.filter(x => x.type === 'query')) {
      const m = /^label_values\((.+), (\w+)\)$/.exec(String(v.query))
      assert.ok(m !== null, `variable ${v.name}: ${v.query}`)
      const match = encodeURIComponent(render(m[1]!, out))
      const r = JSON.parse((await httpGet(promPort, `/api/v1/label/${m[2]}/values?match[]=${match}`)).body) as {
        data: string[]
      }
      const values = chosen[v.name] ?? (v.name === 'job' ? r.data : null)
      out[v.name] = values === null ? '.*' : regexOf(values)
      out[`${v.name}:found`] = r.data.join(',')
    }
    filled.set(key, out)
    return out
  }

  /** Values as Grafana writes a multi-value variable into a PromQL regex: escaped, `(a|b)` for several. */
  function regexOf(values: string[]): string {
    const escaped = values.map(v => v.replace(/[\\^$*+?.()|[\]{}]/g, '\\\\$&'))
    return escaped.length === 1 ? escaped[0]! : `(${escaped.join('|')})`
  }

  function render(expr: string, vars: Record<string, string>): string {
    return expr.replace(/\$(__rate_interval|job|instance|role|layer)\b/g, (_, n: string) => vars[n] ?? '')
  }

  /** Which kind of node a query reads: an ingress's own series, a relay's, or every node's. */
  function kindOf(expr: string): 'ingress' | 'relay' | 'node' {
    const names = metricNames(expr)
    if (names.length > 0 && names.every(n => n.startsWith('sealmix_ingress_'))) return 'ingress'
    return /unless on \(job, instance\)/.test(expr) ? 'node' : 'relay'
  }

  /** The instances of the series a query returns under `vars` (series without the label are left out). */
  async function instancesOf(expr: string, vars: Record<string, string>): Promise<{ n: number; instances: string[] }> {
    const r = await query(render(expr, vars))
    assert.ok(r !== null, `Prometheus refuses ${render(expr, vars)}`)
    return { n: r.length, instances: [...new Set(r.map(s => s.metric.instance).filter(i => i !== undefined))] }
  }

  it('the variables list the live jobs, instances and roles, and each filters every query to the nodes it names', async function () {
    if (prom === null) this.skip()
    const relayInfo = (await query('sealmix_relay_info')) ?? []
    const roleOf = new Map(relayInfo.map(s => [s.metric.instance!, s.metric.role!]))
    const layerOf = new Map(relayInfo.map(s => [s.metric.instance!, s.metric.layer ?? '']))
    const gateways = [...roleOf].filter(([, r]) => r === 'gateway').map(([i]) => i)
    const mixes = [...roleOf].filter(([, r]) => r === 'mix').map(([i]) => i)
    const ingress = `127.0.0.1:${chat.ingress!.metricsPort}`
    assert.equal(gateways.length, 2)
    assert.equal(mixes.length, 3)
    // A rate needs two scrapes of a node in its window; on a loaded machine a scrape can time out
    // (the timeout is the 1 s interval), so wait until every node has a rate, not just some node.
    await waitFor(
      async () =>
        new Set(((await query('rate(sealmix_process_cpu_seconds_total[1m])')) ?? []).map(s => s.metric.instance))
          .size ===
        roleOf.size + 1,
      60_000,
      'a rate for every node'
    )

    // What Grafana's variable drop-downs list.
    const all = await variableValues({})
    assert.deepEqual(all['job:found']!.split(',').sort(), ['sealmix-ingress', 'sealmix-relay'])
    assert.deepEqual(all['instance:found']!.split(',').sort(), [...roleOf.keys(), ingress].sort())
    assert.deepEqual(all['role:found']!.split(',').sort(), ['gateway', 'mix'])
    assert.deepEqual(all['layer:found']!.split(',').sort(), ['0', '1', '2', '3'])

    const checked = queries
    const problems: string[] = []
    const expectOnly = async (
      what: string,
      q: { panel: string; expr: string },
      vars: Record<string, string>,
      allowed: (instance: string) => boolean
    ): Promise<void> => {
      const { n, instances } = await instancesOf(q.expr, vars)
      if (n === 0) problems.push(`${what}: no data: ${q.panel}`)
      const wrong = instances.filter(i => !allowed(i))
      if (wrong.length > 0) problems.push(`${what}: ${q.panel} shows ${wrong.join(', ')}`)
    }
    for (const q of checked) {
      const kind = kindOf(q.expr)
      // Positive control: with All, a query shows more than one node (an ingress query: the one ingress).
      const { instances } = await instancesOf(q.expr, all)
      if (kind !== 'ingress' && instances.length > 0 && instances.length < 2)
        problems.push(`All: ${q.panel} shows only ${instances.join(', ')}`)
      // One instance: a gateway for a relay's or a node's series, the ingress for its own.
      const one = kind === 'ingress' ? ingress : gateways[0]!
      await expectOnly(`instance=${one}`, q, await variableValues({ instance: [one] }), i => i === one)
      // Two instances (a multi-value selection): both mixes' series, or the ingress's and a mix's.
      if (kind !== 'ingress')
        await expectOnly(
          'instance=two mixes',
          q,
          await variableValues({ instance: [mixes[0]!, mixes[1]!] }),
          i => i === mixes[0] || i === mixes[1]
        )
      // One job: the other job's nodes never show.
      const job = kind === 'ingress' ? 'sealmix-ingress' : 'sealmix-relay'
      await expectOnly(`job=${job}`, q, await variableValues({ job: [job] }), i =>
        job === 'sealmix-ingress' ? i === ingress : i !== ingress
      )
      // Role: relay series of that role only; every node's series hide the relays of the other role.
      if (kind !== 'ingress')
        for (const role of ['gateway', 'mix'])
          await expectOnly(`role=${role}`, q, await variableValues({ role: [role] }), i =>
            kind === 'relay' ? roleOf.get(i) === role : !roleOf.has(i) || roleOf.get(i) === role
          )
      if (kind !== 'ingress') {
        const layer = layerOf.get(mixes[0]!)!
        await expectOnly(`layer=${layer}`, q, await variableValues({ layer: [layer] }), i =>
          kind === 'relay' ? layerOf.get(i) === layer : !layerOf.has(i) || layerOf.get(i) === layer
        )
      }
    }
    // A filter that matches no node shows nothing (the negative control of the checks above).
    const none = await variableValues({ instance: ['127.0.0.1:1'] })
    for (const q of checked) {
      const { n } = await instancesOf(q.expr, none)
      if (n > 0) problems.push(`instance=127.0.0.1:1: ${q.panel} still shows data`)
    }
    assert.deepEqual(problems, [])
  })
})

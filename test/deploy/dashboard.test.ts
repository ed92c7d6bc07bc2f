/**
 * The Grafana dashboard and the alert annotations, read as an operator reads them (static checks;
 * test/deploy/prometheus-live.test.ts runs every query against a real Prometheus). Every panel says
 * what it means and what to do when it moves, has a unit that fits what it plots and plots one
 * quantity per axis; every query is filtered by the job, instance, role and layer variables; every
 * alert links its runbook heading through the Prometheus server's `runbook_base` external label and
 * prints its value rounded. Each check is one function, and each is shown a bad panel or rule that
 * it must catch.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse as parseYaml } from 'yaml'

// Only files are read here: no program is imported (test/helpers/testnet.ts would load them all).
const PROJECT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

interface Target {
  refId: string
  expr: string
}
interface Panel {
  id: number
  type: string
  title: string
  description?: string
  gridPos: { h: number; w: number; x: number; y: number }
  fieldConfig?: { defaults?: { unit?: string } }
  targets?: Target[]
  panels?: Panel[]
}
interface Variable {
  name: string
  type: string
  query?: string
  multi?: boolean
  includeAll?: boolean
}
interface Dashboard {
  templating: { list: Variable[] }
  panels: Panel[]
}

const dashboard = JSON.parse(readFileSync(join(PROJECT, 'deploy/grafana/dashboards/sealmix.json'), 'utf8')) as Dashboard

/** The panels that show data (rows only group them), collapsed rows' panels included. */
function dataPanels(d: Dashboard): Panel[] {
  return d.panels.flatMap(p => (p.type === 'row' ? (p.panels ?? []) : [p]))
}

/**
 * What each series measures. A counter's rate() is that quantity per second; a histogram's
 * quantile is the quantity itself. Every metric the dashboard uses must be listed here, so that a
 * new panel is checked like the others.
 */
const QUANTITY: Record<string, string> = {
  up: 'state',
  sealmix_ready: 'state',
  sealmix_build_info: 'info',
  sealmix_relay_info: 'info',
  sealmix_packets_received_total: 'packets',
  sealmix_packets_sent_total: 'packets',
  sealmix_packets_dropped_total: 'packets',
  sealmix_cover_sent_total: 'packets',
  sealmix_loops_sent_total: 'packets',
  sealmix_loops_returned_total: 'packets',
  sealmix_delivered_total: 'packets',
  sealmix_unwrap_queue_packets: 'packets',
  sealmix_mix_pool_packets: 'packets',
  sealmix_mix_batch_packets: 'packets',
  sealmix_spool_packets: 'packets',
  sealmix_mailbox_packets: 'packets',
  sealmix_mix_pool_entropy: 'bits',
  sealmix_mix_round_duration_seconds: 'seconds',
  sealmix_network_document_age_seconds: 'seconds',
  sealmix_spool_oldest_age_seconds: 'seconds',
  sealmix_mailbox_oldest_age_seconds: 'seconds',
  sealmix_nodejs_eventloop_lag_p99_seconds: 'seconds',
  sealmix_process_cpu_seconds_total: 'seconds',
  sealmix_loop_success_ratio: 'ratio',
  sealmix_replay_filter_fill_ratio: 'ratio',
  sealmix_epoch: 'epochs',
  sealmix_mix_keys_live: 'keys',
  sealmix_directory_rejected_total: 'documents',
  sealmix_spool_bytes: 'bytes',
  sealmix_send_buffer_bytes: 'bytes',
  sealmix_process_resident_memory_bytes: 'bytes',
  sealmix_connections: 'connections',
  sealmix_connections_refused_total: 'connections',
  sealmix_ingress_gateway_links: 'links',
  sealmix_ingress_messages_total: 'messages',
  sealmix_ingress_refused_total: 'messages'
}

/** The Grafana units that fit a quantity: counts are plain numbers (`none`), rates carry their thing per second. */
const UNITS: Record<string, string[]> = {
  state: ['none'],
  info: ['none'],
  series: ['none'],
  packets: ['none'],
  'packets/s': ['pps'],
  bits: ['suffix: bits'],
  seconds: ['s', 'ms'],
  'seconds/s': ['percentunit'],
  ratio: ['percentunit'],
  epochs: ['none'],
  keys: ['none'],
  documents: ['none'],
  bytes: ['bytes'],
  connections: ['none'],
  'connections/s': ['cps'],
  links: ['none'],
  'messages/s': ['mps']
}

/** The variables' filter clauses: `and on (job, instance) sealmix_relay_info{...}` and its `unless` form. */
const FILTER_CLAUSE =
  /\b(?:and|unless) on \(job, instance\) (?:\(sealmix_relay_info\{[^}]*\} or sealmix_relay_info\{[^}]*\}\)|sealmix_relay_info\{[^}]*\})/g

/** An expression without its string literals (a label value such as state="up" is no metric). */
const unquoted = (expr: string): string => expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')

function metricsOf(expr: string): string[] {
  const names = [...unquoted(expr).matchAll(/\b(sealmix_[a-z0-9_]+|up)\b/g)].map(m =>
    m[1]!.replace(/_(bucket|sum|count)$/, '')
  )
  return [...new Set(names)]
}

/** What one query plots, or why that cannot be said. */
function quantityOf(expr: string): string {
  const plotted = metricsOf(expr.replace(FILTER_CLAUSE, ''))
  if (plotted.length === 0) return 'no metric'
  const unknown = plotted.filter(m => QUANTITY[m] === undefined)
  if (unknown.length > 0) return `unlisted metric ${unknown.join(', ')}`
  const kinds = [...new Set(plotted.map(m => QUANTITY[m]!))]
  if (/^\s*count\b/.test(expr)) return 'series'
  if (kinds.length > 1) return `mixed ${kinds.join(' and ')}`
  // One quantity divided by itself is a ratio; a difference of one quantity is that quantity.
  if (/\)\s*\/\s*on\b/.test(expr) && plotted.length > 1) return 'ratio'
  // A rate is per second, except under a quantile, which is of the observed quantity itself.
  return /\b(rate|irate)\(/.test(expr) && !/\bhistogram_quantile\(/.test(expr) ? `${kinds[0]}/s` : kinds[0]!
}

/** The metric selectors of an expression (`name{...}`), and the bare names without one. */
function selectors(expr: string): { withLabels: string[]; bare: string[] } {
  const withLabels = [...expr.matchAll(/\b(?:sealmix_[a-z0-9_]+|up)\{([^}]*)\}/g)].map(m => m[1]!)
  const bare = [...unquoted(expr).matchAll(/\b(sealmix_[a-z0-9_]+|up)\b(?!\{)/g)].map(m => m[1]!)
  return { withLabels, bare }
}

/** Everything wrong with one query's use of the variables. */
function queryProblems(expr: string): string[] {
  const problems: string[] = []
  const { withLabels, bare } = selectors(expr)
  if (bare.length > 0) problems.push(`selects ${bare.join(', ')} without labels (no $job)`)
  for (const s of withLabels) if (!s.includes('job=~"$job"')) problems.push(`a selector without $job: {${s}}`)
  if (!expr.includes('instance=~"$instance"')) problems.push('not filtered by $instance')
  // role and layer are relay labels: an ingress's own series are selected by job and instance only.
  const ingressOnly = metricsOf(expr).every(m => m.startsWith('sealmix_ingress_'))
  if (!ingressOnly) {
    if (!/role(?:=~|!~)"\$role"/.test(expr)) problems.push('not filtered by $role')
    if (!/layer(?:=~|!~)"\$layer"/.test(expr)) problems.push('not filtered by $layer')
  }
  return problems
}

/** Everything an operator would miss in one panel; empty when it is complete. */
function panelProblems(p: Panel): string[] {
  const problems: string[] = []
  if ((p.description ?? '').trim().length < 40) problems.push('no description (what it means, what to do)')
  const unit = p.fieldConfig?.defaults?.unit ?? ''
  if (unit === '') problems.push('no unit')
  const targets = p.targets ?? []
  if (targets.length === 0) problems.push('no query')
  const quantities = [...new Set(targets.map(t => quantityOf(t.expr)))]
  if (quantities.length > 1) problems.push(`plots ${quantities.join(' and ')} on one axis`)
  for (const q of quantities) {
    if (UNITS[q] === undefined) problems.push(`cannot tell what it plots: ${q}`)
    else if (unit !== '' && !UNITS[q].includes(unit))
      problems.push(`unit ${unit} for ${q} (fits: ${UNITS[q].join(', ')})`)
  }
  for (const t of targets) for (const q of queryProblems(t.expr)) problems.push(`${t.refId}: ${q}`)
  return problems
}

describe('the Grafana dashboard', function () {
  const panels = dataPanels(dashboard)

  it('has the variables job, instance, role and layer: chained label_values queries over sealmix series', function () {
    const vars = new Map(dashboard.templating.list.map(v => [v.name, v]))
    const expect: Array<[string, RegExp]> = [
      ['job', /^label_values\(sealmix_[a-z_]+, job\)$/],
      ['instance', /^label_values\(sealmix_[a-z_]+\{job=~"\$job"\}, instance\)$/],
      ['role', /^label_values\(sealmix_relay_info\{job=~"\$job",instance=~"\$instance"\}, role\)$/],
      ['layer', /^label_values\(sealmix_relay_info\{job=~"\$job",instance=~"\$instance",role=~"\$role"\}, layer\)$/]
    ]
    for (const [name, query] of expect) {
      const v = vars.get(name)
      assert.ok(v !== undefined, `variable ${name}`)
      assert.equal(v.type, 'query', name)
      assert.match(String(v.query), query, name)
      assert.ok(v.multi === true && v.includeAll === true, `${name} takes several values and All`)
    }
  })

  it('groups the panels in rows: Fleet overview, Traffic, Mixing, Directory & keys, Gateway & ingress, Process', function () {
    assert.deepEqual(
      dashboard.panels.filter(p => p.type === 'row').map(p => p.title),
      ['Fleet overview', 'Traffic', 'Mixing', 'Directory & keys', 'Gateway & ingress', 'Process']
    )
    assert.equal(dashboard.panels[0]!.type, 'row', 'the first panel is under a row')
  })

  it('every panel has a description, a unit that fits, one quantity per axis, and filters every query by the variables', function () {
    assert.ok(panels.length >= 30, `${panels.length} panels`)
    const problems = panels.flatMap(p => panelProblems(p).map(q => `${p.title}: ${q}`))
    assert.deepEqual(problems, [])
  })

  it('the same check catches a panel without description or unit, two quantities on one axis, a rate in `short`, and an unfiltered query', function () {
    const good = panels.find(p => p.title.startsWith('Loop success'))!
    assert.deepEqual(panelProblems(good), [], 'the control panel itself passes')
    const bare: Panel = { ...good, description: undefined, fieldConfig: { defaults: {} } }
    assert.deepEqual(panelProblems(bare), ['no description (what it means, what to do)', 'no unit'])
    // The old "Directory: epoch, live mix keys, refused documents" panel: three quantities on one axis.
    const mixed: Panel = {
      ...good,
      fieldConfig: { defaults: { unit: 'short' } },
      targets: [
        { refId: 'A', expr: 'sealmix_epoch' },
        { refId: 'B', expr: 'sealmix_mix_keys_live' }
      ]
    }
    const m = panelProblems(mixed)
    assert.ok(
      m.some(x => /plots epochs and keys on one axis/.test(x)),
      m.join('; ')
    )
    assert.ok(
      m.some(x => /A: not filtered by \$instance/.test(x)) &&
        m.some(x => /B: selects sealmix_mix_keys_live without labels/.test(x))
    )
    const rate: Panel = {
      ...good,
      fieldConfig: { defaults: { unit: 'short' } },
      targets: [{ refId: 'A', expr: 'sum by (reason) (rate(sealmix_packets_dropped_total[5m]))' }]
    }
    assert.ok(panelProblems(rate).includes('unit short for packets/s (fits: pps)'), panelProblems(rate).join('; '))
    const noRole: Panel = {
      ...good,
      targets: [{ refId: 'A', expr: 'sealmix_loop_success_ratio{job=~"$job",instance=~"$instance"}' }]
    }
    assert.deepEqual(panelProblems(noRole), ['A: not filtered by $role', 'A: not filtered by $layer'])
  })

  it('shows up, readiness, document age, versions and key epochs, and breaks drops and loop success down by relay', function () {
    const exprs = panels.flatMap(p => (p.targets ?? []).map(t => t.expr))
    for (const m of [
      /^up\{/,
      /^sealmix_ready\{/,
      /^sealmix_network_document_age_seconds\{/,
      /^count by \(version, commit\) \(sealmix_build_info\{/,
      /^sealmix_build_info\{/,
      /^sealmix_epoch\{/,
      /^sealmix_mix_keys_live\{/
    ])
      assert.ok(
        exprs.some(e => m.test(e)),
        `a query ${m}`
      )
    assert.ok(exprs.some(e => /^sum by \(instance, reason\) \(rate\(sealmix_packets_dropped_total\{/.test(e)))
    assert.ok(exprs.some(e => /^sealmix_loop_success_ratio\{/.test(e)))
    // No sum over all relays: every aggregation keeps the instance.
    for (const e of exprs) {
      for (const by of e.matchAll(/\b(?:sum|max|min|avg) by \(([^)]*)\)/g))
        assert.ok(by[1]!.includes('instance') || by[1]!.includes('le'), `${e}: aggregated without instance`)
    }
    // Epoch number and live-key count are separate panels.
    const epoch = panels.filter(p => (p.targets ?? []).some(t => /\bsealmix_epoch\{/.test(t.expr)))
    const keys = panels.filter(p => (p.targets ?? []).some(t => /\bsealmix_mix_keys_live\{/.test(t.expr)))
    assert.ok(epoch.length > 0 && keys.length > 0)
    for (const p of epoch) assert.ok(!keys.includes(p), p.title)
  })

  it('lays the panels out on the 24-column grid without overlaps', function () {
    const boxes = dashboard.panels.map(p => ({ t: p.title, ...p.gridPos }))
    for (const b of boxes) assert.ok(b.x >= 0 && b.w > 0 && b.x + b.w <= 24, b.t)
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i]!
        const b = boxes[j]!
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
        assert.ok(!overlap, `${a.t} overlaps ${b.t}`)
      }
    const ids = dashboard.panels.map(p => p.id)
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique')
  })
})

interface Rule {
  alert: string
  annotations: Record<string, string>
}
const rules = parseYaml(readFileSync(join(PROJECT, 'deploy/prometheus/rules/sealmix.rules.yml'), 'utf8')) as {
  groups: Array<{ rules: Rule[] }>
}
const operations = readFileSync(join(PROJECT, 'docs/OPERATIONS.md'), 'utf8')

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-')
}

/** Everything wrong with one alert's annotations; empty when an operator can read and follow it. */
function alertProblems(r: Rule, ops: string): string[] {
  const problems: string[] = []
  const a = r.annotations ?? {}
  for (const k of ['summary', 'description', 'runbook_url']) if ((a[k] ?? '').trim() === '') problems.push(`no ${k}`)
  const headings = [...ops.matchAll(/^### (.+)$/gm)].map(m => m[1]!)
  if (!headings.includes(r.alert)) problems.push(`no "### ${r.alert}" runbook heading`)
  const want = `{{ $externalLabels.runbook_base }}#${anchor(r.alert)}`
  if (a.runbook_url !== undefined && a.runbook_url !== want) problems.push(`runbook_url ${a.runbook_url}, not ${want}`)
  for (const [k, text] of Object.entries(a)) {
    // A value is printed through humanize*, or printf with a precision; never raw.
    for (const m of text.matchAll(/\{\{([^}]*)\}\}/g)) {
      const t = m[1]!
      if (!t.includes('$value')) continue
      if (!/\$value \| humanize(Percentage|Duration|1024)?\b|printf \\?"%\.\d[fg]\\?" \$value/.test(t))
        problems.push(`${k} prints {{${t}}} unrounded`)
    }
  }
  return problems
}

describe('the alert annotations', function () {
  const all = rules.groups.flatMap(g => g.rules)

  it('every alert has a summary, a description and a runbook_url to its heading, and prints its value rounded', function () {
    assert.ok(all.length >= 14)
    assert.deepEqual(
      all.flatMap(r => alertProblems(r, operations).map(p => `${r.alert}: ${p}`)),
      []
    )
  })

  it('the same check catches a raw value, a repository-relative runbook and a missing heading', function () {
    const ok = all.find(r => r.alert === 'SealmixBatchTooSmall')!
    assert.deepEqual(alertProblems(ok, operations), [])
    const raw: Rule = {
      alert: 'SealmixBatchTooSmall',
      annotations: {
        summary: '{{ $labels.instance }}: median mixing batch {{ $value }} packets',
        description: 'd',
        runbook_url: 'docs/OPERATIONS.md#sealmixbatchtoosmall'
      }
    }
    assert.deepEqual(alertProblems(raw, operations), [
      'runbook_url docs/OPERATIONS.md#sealmixbatchtoosmall, not {{ $externalLabels.runbook_base }}#sealmixbatchtoosmall',
      'summary prints {{ $value }} unrounded'
    ])
    assert.deepEqual(alertProblems(ok, operations.replace('### SealmixBatchTooSmall', '### Batch')), [
      'no "### SealmixBatchTooSmall" runbook heading'
    ])
  })

  it('prometheus.yml sets the runbook_base external label the runbook links are built from', function () {
    const config = parseYaml(readFileSync(join(PROJECT, 'deploy/prometheus/prometheus.yml'), 'utf8')) as {
      global?: { external_labels?: Record<string, string> }
    }
    const base = config.global?.external_labels?.runbook_base ?? ''
    assert.match(base, /^https?:\/\/\S+$/, 'global.external_labels.runbook_base is an absolute URL')
  })
})

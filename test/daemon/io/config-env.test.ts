/**
 * SEALMIX_* environment variables over a config file (daemon/io/config-file.ts): a closed list of
 * keys, set on top of the file before the program's schema; a bad value is refused naming the
 * variable, a secret never shown; a SEALMIX_ variable that looks like a config key but is not in
 * the list is refused; only the three server programs' configs take them. Checked through each
 * program's own loader, and once through `sealmix validate-config` from the bundle.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify as toYaml } from 'yaml'
import {
  AuthorityConfigSchema,
  CONFIG_ENV,
  type ConfigKind,
  configKind,
  loadAuthorityConfig,
  loadConfig,
  loadIngressConfig,
  parseConfig,
  parseIngressConfig,
  readConfigFile
} from '../../../daemon/index.ts'
import { SEALMIX } from '../../helpers/bundle.ts'
import { PROJECT } from '../../helpers/testnet.ts'

const KEY = 'ab'.repeat(32)
const AUTHORITIES = [{ url: 'http://authority-0:8700', publicKey: KEY }]

/** One config file per kind, as deploy-init writes them: what differs per pod is left to the environment. */
const FILES: Record<ConfigKind, Record<string, unknown>> = {
  relay: {
    version: 1,
    role: 'mix',
    dataDir: '/data',
    listen: { host: '0.0.0.0', port: 9000 },
    directory: { authorities: AUTHORITIES },
    metrics: { host: '0.0.0.0', port: 9464 },
    log: { level: 'info' }
  },
  ingress: {
    version: 1,
    role: 'ingress',
    dataDir: '/data',
    serverName: 'example.org',
    directory: { authorities: AUTHORITIES, gateways: [KEY] },
    homeserver: { url: 'http://homeserver:8008' },
    api: { host: '0.0.0.0', port: 8090 },
    metrics: { host: '0.0.0.0', port: 9465 }
  },
  authority: {
    version: 1,
    role: 'authority',
    signingKeyFile: 'signing.key',
    admissionFile: 'admitted.yaml',
    listen: { host: '0.0.0.0', port: 8700 },
    network: 'sealmix',
    epoch: { genesisMs: 1_767_225_600_000 },
    metrics: { host: '0.0.0.0', port: 9466 }
  }
}

/** A value each variable takes, for every kind it applies to. */
const GOOD: Record<string, string> = {
  SEALMIX_DATA_DIR: '/var/lib/sealmix/mix-1-0',
  SEALMIX_LISTEN_HOST: '10.1.2.3',
  SEALMIX_LISTEN_PORT: '9100',
  SEALMIX_DIRECTORY_ADDRESS: 'ws://mix-1-0.mix-1:9000',
  SEALMIX_DIRECTORY_LAYER: '1',
  SEALMIX_API_HOST: '10.1.2.3',
  SEALMIX_API_PORT: '8091',
  SEALMIX_METRICS_HOST: '10.1.2.3',
  SEALMIX_METRICS_PORT: '9470',
  SEALMIX_METRICS_TOKEN: 'metrics-token-0123456789',
  SEALMIX_LOG_LEVEL: 'debug',
  SEALMIX_HOMESERVER_URL: 'https://synapse.example.org',
  SEALMIX_HOMESERVER_AS_TOKEN: 'as-token-0123456789abcdef',
  SEALMIX_HOMESERVER_HS_TOKEN: 'hs-token-0123456789abcdef'
}

/** What each program's loader needs beyond the file to load at all (the relay's layer and address, the ingress's tokens). */
const NEEDED: Record<ConfigKind, Record<string, string>> = {
  relay: { SEALMIX_DIRECTORY_ADDRESS: 'ws://mix-1-0.mix-1:9000', SEALMIX_DIRECTORY_LAYER: '1' },
  ingress: {
    SEALMIX_HOMESERVER_AS_TOKEN: 'as-token-0123456789abcdef',
    SEALMIX_HOMESERVER_HS_TOKEN: 'hs-token-0123456789abcdef'
  },
  authority: {}
}

const at = (o: unknown, key: string): unknown =>
  key.split('.').reduce<unknown>((x, k) => (x as Record<string, unknown> | undefined)?.[k], o)

describe('config keys from SEALMIX_* environment variables', function () {
  let dir: string
  const files = {} as Record<ConfigKind, string>
  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'sealmix-config-env-'))
    for (const k of Object.keys(FILES) as ConfigKind[]) {
      files[k] = join(dir, `${k}.yaml`)
      writeFileSync(files[k], toYaml(FILES[k]))
    }
  })
  after(function () {
    rmSync(dir, { recursive: true, force: true })
  })

  /** The program's own validation of the file read with `env`: the parsed config, or the message it refuses with. */
  function load(kind: ConfigKind, env: Record<string, string>): { config?: unknown; refused?: string } {
    const read = readConfigFile(files[kind], { ...NEEDED[kind], ...env })
    if (read.kind !== 'parsed') return { refused: read.problem }
    try {
      if (kind === 'relay') return { config: parseConfig(read.value, dir) }
      if (kind === 'ingress') return { config: parseIngressConfig(read.value, dir) }
      const r = AuthorityConfigSchema.safeParse(read.value)
      return r.success ? { config: r.data } : { refused: r.error.message }
    } catch (e) {
      return { refused: (e as Error).message }
    }
  }

  it('each variable sets its key in every config it applies to, over the file, and each program takes it', function () {
    for (const e of CONFIG_ENV) {
      assert.ok(GOOD[e.env] !== undefined, `a value for ${e.env}`)
      for (const kind of e.kinds) {
        const r = load(kind, { [e.env]: GOOD[e.env]! })
        assert.equal(r.refused, undefined, `${e.env} on ${kind}: ${r.refused}`)
        const want = e.integer ? Number(GOOD[e.env]) : GOOD[e.env]
        // Paths come back resolved against the config file's folder (an absolute one as it is).
        assert.equal(at(r.config, e.key), want, `${e.env} sets ${e.key} of ${kind}`)
      }
    }
    assert.deepEqual(
      GOOD,
      Object.fromEntries(CONFIG_ENV.map(e => [e.env, GOOD[e.env]])),
      'no value for a variable not in the list'
    )
  })

  it('without variables the file is read as it is, and a missing section is made for a variable', function () {
    const read = readConfigFile(files.authority, {})
    assert.deepEqual(read, { kind: 'parsed', value: FILES.authority })
    const bare = join(dir, 'bare.yaml')
    writeFileSync(
      bare,
      toYaml({ role: 'gateway', dataDir: '/data', directory: { authorities: AUTHORITIES, layer: 0 } })
    )
    const r = readConfigFile(bare, {
      SEALMIX_LOG_LEVEL: 'warn',
      SEALMIX_DIRECTORY_ADDRESS: 'ws://gateway-0.gateway:9000'
    })
    assert.equal(r.kind, 'parsed')
    const c = parseConfig((r as { value: unknown }).value, dir)
    assert.equal(c.log.level, 'warn')
    assert.equal(c.directory!.address, 'ws://gateway-0.gateway:9000')
  })

  it('a bad value is refused naming the variable as its source, with the rule the schema uses', function () {
    const cases: Array<[ConfigKind, Record<string, string>, string]> = [
      [
        'relay',
        { SEALMIX_DIRECTORY_LAYER: '7' },
        'directory.layer (from SEALMIX_DIRECTORY_LAYER) must be <= 3 (got 7)'
      ],
      [
        'relay',
        { SEALMIX_LISTEN_PORT: '9000x' },
        'listen.port (from SEALMIX_LISTEN_PORT) must be a whole number (got "9000x")'
      ],
      [
        'relay',
        { SEALMIX_LISTEN_PORT: '70000' },
        'listen.port (from SEALMIX_LISTEN_PORT) must be <= 65535 (got 70000)'
      ],
      ['authority', { SEALMIX_METRICS_PORT: '-1' }, 'metrics.port (from SEALMIX_METRICS_PORT) must be >= 0 (got -1)'],
      ['relay', { SEALMIX_LOG_LEVEL: 'loud' }, 'log.level (from SEALMIX_LOG_LEVEL) must be one of "fatal", "error"'],
      [
        'relay',
        { SEALMIX_DIRECTORY_ADDRESS: 'mix-1-0:9000' },
        'directory.address (from SEALMIX_DIRECTORY_ADDRESS) must be a ws:// or wss:// URL'
      ],
      [
        'ingress',
        { SEALMIX_HOMESERVER_URL: 'synapse' },
        'homeserver.url (from SEALMIX_HOMESERVER_URL) must be an http(s) URL'
      ],
      ['relay', { SEALMIX_DATA_DIR: '' }, 'dataDir (from SEALMIX_DATA_DIR) is set but empty']
    ]
    for (const [kind, env, message] of cases) {
      const r = load(kind, env)
      assert.ok(r.refused?.startsWith(message), `${JSON.stringify(env)}: ${r.refused}`)
    }
  })

  it("a rule across keys is still the schema's: a gateway given a mix layer is refused by the relay schema", function () {
    const bare = join(dir, 'gateway.yaml')
    writeFileSync(bare, toYaml({ ...FILES.relay, role: 'gateway' }))
    const read = readConfigFile(bare, { ...NEEDED.relay, SEALMIX_DIRECTORY_LAYER: '2' })
    assert.equal(read.kind, 'parsed')
    assert.throws(
      () => parseConfig((read as { value: unknown }).value, dir),
      /directory\.layer must be 0 for a gateway/
    )
  })

  it('a secret is never shown: not a token that is too short, not credentials in an address', function () {
    const token = 'short-s3cret'
    for (const [kind, name] of [
      ['relay', 'SEALMIX_METRICS_TOKEN'],
      ['ingress', 'SEALMIX_HOMESERVER_AS_TOKEN'],
      ['ingress', 'SEALMIX_HOMESERVER_HS_TOKEN']
    ] as const) {
      const r = load(kind, { [name]: token })
      assert.match(
        r.refused ?? '',
        new RegExp(`\\(from ${name}\\) must be at least 16 characters \\(got <redacted>\\)`)
      )
      assert.ok(!r.refused!.includes(token), r.refused)
    }
    // The address is published, so it is no place for credentials; were some given, they are not echoed.
    const r = load('relay', { SEALMIX_DIRECTORY_ADDRESS: 'ws://user:hunter2@mix-1-0' })
    assert.ok(r.refused !== undefined && !r.refused.includes('hunter2'), r.refused)
  })

  it('a SEALMIX_ variable that looks like a config key but is not in the list is refused; others are no concern', function () {
    // A misspelling is shown the variables of its section; another section's key, every variable there is.
    for (const [name, listed] of [
      ['SEALMIX_DIRECTORY_ADRESS', 'those for directory: SEALMIX_DIRECTORY_ADDRESS, SEALMIX_DIRECTORY_LAYER;'],
      ['SEALMIX_LISTEN_PROT', 'those for listen: SEALMIX_LISTEN_HOST, SEALMIX_LISTEN_PORT;'],
      ['SEALMIX_LIMITS_WORKERS', 'SEALMIX_DATA_DIR, SEALMIX_LISTEN_HOST,'],
      ['SEALMIX_REPLAY_CAPACITY', 'SEALMIX_DATA_DIR, SEALMIX_LISTEN_HOST,']
    ] as const) {
      const r = load('relay', { [name]: '4' })
      assert.ok(r.refused?.startsWith(`${name} is not a config variable (${listed}`), r.refused)
    }
    const r = load('relay', {
      SEALMIX_LOG_FORMAT: 'json',
      SEALMIX_COMMAND: 'run',
      SEALMIX_HEALTH_PORT: '9465',
      SEALMIX_EXIT_WITH_PARENT: '1',
      SEALMIX_BENCH_RUNS: '3',
      NOT_SEALMIX_LISTEN_PORT: 'x'
    })
    assert.equal(r.refused, undefined, r.refused)
  })

  it('every SEALMIX_ variable the code, the image and the deployments read is a config variable or let through', function () {
    const read = new Set<string>()
    const files = ['cli', 'daemon', 'tools', 'client', 'deploy'].flatMap(d =>
      readdirSync(join(PROJECT, d), { recursive: true, withFileTypes: true })
        .filter(f => f.isFile() && !f.name.endsWith('.test.ts'))
        .map(f => join(f.parentPath, f.name))
    )
    for (const f of [...files, join(PROJECT, 'Dockerfile')]) {
      // Reads in code (env.X, env['X']), and what the image, the units and the manifests set.
      for (const m of readFileSync(f, 'utf8').matchAll(
        /\benv(?:\.|\[['"])(SEALMIX_[A-Z0-9_]+)|^\s*-?\s*(?:name: )?(SEALMIX_[A-Z0-9_]+)(?::|=)|Environment=(SEALMIX_[A-Z0-9_]+)=/gm
      ))
        read.add((m[1] ?? m[2] ?? m[3])!)
    }
    for (const n of ['SEALMIX_LOG_FORMAT', 'SEALMIX_HEALTH_PORT', 'SEALMIX_DIRECTORY_ADDRESS'])
      assert.ok(read.has(n), n)
    for (const name of read) {
      const r = load('relay', { [name]: CONFIG_ENV.some(e => e.env === name) ? GOOD[name]! : 'x' })
      assert.ok(!r.refused?.includes('is not a config variable'), `${name} is read somewhere but refused: ${r.refused}`)
    }
  })

  it('a variable for a key this kind of config has not is refused, naming the kinds it is for', function () {
    const r = load('ingress', { SEALMIX_DIRECTORY_LAYER: '1' })
    assert.equal(
      r.refused,
      'SEALMIX_DIRECTORY_LAYER sets directory.layer, which an ingress config does not have (it applies to a relay): unset it for this program'
    )
    assert.match(
      load('authority', { SEALMIX_DATA_DIR: '/data' }).refused ?? '',
      /which an authority config does not have/
    )
  })

  it("files that are not a server program's config are read as they are: a client profile, the stand-in homeserver", function () {
    const env = { SEALMIX_LISTEN_PORT: 'not a port', SEALMIX_LIMITS_WORKERS: '3' }
    for (const value of [
      { version: 1, gateway: KEY, homeserver: { url: 'http://hs', accessToken: 'x' }, ingressApi: 'http://i' },
      { serverName: 'example.org', asToken: 'x', users: [] }
    ]) {
      const f = join(dir, 'other.json')
      writeFileSync(f, JSON.stringify(value))
      assert.equal(configKind(value), null)
      assert.deepEqual(readConfigFile(f, env), { kind: 'parsed', value })
    }
    assert.equal(configKind({ serverName: 'x', homeserver: {}, dataDir: '/d' }), 'ingress')
    assert.equal(configKind({ signingKeyFile: 'k' }), 'authority')
  })

  it('the loaders read process.env: a relay, an ingress and an authority refuse a bad variable, naming it', function () {
    const saved = { ...process.env }
    const only = (env: Record<string, string>): void => {
      for (const k of Object.keys(process.env)) if (k.startsWith('SEALMIX_')) delete process.env[k]
      Object.assign(process.env, env)
    }
    try {
      only(NEEDED.relay)
      assert.equal(loadConfig(files.relay).directory!.layer, 1)
      only({ ...NEEDED.relay, SEALMIX_METRICS_PORT: 'x' })
      assert.throws(() => loadConfig(files.relay), {
        name: 'RelayError',
        message: /^RELAY_CONFIG_INVALID: metrics\.port \(from SEALMIX_METRICS_PORT\) must be a whole number/
      })
      only({ ...NEEDED.ingress, SEALMIX_METRICS_PORT: 'x' })
      assert.throws(
        () => loadIngressConfig(files.ingress),
        /INGRESS_CONFIG_INVALID: metrics\.port \(from SEALMIX_METRICS_PORT\)/
      )
      only({ SEALMIX_METRICS_PORT: 'x' })
      assert.throws(() => loadAuthorityConfig(files.authority), /metrics\.port \(from SEALMIX_METRICS_PORT\)/)
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
      Object.assign(process.env, saved)
    }
  })

  it('sealmix validate-config applies the environment, and exits 78 naming the variable', function () {
    const run = (env: Record<string, string>) =>
      spawnSync(process.execPath, [...SEALMIX, 'validate-config', '--config', files.relay], {
        encoding: 'utf8',
        env: { ...process.env, ...env }
      })
    const ok = run(NEEDED.relay)
    assert.equal(ok.status, 0, ok.stderr)
    assert.equal(ok.stdout.trim(), 'ok')
    const missing = run({})
    assert.equal(missing.status, 78, 'the file alone lacks the per-pod keys')
    const bad = run({ ...NEEDED.relay, SEALMIX_DIRECTORY_LAYER: 'one' })
    assert.equal(bad.status, 78)
    assert.match(bad.stderr, /directory\.layer \(from SEALMIX_DIRECTORY_LAYER\) must be a whole number \(got "one"\)/)
  })

  it('docs/OPERATIONS.md lists every variable with its key, and no other', function () {
    const ops = readFileSync(join(PROJECT, 'docs/OPERATIONS.md'), 'utf8')
    const section = ops.split(/^## Environment variables$/m)[1]?.split(/^##? /m)[0] ?? ''
    const rows = [...section.matchAll(/^\| `(SEALMIX_[A-Z_]+)` \| `([a-zA-Z.]+)` \|/gm)].map(m => [m[1], m[2]])
    assert.deepEqual(
      rows,
      CONFIG_ENV.map(e => [e.env, e.key])
    )
  })
})

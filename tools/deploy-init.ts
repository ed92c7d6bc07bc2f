/**
 * `sealmix deploy-init`: every key, config and admission of a network that follows three directory
 * authorities, made on the operator's machine, for deploy/compose.yaml, deploy/kubernetes/ and
 * the loopback test. One config file per kind serves every pod of it: what differs from one pod
 * to the next (its published address, its layer, its listeners, its data directory) comes from
 * SEALMIX_* environment variables (daemon/io/config-file.ts), as a StatefulSet sets them.
 *
 * Relays join and leave by scaling their StatefulSet: an identity is made and admitted ahead for
 * each of the first `maxReplicas` ordinals of every relay set (gateway-0, mix-1-2, ...), and each
 * pod takes the keys of its own ordinal. The authorities admit nothing else. Run again, it keeps
 * every key, token and the epoch schedule (a changed schedule would split the network), makes
 * what is missing (more ordinals, with a larger maxReplicas) and admits it.
 *
 * The directory it writes (the paths the containers mount, docs/OPERATIONS.md "Deployment"):
 *   config/          one config per kind (public: ConfigMaps); gateway.yaml, mix.yaml,
 *                    ingress.yaml, authority-0.yaml..authority-2.yaml
 *   admission/       admitted.yaml, shared by the three authorities (public)
 *   keys/            authority-N.signing.key (secret)
 *   authority-N/     an authority's state file (written when it runs)
 *   <pod>/keys/      a relay's identity.key and mailbox.key, the ingress's keys (secret)
 *   offline/         server-root.key, which signs the ingress's binding; never mounted
 *   secrets/ingress.env     the ingress's application-service tokens, as SEALMIX_* variables
 *   homeserver/      the stand-in homeserver's config and a real homeserver's registration
 *   deployment.json  every public key, address and the schedule (what clients and operators need)
 *   kubernetes-secrets.sh, kustomization.yaml   the Secrets and the overlay of deploy/kubernetes
 */
import { chmodSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync } from 'node:fs'
import { join, relative } from 'node:path'
import { stringify as toYaml } from 'yaml'
import {
  AuthorityConfigSchema,
  admit,
  authorityKey,
  ensureDataFormat,
  ensureKeys,
  initIngressKeys,
  loadAdmission,
  loadIdentity,
  loadIngressKeys,
  NO_ADMISSION,
  RelayError,
  saveAdmission,
  secretDir,
  writeFileAtomic,
  writeSecretFile
} from '../daemon/index.ts'
import { type ConfigIssue, type CryptoSuite, describeIssue, type MixingParams } from '../mix/index.ts'

/** A relay StatefulSet: its pods are `<set>-<ordinal>`. */
export interface RelaySet {
  readonly set: string
  readonly role: 'gateway' | 'mix'
  readonly layer: number
}

/** The relay StatefulSets of a deployment: the gateways (entry and exit) and one per mix layer. */
export const DEPLOY_RELAYS: readonly RelaySet[] = [
  { set: 'gateway', role: 'gateway', layer: 0 },
  { set: 'mix-1', role: 'mix', layer: 1 },
  { set: 'mix-2', role: 'mix', layer: 2 },
  { set: 'mix-3', role: 'mix', layer: 3 }
]

/** The three authorities: a document needs two signatures. */
export const AUTHORITIES: readonly string[] = ['authority-0', 'authority-1', 'authority-2']
export const INGRESS_POD = 'ingress-0'

/** The ports every container listens on (the loopback test moves them with SEALMIX_* variables). */
export const PORTS = {
  relay: 9000,
  relayMetrics: 9464,
  ingressApi: 8090,
  ingressMetrics: 9465,
  authority: 8700,
  authorityMetrics: 9466
} as const

/** An ingress lists at most this many gateways: every pre-made gateway ordinal is one. */
export const MAX_REPLICAS = 16

export interface DeployOptions {
  readonly dir: string
  readonly serverName: string
  /** The homeserver's client-server API, as the ingress reaches it. */
  readonly homeserverUrl: string
  /** Identities made and admitted per relay StatefulSet (ordinals 0..maxReplicas-1). */
  readonly maxReplicas: number
  /** The network's name, schedule and mixing: given or defaulted on the first run, then kept (a changed one is refused). @default 'sealmix' */
  readonly networkName?: string
  /** @default 1 h */
  readonly epochMs?: number
  /** @default half an epoch, at most 5 min */
  readonly graceMs?: number
  /** @default 5 minutes after now, on a whole minute: relays started by then are in epoch 0's document */
  readonly genesisMs?: number
  /** Mixing parameters for the documents; the authorities' defaults for the rest. @default {} */
  readonly mixing?: Partial<MixingParams>
  /** Every listener on 127.0.0.1, the authorities at basePort..basePort+2 (metrics at +3..+5); else containers. */
  readonly loopback?: { readonly basePort: number }
  /** deploy/kubernetes, for the overlay (kustomization.yaml) to build on; none written without it. */
  readonly kubernetesBase?: string
  readonly nowMs: number
}

export interface DeployedRelay extends RelaySet {
  readonly pod: string
  readonly id: string
  readonly identityKey: string
}

/** What the keys of a deployment are: their public halves, and the schedule they were made for. */
export interface DeployRelays {
  readonly network: string
  readonly epoch: { readonly genesisMs: number; readonly epochMs: number; readonly graceMs: number }
  readonly mixing: Partial<MixingParams>
  readonly authorities: ReadonlyArray<{ readonly name: string; readonly url: string; readonly publicKey: string }>
  readonly relays: readonly DeployedRelay[]
  readonly ingress: {
    readonly pod: string
    readonly id: string
    readonly serverName: string
    readonly serverRootKey: string
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const SUMMARY = 'deployment.json'
const TOKENS = ['SEALMIX_HOMESERVER_AS_TOKEN', 'SEALMIX_HOMESERVER_HS_TOKEN'] as const

/** A public file: configs and the admission are ConfigMaps, readable by the container's user. */
function writePublic(path: string, text: string): void {
  writeFileAtomic(path, text, { mode: 0o644 })
}

/** The schedule and network a previous run made; a schedule must never change under a running network. */
function previous(dir: string): DeployRelays | null {
  const f = join(dir, SUMMARY)
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as DeployRelays) : null
}

function authorityUrl(o: DeployOptions, i: number): string {
  return o.loopback === undefined
    ? `http://${AUTHORITIES[i]}:${PORTS.authority}`
    : `http://127.0.0.1:${o.loopback.basePort + i}`
}

/**
 * The network's name, schedule and mixing: those of a previous run, which must not change under a
 * running network (nodes would refuse the documents, or the authorities sign different bytes), or
 * the options' with their defaults.
 */
function settings(o: DeployOptions, before: DeployRelays | null): Pick<DeployRelays, 'network' | 'epoch' | 'mixing'> {
  if (before !== null) {
    const given = { network: o.networkName, genesisMs: o.genesisMs, epochMs: o.epochMs, graceMs: o.graceMs }
    const held = { network: before.network, ...before.epoch }
    for (const k of ['network', 'genesisMs', 'epochMs', 'graceMs'] as const)
      if (given[k] !== undefined && given[k] !== held[k])
        throw new RelayError(
          'RELAY_CONFIG_INVALID',
          `${o.dir} holds a network made with ${k} ${String(held[k])}: it is kept (give ${String(held[k])} or leave it out); a new network needs a new directory`
        )
    if (o.mixing !== undefined && JSON.stringify(o.mixing) !== JSON.stringify(before.mixing))
      throw new RelayError(
        'RELAY_CONFIG_INVALID',
        `${o.dir} holds a network made with other mixing parameters: they are kept`
      )
    return { network: before.network, epoch: before.epoch, mixing: before.mixing }
  }
  const epochMs = o.epochMs ?? 3_600_000
  const minute = 60_000
  const made = {
    network: o.networkName ?? 'sealmix',
    epoch: {
      genesisMs: o.genesisMs ?? Math.ceil((o.nowMs + 5 * minute) / minute) * minute,
      epochMs,
      // Old keys stay usable for half an epoch, but no longer than the 5 min that covers a packet's longest stay.
      graceMs: o.graceMs ?? Math.min(300_000, Math.floor(epochMs / 2))
    },
    mixing: o.mixing ?? {}
  }
  // What the authorities would refuse (a schedule, a mixing parameter) is said before any key is made.
  const probe = { signingKeyFile: 'k', admissionFile: 'a', ...made }
  const r = AuthorityConfigSchema.safeParse(probe)
  if (!r.success) {
    const d = describeIssue(probe, r.error.issues[0]! as ConfigIssue, new Set())
    throw RelayError.CONFIG_INVALID(d.key, d.rule, d.value)
  }
  return made
}

/** Pod names of a relay set, ordinals 0..n-1. */
export function podsOf(s: RelaySet, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${s.set}-${i}`)
}

/**
 * Make (or keep) every key: the authorities' signing keys, an identity and a mailbox key for each
 * pre-admitted relay ordinal, the ingress's keys (its server root key then goes to offline/).
 */
export function initDeployRelays(c: CryptoSuite, o: DeployOptions): DeployRelays {
  if (!Number.isInteger(o.maxReplicas) || o.maxReplicas < 1 || o.maxReplicas > MAX_REPLICAS)
    throw RelayError.CONFIG_INVALID('maxReplicas', `must be 1..${MAX_REPLICAS}`, String(o.maxReplicas))
  const dir = o.dir
  const before = previous(dir)
  const made = settings(o, before)
  secretDir(dir)
  secretDir(join(dir, 'keys'))
  const authorities = AUTHORITIES.map((name, i) => {
    // The state file's folder: made here so that a container runtime does not make it as root.
    secretDir(join(dir, name))
    return {
      name,
      url: authorityUrl(o, i),
      publicKey: hex(authorityKey(c, join(dir, 'keys', `${name}.signing.key`)).publicKey)
    }
  })
  const relays: DeployedRelay[] = []
  for (const s of DEPLOY_RELAYS)
    for (const pod of podsOf(s, o.maxReplicas)) {
      const d = join(dir, pod)
      secretDir(d)
      // Directory mode: per-epoch mix keys are made by the relay; here only who it is.
      ensureKeys(c, d, false)
      ensureDataFormat(d, { program: 'relay' })
      const k = loadIdentity(c, d)
      k.mailboxKey.fill(0)
      relays.push({ ...s, pod, id: k.id, identityKey: hex(k.identity.publicKey) })
    }
  return { ...made, authorities, relays, ingress: ingressKeys(c, o, before) }
}

/** The ingress's keys in ingress-0/keys; its root key made there once, then kept in offline/ (linked back while the binding is renewed). */
function ingressKeys(c: CryptoSuite, o: DeployOptions, before: DeployRelays | null): DeployRelays['ingress'] {
  const d = join(o.dir, INGRESS_POD)
  const offline = join(o.dir, 'offline', 'server-root.key')
  const inKeys = join(d, 'keys', 'server-root.key')
  secretDir(d)
  secretDir(join(o.dir, 'offline'))
  const linked = existsSync(offline) && !existsSync(inKeys) && existsSync(join(d, 'keys'))
  if (linked) linkSync(offline, inKeys)
  let made: Buffer | null
  try {
    made = initIngressKeys(c, d, o.serverName, o.nowMs).rootPublicKey
  } finally {
    if (linked) unlinkSync(inKeys)
  }
  if (existsSync(inKeys)) renameSync(inKeys, offline)
  const serverRootKey = made === null ? before?.ingress.serverRootKey : made.toString('hex')
  if (serverRootKey === undefined)
    throw RelayError.KEYS_INVALID(
      `${INGRESS_POD}/keys has a ServerCert but neither offline/server-root.key nor ${SUMMARY} names its root key`
    )
  ensureDataFormat(d, { program: 'ingress' })
  const k = loadIngressKeys(c, d, o.serverName)
  return { pod: INGRESS_POD, id: k.id, serverName: o.serverName, serverRootKey }
}

/** The ingress's tokens: kept from a previous run (the homeserver's registration holds them), else new. */
function tokens(c: CryptoSuite, dir: string): Record<(typeof TOKENS)[number], string> {
  const f = join(dir, 'secrets', 'ingress.env')
  const held = existsSync(f)
    ? Object.fromEntries(
        readFileSync(f, 'utf8')
          .split('\n')
          .map(l => /^([A-Z_]+)=(\S+)$/.exec(l))
          .filter(m => m !== null)
          .map(m => [m[1]!, m[2]!])
      )
    : {}
  const fresh = (): string => {
    const b = Buffer.alloc(24)
    c.randomFill(b)
    return b.toString('base64url')
  }
  return {
    SEALMIX_HOMESERVER_AS_TOKEN: held.SEALMIX_HOMESERVER_AS_TOKEN ?? fresh(),
    SEALMIX_HOMESERVER_HS_TOKEN: held.SEALMIX_HOMESERVER_HS_TOKEN ?? fresh()
  }
}

/**
 * Write the configs (one per kind), the admission of every pre-made relay and of the ingress's
 * server, the tokens, the homeserver's files, the summary, and the Kubernetes Secret script and
 * overlay.
 */
export function finishDeployNetwork(c: CryptoSuite, o: DeployOptions, made: DeployRelays): void {
  const dir = o.dir
  const host = o.loopback === undefined ? '0.0.0.0' : '127.0.0.1'
  const skewMs = Math.min(30_000, Math.floor(made.epoch.epochMs / 4))
  const refs = made.authorities.map(a => ({ url: a.url, publicKey: a.publicKey }))
  const configDir = join(dir, 'config')
  mkdirSync(configDir, { recursive: true, mode: 0o755 })
  const header = (what: string): string =>
    `# ${what}.\n# Made by sealmix deploy-init; what differs per pod comes from SEALMIX_* variables\n# (docs/OPERATIONS.md "Environment variables").\n`
  for (const kind of ['gateway', 'mix'] as const) {
    writePublic(
      join(configDir, `${kind}.yaml`),
      header(
        kind === 'gateway'
          ? 'Every gateway; SEALMIX_DIRECTORY_ADDRESS gives its published address'
          : 'Every mix of every layer; SEALMIX_DIRECTORY_LAYER and SEALMIX_DIRECTORY_ADDRESS give its layer and address'
      ) +
        toYaml({
          version: 1,
          role: kind,
          dataDir: '/data',
          listen: { host, port: PORTS.relay },
          // No address (and a mix no layer): a pod without its variables is refused, never published under another's.
          directory: { authorities: refs, ...(kind === 'gateway' ? { layer: 0 } : {}), maxSkewMs: skewMs },
          metrics: { host, port: PORTS.relayMetrics },
          log: { level: 'info' }
        })
    )
  }
  writePublic(
    join(configDir, 'ingress.yaml'),
    header('The ingress; its tokens come from SEALMIX_HOMESERVER_AS_TOKEN and _HS_TOKEN (secrets/ingress.env)') +
      toYaml({
        version: 1,
        role: 'ingress',
        dataDir: '/data',
        serverName: made.ingress.serverName,
        directory: {
          authorities: refs,
          gateways: made.relays.filter(r => r.role === 'gateway').map(r => r.id),
          maxSkewMs: skewMs
        },
        homeserver: { url: o.homeserverUrl, botLocalpart: 'sealmix' },
        api: { host, port: PORTS.ingressApi },
        metrics: { host, port: PORTS.ingressMetrics },
        log: { level: 'info' }
      })
  )
  made.authorities.forEach((a, i) => {
    // Paths relative to this file, so that `sealmix authority admit --config config/authority-0.yaml`
    // edits admission/admitted.yaml here, and the containers mount the same layout under /etc/sealmix.
    const config = {
      version: 1,
      role: 'authority',
      signingKeyFile: `../keys/${a.name}.signing.key`,
      admissionFile: '../admission/admitted.yaml',
      stateFile: `../${a.name}/state.json`,
      listen: { host, port: o.loopback === undefined ? PORTS.authority : o.loopback.basePort + i },
      network: made.network,
      epoch: made.epoch,
      mixing: made.mixing,
      limits: { perSourcePerSecond: 50, perSecond: 500 },
      metrics: { host, port: o.loopback === undefined ? PORTS.authorityMetrics : o.loopback.basePort + 3 + i },
      peers: refs.filter(p => p.url !== a.url),
      log: { level: 'info' }
    }
    writePublic(
      join(configDir, `${a.name}.yaml`),
      `# Directory authority ${a.name}: made by sealmix deploy-init. Every authority must have the same\n# network, epoch and mixing. SEALMIX_METRICS_HOST puts its metrics on the pod IP.\n${toYaml(config)}`
    )
  })
  const admissionFile = join(dir, 'admission', 'admitted.yaml')
  mkdirSync(join(dir, 'admission'), { recursive: true, mode: 0o755 })
  // Added to what an operator admitted since (`sealmix authority admit`), never in place of it.
  saveAdmission(
    admissionFile,
    admit(
      existsSync(admissionFile) ? loadAdmission(admissionFile) : NO_ADMISSION,
      made.relays.map(r => ({ identityKey: r.identityKey, role: r.role, layer: r.layer })),
      [{ name: made.ingress.serverName, rootKeys: [made.ingress.serverRootKey] }]
    )
  )
  // Public keys only, read by the containers' user.
  chmodSync(admissionFile, 0o644)
  const t = tokens(c, dir)
  secretDir(join(dir, 'secrets'))
  writeSecretFile(
    join(dir, 'secrets', 'ingress.env'),
    `# The ingress's application-service tokens (secret): docker compose --env-file, kubectl --from-env-file.\n${TOKENS.map(k => `${k}=${t[k]}`).join('\n')}\n`
  )
  secretDir(join(dir, 'homeserver'))
  const asToken = t.SEALMIX_HOMESERVER_AS_TOKEN
  writeSecretFile(
    join(dir, 'homeserver', 'homeserver.json'),
    JSON.stringify({ serverName: made.ingress.serverName, asToken, users: [] })
  )
  writeSecretFile(
    join(dir, 'homeserver', 'registration.yaml'),
    toYaml({
      id: 'sealmix-ingress',
      url: null,
      as_token: asToken,
      hs_token: t.SEALMIX_HOMESERVER_HS_TOKEN,
      sender_localpart: 'sealmix',
      rate_limited: false,
      namespaces: {
        users: [{ exclusive: true, regex: `@sealmix:${made.ingress.serverName.replace(/\./g, '\\.')}` }],
        rooms: [],
        aliases: []
      }
    })
  )
  writePublic(join(dir, SUMMARY), `${JSON.stringify(made, null, 2)}\n`)
  writeFileAtomic(join(dir, 'kubernetes-secrets.sh'), secretScript(dir, made), { mode: 0o755 })
  if (o.kubernetesBase !== undefined)
    writePublic(join(dir, 'kustomization.yaml'), overlay(relative(dir, o.kubernetesBase)))
}

/**
 * The `kubectl` commands that make the Secrets deploy/kubernetes reads, from the files here: a
 * Secret per relay StatefulSet with every ordinal's keys (`<pod>.identity.key`), one per authority
 * with only its own signing key, the ingress's keys and its tokens. Server-side apply: run again
 * after a larger --max-replicas, it adds the new ordinals (and keeps no copy of the data in an annotation).
 */
function secretScript(dir: string, made: DeployRelays): string {
  const apply = (name: string, from: string[]): string =>
    `kubectl -n "$NS" create secret generic ${name} \\\n  ${from.join(' \\\n  ')} \\\n  --dry-run=client -o yaml | kubectl -n "$NS" apply --server-side -f -\n`
  const lines = [
    '#!/bin/sh',
    '# The Secrets of deploy/kubernetes, from the keys sealmix deploy-init made in this directory.',
    '# Run after `kubectl apply -f deploy/kubernetes/namespace.yaml`; it holds no secret itself.',
    'set -eu',
    'cd "$(dirname "$0")"',
    // The namespace of deploy/kubernetes, unless NAMESPACE says another.
    `NS="\${NAMESPACE:-sealmix}"`,
    ''
  ]
  for (const a of made.authorities)
    lines.push(apply(`sealmix-${a.name}-keys`, [`--from-file=${a.name}.signing.key=keys/${a.name}.signing.key`]))
  for (const s of DEPLOY_RELAYS)
    lines.push(
      apply(
        `sealmix-${s.set}-keys`,
        made.relays
          .filter(r => r.set === s.set)
          .flatMap(r => ['identity', 'mailbox'].map(k => `--from-file=${r.pod}.${k}.key=${r.pod}/keys/${k}.key`))
      )
    )
  const ingressFiles = readdirSync(join(dir, INGRESS_POD, 'keys')).sort()
  lines.push(
    apply(
      'sealmix-ingress-keys',
      ingressFiles.map(f => `--from-file=${f}=${INGRESS_POD}/keys/${f}`)
    )
  )
  lines.push(apply('sealmix-ingress-tokens', ['--from-env-file=secrets/ingress.env']))
  return lines.join('\n')
}

/** deploy/kubernetes with this network's configs and admission in place of its examples: `kubectl apply -k DIR`. */
function overlay(base: string): string {
  const gen = (name: string, files: string[], o: { fixedName?: boolean } = {}) => ({
    name,
    behavior: 'replace',
    files,
    ...(o.fixedName === true ? { options: { disableNameSuffixHash: true } } : {})
  })
  return (
    '# deploy/kubernetes with the configs and admission sealmix deploy-init made here.\n# Secrets first (sh kubernetes-secrets.sh), then: kubectl apply -k <this directory>\n' +
    toYaml({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      namespace: 'sealmix',
      resources: [base],
      configMapGenerator: [
        gen('sealmix-gateway-config', ['config/gateway.yaml']),
        gen('sealmix-mix-config', ['config/mix.yaml']),
        gen('sealmix-ingress-config', ['config/ingress.yaml']),
        gen(
          'sealmix-authority-config',
          AUTHORITIES.map(a => `config/${a}.yaml`)
        ),
        // A fixed name: an admission change reaches the running authorities (they re-read the file) without a restart.
        gen('sealmix-admission', ['admission/admitted.yaml'], { fixedName: true })
      ]
    })
  )
}

/**
 * The one launcher of a network on 127.0.0.1, for the devnet, the audit and the tests: it lays
 * out keys, configs and the network in a directory, and starts and stops the nodes. Two choices
 * are parameters, not copies:
 * - the mode, fixed at layout: 'static' (one signed network file, a fixed mix key per relay) or
 *   'directory' (three directory authorities and per-epoch mix keys, docs/PROTOCOL.md §18.1);
 * - how a node runs, chosen at each start: 'in-process' (Relay and Authority objects, for tests
 *   that read their metrics and state directly) or 'process' (`sealmix run` and `sealmix
 *   authority` children of the CLI bundle, supervised by tools/devnet/children.ts).
 * Both run modes read the same config files. What runs beside the network (an ingress, a
 * homeserver, clients, taps, stand-in relays) is the caller's.
 */
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify as toYaml } from 'yaml'
import {
  type AdmittedServer,
  Authority,
  admit,
  authorityKey,
  authorityOptions,
  type CryptoSuite,
  ensureKeys,
  type IngressDescriptor,
  loadAuthorityConfig,
  loadIdentity,
  loadKeys,
  type MixingParams,
  NO_ADMISSION,
  parseConfig,
  Relay,
  type RelayConfig,
  type RelayDescriptor,
  type RelayIdentity,
  type RelayKeys,
  type RelayOptions,
  saveAdmission
} from '../../daemon/index.ts'
import type { NetworkDocument } from '../../mix/index.ts'
import { type Child, DevnetError, Supervisor } from '../devnet/children.ts'
import { buildNetworkDocument, loadSignerKey, type SignerKey, writeNetworkFile } from '../network-file.ts'
import { AUTHORITY_NAMES, linksOf, RELAY_LAYOUT, type RelayRole, type RelaySpec } from './layout.ts'
import { freePort } from './ports.ts'

/** Where a node runs: an object in this process, or a `sealmix` child process. */
export type RunMode = 'in-process' | 'process'

/** One signed network file that lists every relay with its fixed mix key, valid for `validForMs`. */
export interface StaticMode {
  readonly kind: 'static'
  readonly network: string
  readonly mixing: MixingParams
  readonly validForMs: number
}
/** Three directory authorities that sign a document per epoch from the relays' descriptors. */
export interface DirectoryMode {
  readonly kind: 'directory'
  readonly network: string
  readonly mixing: MixingParams
  readonly epochMs: number
  readonly graceMs: number
  readonly maxSkewMs: number
}
export type NetworkMode = StaticMode | DirectoryMode

/** A relay of a static network holds a fixed mix key; one that follows authorities makes them per epoch. */
export type KeysOf<M extends NetworkMode> = M extends StaticMode ? RelayKeys : RelayIdentity

export interface LaunchOptions<M extends NetworkMode> {
  readonly mode: M
  /** Lay out here (kept on stop, reusable: identities and stores stay); default a temporary directory, removed on stop. */
  readonly root?: string
  /** The relays to lay out. @default RELAY_LAYOUT */
  readonly relays?: readonly RelaySpec[]
  /** Name the nodes by the operator's names (gateway-a) or the tests' (gwA). @default 'name' */
  readonly naming?: 'name' | 'short'
  /** The relays' config files: YAML, as operators write them, or JSON. @default 'yaml' */
  readonly format?: 'yaml' | 'json'
  /** The relays' log level in their config files (a process logs at it). */
  readonly logLevel: string
  /** Top-level config sections set in every relay's config (limits, replay, ...); `metrics` is merged into the launcher's. */
  readonly config?: Readonly<Record<string, unknown>>
  /** Config sections for one relay (its TLS certificate, say), after `config`. */
  readonly configOf?: (name: string, root: string) => Readonly<Record<string, unknown>>
  /** The port other nodes are told to dial for a relay (a tap in front of its listener); default its own. */
  readonly advertise?: (relay: {
    readonly name: string
    readonly layer: number
    readonly port: number
  }) => Promise<number>
  /** How an in-process relay runs (logger, crypto binding, re-dial waits), made at each start: each relay its own logger. */
  readonly inProcess?: () => Omit<RelayOptions, 'config'>
  /** Supervises the child processes; default one that only records them. A caller passes its own to run more children beside. */
  readonly supervisor?: Supervisor
}

export interface LaunchedRelay<K extends RelayIdentity = RelayIdentity> {
  readonly name: string
  readonly role: RelayRole
  readonly layer: number
  readonly dir: string
  readonly keys: K
  readonly port: number
  readonly metricsPort: number
  /** Where the network tells other nodes to dial it: ws(s)://127.0.0.1 and its advertised port. */
  readonly address: string
  /** The config as its file holds it. */
  readonly raw: Record<string, unknown>
  readonly configFile: string
  /** The parsed config an in-process start runs with (a test may replace it before a start). */
  config: RelayConfig
  /** The running in-process relay, from its start until it is stopped. */
  relay: Relay | null
  /** The running child process, from its start until it is stopped. */
  proc: ChildProcess | null
  /** What the child process wrote, a line per entry (with its newline); kept only when started with `keepOutput` (a test's short run). */
  readonly output: string[]
}

export interface LaunchedAuthority {
  readonly name: string
  readonly dir: string
  readonly port: number
  readonly url: string
  /** Its signing key's public half (hex), as every node is told it. */
  readonly publicKey: string
  readonly configFile: string
  /** The in-process server, once started in process. */
  server: Authority | null
}

export interface StartOptions {
  /** Each stdout line of a child process (logs, JSON events). */
  readonly onLine?: (line: string) => void
  /** Each stderr line of a child process. */
  readonly onErrLine?: (line: string) => void
  /** Keep what a child process writes in the relay's `output`. */
  readonly keepOutput?: boolean
}

export interface LaunchedNetwork<K extends RelayIdentity = RelayIdentity> {
  readonly root: string
  readonly mode: NetworkMode
  readonly relays: Array<LaunchedRelay<K>>
  /** Directory mode: the authorities (none in static mode). */
  readonly authorities: LaunchedAuthority[]
  /** What every node is told of the authorities: URL and signing key. */
  readonly refs: Array<{ url: string; publicKey: string }>
  /** Static mode: the signed network file every relay reads, and its signer. */
  readonly networkFile: string
  readonly signer: SignerKey | null
  readonly supervisor: Supervisor
  byName: (name: string) => LaunchedRelay<K>
  /** Static mode: sign and write the network file listing the relays, `others` (stand-ins the caller runs) and `ingresses`. */
  signNetwork: (o?: {
    readonly ingresses?: IngressDescriptor[]
    readonly others?: RelayDescriptor[]
  }) => NetworkDocument
  /** Directory mode: admit the relays and `servers`, write each authority's config with this genesis, start them. */
  startAuthorities: (o: {
    readonly genesisMs: number
    readonly servers: readonly AdmittedServer[]
    readonly run: RunMode
  }) => Promise<void>
  /** Start a relay; a child process is started and not waited for (see `untilUp`). */
  start: (n: LaunchedRelay<K>, run: RunMode, o?: StartOptions) => Promise<void>
  /**
   * Wait until a relay's /readyz says it is up: 200 on a static network; on a directory network,
   * anything but 'starting' (it is ready only once a document lists it). Fails at once if its
   * child process exits, with its last error line.
   */
  untilUp: (n: LaunchedRelay<K>, ms: number) => Promise<void>
  /** Every named in-process relay runs with all its links to the next layer up. */
  linksUp: (names?: string[]) => boolean
  /**
   * Stop every relay and authority, and every child of the supervisor (SIGTERM, SIGKILL after
   * `graceMs`; 0: SIGKILL at once); a temporary root goes too. Once: a second call waits for the first.
   */
  stop: (graceMs?: number) => Promise<void>
}

const HOST = '127.0.0.1'
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const sleep = async (ms: number): Promise<void> => {
  await new Promise(resolve => setTimeout(resolve, ms))
}

export async function launchNetwork<M extends NetworkMode>(
  c: CryptoSuite,
  o: LaunchOptions<M>
): Promise<LaunchedNetwork<KeysOf<M>>> {
  // Absolute: children resolve the paths in their configs against the config file's folder.
  const root = o.root ?? mkdtempSync(join(tmpdir(), `sealmix-${o.mode.network}-`))
  try {
    return await layOut(c, o, root)
  } catch (e) {
    if (o.root === undefined) rmSync(root, { recursive: true, force: true })
    throw e
  }
}

async function layOut<M extends NetworkMode>(
  c: CryptoSuite,
  o: LaunchOptions<M>,
  root: string
): Promise<LaunchedNetwork<KeysOf<M>>> {
  const mode: NetworkMode = o.mode
  const temporary = o.root === undefined
  mkdirSync(root, { recursive: true })
  const specs = o.relays ?? RELAY_LAYOUT
  const nameOf = (s: RelaySpec): string => (o.naming === 'short' ? s.short : s.name)
  const sup = o.supervisor ?? new Supervisor({ onExit: () => {} })
  const children = new Map<LaunchedRelay<KeysOf<M>>, Child>()
  const networkFile = join(root, 'network.json')
  const signer = mode.kind === 'static' ? loadSignerKey(c, join(root, 'network-signer.key'), true) : null
  const authorities: LaunchedAuthority[] = []
  if (mode.kind === 'directory') {
    forgetSchedule(root, specs.map(nameOf))
    for (const name of AUTHORITY_NAMES) {
      const dir = join(root, name)
      const port = await freePort()
      authorities.push({
        name,
        dir,
        port,
        url: `http://${HOST}:${port}`,
        publicKey: hex(authorityKey(c, join(dir, 'authority.key')).publicKey),
        configFile: join(root, `${name}.yaml`),
        server: null
      })
    }
  }
  const refs = authorities.map(a => ({ url: a.url, publicKey: a.publicKey }))

  const relays: Array<LaunchedRelay<KeysOf<M>>> = []
  for (const spec of specs) {
    const name = nameOf(spec)
    const dir = join(root, name)
    ensureKeys(c, dir, mode.kind === 'static')
    const port = await freePort()
    const metricsPort = await freePort()
    const advertised = o.advertise === undefined ? port : await o.advertise({ name, layer: spec.layer, port })
    const own = o.configOf?.(name, root) ?? {}
    const tls = 'tls' in own || 'tls' in (o.config ?? {})
    const address = `${tls ? 'wss' : 'ws'}://${HOST}:${advertised}`
    const follows =
      mode.kind === 'static'
        ? { network: { file: networkFile, signers: [hex(signer!.publicKey)] } }
        : { directory: { authorities: refs, address, layer: spec.layer, maxSkewMs: mode.maxSkewMs } }
    const raw: Record<string, unknown> = {
      version: 1,
      role: spec.role,
      dataDir: dir,
      listen: { host: HOST, port },
      ...follows,
      limits: { workers: 1 },
      log: { level: o.logLevel },
      ...o.config,
      ...own,
      metrics: { host: HOST, port: metricsPort, ...(o.config?.metrics as Record<string, unknown> | undefined) }
    }
    const configFile = join(root, `${name}.${o.format ?? 'yaml'}`)
    writeFileSync(configFile, o.format === 'json' ? JSON.stringify(raw) : toYaml(raw))
    const keys = (mode.kind === 'static' ? loadKeys(c, dir) : loadIdentity(c, dir)) as KeysOf<M>
    relays.push({
      name,
      role: spec.role,
      layer: spec.layer,
      dir,
      keys,
      port,
      metricsPort,
      address,
      raw,
      configFile,
      config: parseConfig(raw, root),
      relay: null,
      proc: null,
      output: []
    })
  }

  let stopping: Promise<void> | null = null
  const stop = async (graceMs: number): Promise<void> => {
    await Promise.all(
      relays.map(async n => {
        const r = n.relay
        n.relay = null
        await r?.stop()
      })
    )
    await sup.stop(sup.children, graceMs)
    for (const n of relays) n.proc = null
    for (const a of authorities) {
      const s = a.server
      a.server = null
      await s?.stop()
    }
    if (temporary) rmSync(root, { recursive: true, force: true })
  }

  const byName = (name: string): LaunchedRelay<KeysOf<M>> => {
    const n = relays.find(x => x.name === name)
    if (n === undefined) throw new DevnetError(`no relay named ${name} in ${root}`)
    return n
  }

  return {
    root,
    mode,
    relays,
    authorities,
    refs,
    networkFile,
    signer,
    supervisor: sup,
    byName,

    signNetwork({ ingresses = [], others = [] } = {}) {
      if (mode.kind !== 'static')
        throw new DevnetError('a network that follows directory authorities has no network file')
      const listed: RelayDescriptor[] = relays.map(n => ({
        id: n.keys.id,
        role: n.role,
        layer: n.layer,
        address: n.address,
        identityKey: hex(n.keys.identity.publicKey),
        mixKey: (n.keys as RelayKeys).mix.publicKey.toString('hex')
      }))
      const doc = buildNetworkDocument(c, {
        network: mode.network,
        relays: [...listed, ...others],
        ingresses,
        mixing: mode.mixing,
        nowMs: Date.now(),
        validForMs: mode.validForMs
      })
      const refused = writeNetworkFile(c, networkFile, doc, [signer!], { relays: relays.map(n => n.name) })
      if (refused !== null) throw new DevnetError(refused)
      return doc
    },

    async startAuthorities({ genesisMs, servers, run }) {
      if (mode.kind !== 'directory') throw new DevnetError('a static network has no authorities')
      // Each authority's operator admits the relays (each with its role and layer) and the servers with their root keys.
      const admission = admit(
        NO_ADMISSION,
        relays.map(n => ({ identityKey: hex(n.keys.identity.publicKey), role: n.role, layer: n.layer })),
        servers
      )
      for (const a of authorities) {
        const admissionFile = join(a.dir, 'admitted.yaml')
        saveAdmission(admissionFile, admission)
        writeFileSync(
          a.configFile,
          toYaml({
            version: 1,
            role: 'authority',
            signingKeyFile: join(a.dir, 'authority.key'),
            admissionFile,
            stateFile: join(a.dir, 'descriptors.json'),
            listen: { host: HOST, port: a.port },
            network: mode.network,
            epoch: { genesisMs, epochMs: mode.epochMs, graceMs: mode.graceMs },
            mixing: mode.mixing,
            limits: { perSourcePerSecond: 50, perSecond: 500 },
            peers: refs.filter(p => p.url !== a.url)
          }),
          { mode: 0o600 }
        )
      }
      for (const a of authorities) {
        if (run === 'process') {
          sup.start(a.name, ['authority', '--config', a.configFile])
          continue
        }
        a.server = authorityOf(c, a.configFile)
        await a.server.start()
      }
    },

    async start(n, run, so = {}) {
      if (run === 'in-process') {
        n.relay = new Relay({ ...o.inProcess?.(), config: n.config })
        await n.relay.start()
        return
      }
      const keep =
        so.keepOutput === true
          ? (l: string) => {
              n.output.push(`${l}\n`)
            }
          : () => {}
      const child = sup.start(
        n.name,
        ['run', '--config', n.configFile],
        l => {
          keep(l)
          so.onLine?.(l)
        },
        l => {
          keep(l)
          so.onErrLine?.(l)
        }
      )
      children.set(n, child)
      n.proc = child.proc
    },

    async untilUp(n, ms) {
      const end = Date.now() + ms
      for (;;) {
        const r = await readyz(n.metricsPort)
        if (mode.kind === 'static' ? r.status === 200 : r.status !== 0 && !r.body.includes('starting')) return
        const child = children.get(n)
        if (child?.exited === true)
          throw new DevnetError(
            `${n.name} exited before it was up${child.lastError !== null ? `: ${child.lastError}` : ''}`
          )
        if (Date.now() > end) throw new DevnetError(`${n.name} was not up within ${ms / 1000} s`)
        await sleep(50)
      }
    },

    linksUp(names = relays.map(n => n.name)) {
      return names.every(name => {
        const n = byName(name)
        return n.relay !== null && n.relay.linksUp.length === linksOf(n, specs)
      })
    },

    async stop(graceMs = 0) {
      stopping ??= stop(graceMs)
      await stopping
    }
  }
}

/**
 * Every launch in directory mode is a new network with its own genesis, so a reused root keeps
 * identities and stores but not what belongs to a previous schedule: the authorities' held
 * descriptors (they would compete with this run's for the same epochs) and admission, and the
 * relays' per-epoch mix keys.
 */
function forgetSchedule(root: string, relayNames: readonly string[]): void {
  for (const a of AUTHORITY_NAMES)
    for (const f of ['descriptors.json', 'admitted.yaml']) rmSync(join(root, a, f), { force: true })
  for (const name of relayNames) {
    const keys = join(root, name, 'keys')
    if (existsSync(keys)) for (const f of readdirSync(keys)) if (/^mix-\d+\.key$/.test(f)) rmSync(join(keys, f))
  }
}

/** An in-process authority from its config file, as `sealmix authority` makes one from it. */
function authorityOf(c: CryptoSuite, file: string): Authority {
  return new Authority(authorityOptions(c, loadAuthorityConfig(file)))
}

/** A relay's /readyz: its status and body, status 0 while nothing answers. */
async function readyz(port: number): Promise<{ status: number; body: string }> {
  return await new Promise(resolve => {
    request({ host: HOST, port, path: '/readyz', timeout: 2000 }, res => {
      let body = ''
      res.on('data', (d: Buffer) => {
        body += d.toString()
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
      .on('error', () => resolve({ status: 0, body: '' }))
      .on('timeout', function (this: { destroy: () => void }) {
        this.destroy()
      })
      .end()
  })
}

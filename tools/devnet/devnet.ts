/**
 * A local network on loopback, as separate processes like a real deployment: the launcher's
 * network in directory mode (tools/network/launch.ts: three directory authorities, `sealmix
 * authority`, and the five relays, `sealmix run`, that publish per-epoch mix keys to them), an
 * ingress made with the operator's commands (`sealmix init --role ingress`, `sealmix ingress`) in
 * front of the stand-in homeserver (a fake: no Matrix homeserver runs here), two demo clients
 * (`sealmix init --role client`, `sealmix listen --peer`) that exchange messages with acks, and a
 * room of alice, bob and a third user, carol (`sealmix room-demo`: sealed room messages with
 * verified senders, until alice blocks carol). Every node fetches each epoch's document from the
 * authorities; `epochMs` sets how often keys rotate.
 *
 * Start-up waits on conditions, never on guesses of how long a busy machine takes: the relays and
 * the ingress start first and poll for authorities; once each says it is waiting, the
 * authorities start with genesis a few seconds ahead, so every descriptor makes epoch 0's
 * document; the clients start once a majority-signed document lists every relay and the
 * ingress and the ingress has linked to its gateways. A node that missed a deadline is listed
 * by a later document: everything converges, the status line says what it waits for. Children
 * that exit are reported by name with their last error line.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { httpTransport, writeSecretFile } from '../../daemon/index.ts'
import { DirectoryClient, loadCrypto, type NetworkDocument } from '../../mix/index.ts'
import { Tap, type TapFrame } from '../audit/tap.ts'
import { quoted, roomDemoText } from '../chat/room-demo-text.ts'
import { launchNetwork } from '../network/launch.ts'
import { DEVNET_MIXING, ENTRY, EXIT, nextLayer, RELAY_LAYOUT, RELAY_LINKS } from '../network/layout.ts'
import { freePort } from '../network/ports.ts'
import { DevnetError, Supervisor, sealmixSync as sealmix } from './children.ts'
import { DemoTally, RoomTally, relaySummary, scrape } from './status.ts'
import { missingWebFiles, serveWebChat } from './web-server.ts'

export { DevnetError }

const SERVER = 'devnet.local'

export interface DevnetOptions {
  /** Keep data here (kept on exit, reusable by a later run); default: a temporary directory, removed on exit. */
  readonly dataDir?: string
  /** Print a line (addresses, chat, events). */
  readonly print: (line: string) => void
  /** The status line, every two seconds (a terminal rewrites it in place); default: `print`. */
  readonly status?: (line: string) => void
  /** Stop showing the status line (a terminal's, rewritten in place) before the last lines. */
  readonly clearStatus?: () => void
  /** Resolves when the devnet should stop: children get SIGTERM and a grace period. */
  readonly stop: Promise<void>
  /** Resolves when the stop must not wait for the grace period (a second Ctrl-C): SIGKILL what is left. */
  readonly hurry?: Promise<void>
  /**
   * The audit's global passive observer (`sealmix audit --devnet`): recording taps in front of
   * `relay`'s listener (what enters it) and of its next layer's listeners (what leaves it).
   */
  readonly observe?: { readonly relay: string; readonly onInput: TapFrame; readonly onOutput: TapFrame }
  /** Epoch length: mix keys rotate this often. @default 60000 */
  readonly epochMs?: number
  /** The web chat page's port on 127.0.0.1. @default a free port */
  readonly webPort?: number
  /** Called with the web chat page's URL once it is served. */
  readonly onWeb?: (url: string) => void
  /** Where the demo clients' events are counted (the bench reads each ack's stages from it). @default a new one */
  readonly tally?: DemoTally
}

/**
 * From starting the authorities to genesis. The relays and the ingress already run and poll every
 * 500 ms, so this covers only the authorities' own start and one poll; a node that still misses
 * epoch 0's document is listed by the next one.
 */
const GENESIS_LEAD_MS = 5000
/** How long a child gets to stop after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 5000
/** The relays and the ingress: each says once it polls for the authorities. */
const POLLERS = RELAY_LAYOUT.length + 1
/** The room demo's pace: quick enough that the block comes within seconds of the start. */
const ROOM_EVERY = '2s'
const ROOM_BLOCK_AFTER = 2
/** The room demo's events the devnet counts but does not show (one per message would drown the chat). */
const ROOM_QUIET = new Set<string>(['room_sent', 'room_delivered', 'room_routable'])
/** The children that are clients: stopped first. */
const CLIENTS = new Set(['alice', 'bob', 'room-demo'])

/** The `event` field of a JSON log or event line, if any. */
function eventOf(line: string): string | undefined {
  if (!line.startsWith('{')) return undefined
  try {
    const e = (JSON.parse(line) as { event?: unknown }).event
    return typeof e === 'string' ? e : undefined
  } catch {
    return undefined
  }
}

const sleep = async (ms: number): Promise<void> => {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** Runs the devnet until `o.stop`. Throws DevnetError when it cannot start (after stopping what it started). */
export async function runDevnet(o: DevnetOptions): Promise<void> {
  const c = await loadCrypto()
  const temporary = o.dataDir === undefined
  // Absolute: the children resolve paths in their configs against the config file's folder.
  const root = o.dataDir !== undefined ? resolve(o.dataDir) : mkdtempSync(join(tmpdir(), 'sealmix-devnet-'))
  const status = o.status ?? o.print
  let stopped = false
  let failure: string | null = null
  void o.stop.then(() => {
    stopped = true
  })
  const sup = new Supervisor({
    onExit: (child, how) => {
      o.print(
        `devnet: ${child.name} stopped unexpectedly (${how})${child.lastError !== null ? `: ${child.lastError}` : ''}`
      )
      if (phase !== 'running')
        failure ??= `${child.name} exited while the devnet was starting (${how})${child.lastError !== null ? `: ${child.lastError}` : ''}`
    }
  })
  let phase = 'setting up'
  const taps: Tap[] = []
  /** What else to stop: the web chat server. */
  const closers: Array<() => Promise<void>> = []
  // Whatever ends this process without the orderly stop below (an uncaught error), take the children with it.
  const orphanGuard = (): void => {
    sup.killAll()
  }
  process.once('exit', orphanGuard)
  let statusTimer: NodeJS.Timeout | undefined
  try {
    mkdirSync(root, { recursive: true })
    await boot()
  } finally {
    stopped = true
    clearInterval(statusTimer)
    o.clearStatus?.()
    o.print('devnet: stopping')
    // Clients first (they would only retry against stopping relays), then the rest together.
    const clients = sup.children.filter(ch => CLIENTS.has(ch.name))
    const hurry = (o.hurry ?? new Promise<never>(() => {})).then(() => sup.killAll())
    await sup.stop(clients, STOP_GRACE_MS)
    await sup.stop(sup.children, STOP_GRACE_MS)
    void hurry
    process.off('exit', orphanGuard)
    for (const t of taps) await t.close()
    for (const close of closers) await close()
    if (temporary) rmSync(root, { recursive: true, force: true })
    o.print(failure === null ? 'devnet: stopped' : 'devnet: stopped (it could not start)')
  }
  if (failure !== null) throw new DevnetError(failure)

  /** Wait until `ready()` or until stopped or failed; false unless ready. */
  async function until(what: string, ready: () => Promise<boolean> | boolean): Promise<boolean> {
    phase = what
    for (;;) {
      if (stopped || failure !== null) return false
      if (await ready()) return true
      await sleep(250)
    }
  }

  async function boot(): Promise<void> {
    const epochMs = o.epochMs ?? 60_000
    // Old keys stay usable for half an epoch, and at least 10 s (at most the epoch: only the
    // previous epoch's keys are kept), so that a demo ack's trip of up to 4-5 s crosses a short
    // epoch's change on keys that still work.
    const graceMs = Math.min(epochMs, Math.max(Math.floor(epochMs / 2), 10_000))
    const observedLayer = RELAY_LAYOUT.find(r => r.name === o.observe?.relay)?.layer
    const net = await launchNetwork(c, {
      root,
      supervisor: sup,
      logLevel: 'warn',
      config: { replay: { capacity: 1_000_000 } },
      mode: {
        kind: 'directory',
        network: 'devnet',
        mixing: DEVNET_MIXING,
        epochMs,
        graceMs,
        maxSkewMs: Math.min(30_000, Math.floor(epochMs / 4))
      },
      advertise: async r => {
        if (
          o.observe === undefined ||
          observedLayer === undefined ||
          (r.name !== o.observe.relay && r.layer !== nextLayer(observedLayer))
        )
          return r.port
        // The relay publishes the tap's address; the tap forwards to the relay's real port.
        const address = await freePort()
        taps.push(new Tap(address, r.port, r.name === o.observe.relay ? o.observe.onInput : o.observe.onOutput))
        return address
      }
    })
    const authorityFlags = net.refs.flatMap(a => ['--authority', `${a.url}=${a.publicKey}`])
    const nodes = net.relays
    const [gwA, gwB] = [net.byName(ENTRY.name).keys.id, net.byName(EXIT.name).keys.id]
    // The ingress and the stand-in homeserver, made with the operator's commands.
    const [hsPort, apiPort, ingressMetrics] = [await freePort(), await freePort(), await freePort()]
    const hsUrl = `http://127.0.0.1:${hsPort}`
    const ingressConfig = join(root, 'ingress.yaml')
    const made = JSON.parse(
      sealmix([
        'init',
        '--role',
        'ingress',
        '--data-dir',
        join(root, 'ingress'),
        '--server-name',
        SERVER,
        '--homeserver',
        hsUrl,
        ...authorityFlags,
        '--out',
        ingressConfig,
        '--registration',
        join(root, 'registration.yaml'),
        '--api',
        `127.0.0.1:${apiPort}`,
        '--metrics',
        `127.0.0.1:${ingressMetrics}`,
        '--gateway',
        gwA,
        '--gateway',
        gwB
      ])
    ) as { ingress: { id: string }; serverRootKey: string | null }
    if (made.serverRootKey === null)
      throw new DevnetError(
        `the ingress in ${root} has no server root key (keys/server-root.key): use a new --data-dir`
      )
    const serverRootKey = made.serverRootKey
    const asToken = (parseYaml(readFileSync(ingressConfig, 'utf8')) as { homeserver: { asToken: string } }).homeserver
      .asToken
    // alice and bob chat (and are in the room); carol is only in the room.
    const users = [
      ['alice', 'ALICEPHONE', gwA],
      ['bob', 'BOBLAPTOP', gwB],
      ['carol', 'CAROLDESK', gwA]
    ] as const
    // The web chat page's devices: a second device of alice and of bob, each chatting with the other's Node device.
    const webUsers = [
      ['alice-web', 'ALICEWEB', gwA],
      ['bob-web', 'BOBWEB', gwB]
    ] as const
    const hsUsers = []
    for (const [name, device, gateway] of [...users, ...webUsers]) {
      const user = name.replace(/-web$/, '')
      // A new profile (new keys) each start: the state a previous run kept for the old one cannot be opened with them.
      rmSync(join(root, `${name}.state`), { recursive: true, force: true })
      const token = Buffer.alloc(24)
      c.randomFill(token)
      writeSecretFile(join(root, `${name}.token`), token.toString('hex'))
      hsUsers.push({ userId: `@${user}:${SERVER}`, deviceId: device, accessToken: token.toString('hex') })
      sealmix([
        'init',
        '--role',
        'client',
        '--user',
        `@${user}:${SERVER}`,
        '--device',
        device,
        '--token-file',
        join(root, `${name}.token`),
        '--homeserver',
        hsUrl,
        '--ingress-api',
        `http://127.0.0.1:${apiPort}`,
        '--gateway',
        gateway,
        ...authorityFlags,
        '--trust',
        `${SERVER}=${made.serverRootKey}`,
        '--out',
        join(root, `${name}.profile.json`),
        '--contact-out',
        join(root, `${name}.contact.json`)
      ])
    }
    writeSecretFile(
      join(root, 'homeserver.json'),
      JSON.stringify({ serverName: SERVER, asToken, users: hsUsers, registration: join(root, 'registration.yaml') })
    )

    for (const t of taps) await t.start()
    o.print(
      `devnet: ${net.authorities.length} directory authorities, ${nodes.length} relays, an ingress, a stand-in homeserver and 3 demo users on 127.0.0.1; epochs of ${epochMs / 1000} s; data in ${root}${temporary ? ' (temporary)' : ''}`
    )
    for (const a of net.authorities) o.print(`  ${a.name.padEnd(11)} ${a.url}/v1/document/current`)
    for (const n of nodes) o.print(`  ${n.name.padEnd(11)} metrics http://127.0.0.1:${n.metricsPort}/metrics`)
    o.print(`  ingress     metrics http://127.0.0.1:${ingressMetrics}/metrics, client API http://127.0.0.1:${apiPort}`)

    let atHomeserver = 0
    sup.start(
      'homeserver',
      ['standin-homeserver', '--config', join(root, 'homeserver.json'), '--port', String(hsPort)],
      l => {
        if (l.startsWith('homeserver')) atHomeserver++
      }
    )
    // Relays and the ingress first: each polls for the authorities and says so once it runs.
    const polling = new Set<string>()
    const onLog =
      (name: string) =>
      (l: string): void => {
        if (eventOf(l) === 'directory_wait') polling.add(name)
      }
    for (const n of nodes) await net.start(n, 'process', { onLine: onLog(n.name) })
    sup.start('ingress', ['ingress', '--config', ingressConfig], onLog('ingress'))
    const tally = o.tally ?? new DemoTally()
    const rooms = new RoomTally()
    let listed = '-'
    statusTimer = setInterval(() => {
      void Promise.all([...nodes.map(async n => await scrape(n.metricsPort)), scrape(ingressMetrics)]).then(ms => {
        if (stopped) return
        const ing = ms.pop()!
        const down = sup.down
        const state = phase === 'running' ? '' : ` | starting: ${phase}`
        status(
          `devnet: ${relaySummary(ms)} | ingress ${ing.get('sealmix_ingress_gateway_links{state="up"}') ?? 0}/2 links, ${ing.get('sealmix_ingress_messages_total{result="delivered"}') ?? 0} delivered | homeserver got ${atHomeserver} | ${tally.summary()} | ${rooms.summary()}${state}${down.length > 0 ? ` | DOWN: ${down.join(', ')}` : ''}`
        )
      })
    }, 2000)
    if (
      !(await until(`relays and ingress starting (${polling.size}/${POLLERS} polling)`, () => {
        phase = `relays and ingress starting (${polling.size}/${POLLERS} polling)`
        return polling.size === POLLERS
      }))
    )
      return

    // Genesis a few seconds ahead: every relay's first descriptor makes epoch 0's document. Each
    // authority's operator admits the relays and the devnet's server with its root key, which binds its ingress.
    await net.startAuthorities({
      genesisMs: Date.now() + GENESIS_LEAD_MS,
      servers: [{ name: SERVER, rootKeys: [serverRootKey] }],
      run: 'process'
    })
    // What the clients will see: a document signed by a majority, checked as every node checks it.
    const dir = new DirectoryClient({ crypto: c, authorities: net.refs, transport: httpTransport(), now: Date.now })
    let missedEpoch = -1
    const complete = async (): Promise<boolean> => {
      const doc: NetworkDocument | null = await dir.refresh().catch(() => null)
      if (doc === null) {
        phase = 'waiting for the first network document'
        return false
      }
      const relays = nodes.filter(n => doc.relays.some(r => r.id === n.keys.id)).length
      const ingress = doc.ingresses.some(i => i.id === made.ingress.id && i.gateways.length > 0)
      listed = `${relays}/${nodes.length} relays${ingress ? ' and the ingress' : ', no ingress'}`
      phase = `epoch ${doc.epoch}'s document lists ${listed}; waiting for one that lists all`
      if (relays === nodes.length && ingress) return true
      if (doc.epoch !== missedEpoch) {
        missedEpoch = doc.epoch
        o.print(
          `devnet: epoch ${doc.epoch}'s document lists ${listed}: the nodes missing from it are listed from a later epoch on (epochs of ${epochMs / 1000} s)`
        )
      }
      return false
    }
    if (!(await until('waiting for the first network document', complete))) return
    // Every relay link (6), each counted at both ends, and the ingress's 2 links to its gateways.
    const linked = async (): Promise<boolean> => {
      const ms = await Promise.all(nodes.map(async n => await scrape(n.metricsPort)))
      const peers = ms.reduce((sum, m) => sum + (m.get('sealmix_connections{link="peer"}') ?? 0), 0)
      return (
        peers >= 2 * RELAY_LINKS &&
        ((await scrape(ingressMetrics)).get('sealmix_ingress_gateway_links{state="up"}') ?? 0) >= 2
      )
    }
    if (!(await until('the relays and the ingress linking', linked))) return

    for (const name of ['alice', 'bob'] as const) {
      const peer = name === 'alice' ? 'bob' : 'alice'
      sup.start(
        name,
        [
          'listen',
          '--profile',
          join(root, `${name}.profile.json`),
          '--peer',
          join(root, `${peer}.contact.json`),
          '--peer',
          join(root, `${peer}-web.contact.json`),
          '--every',
          name === 'alice' ? '2s' : '3s',
          // Their outbox and SURB tokens survive a restart of the demo client (a reused --data-dir).
          '--state',
          join(root, `${name}.state`),
          '--json'
        ],
        l => {
          const e = tally.onLine(l)
          if (e?.event === 'received')
            o.print(`  chat: ${name} got ${quoted(String(e.text))} from ${String(e.from)} (certificate verified)`)
          else if (e?.event === 'waiting' || e?.event === 'failed' || e?.event === 'send_error')
            o.print(`  ${name}: ${l}`)
        }
      )
    }
    startRoomDemo(rooms)
    await startWebChat()
    phase = 'running'
    o.print(
      'devnet: every relay and the ingress are listed and linked; the demo clients start (traffic: demo messages, client drop and loop cover, relay loop cover and link padding)'
    )
    o.print(
      `devnet: alice and bob chat; alice, bob and carol share a sealed room (one process, three clients), where each member verifies who sent each message; once carol has had ${ROOM_BLOCK_AFTER} messages delivered, alice blocks her (a new room key, shared with bob only) and the ingress refuses carol's next message`
    )
    await o.stop
  }

  /** The web chat page, as alice's or bob's browser device, chatting with the other's Node device. */
  async function startWebChat(): Promise<void> {
    const missing = missingWebFiles()
    if (missing.length > 0) {
      o.print(`devnet: no web chat page: ${missing.join(', ')} missing (npm run build makes them)`)
      return
    }
    const read = (f: string): unknown => JSON.parse(readFileSync(join(root, f), 'utf8'))
    const web = await serveWebChat('127.0.0.1', o.webPort ?? 0, [
      {
        name: 'alice',
        userId: `@alice:${SERVER}`,
        profile: read('alice-web.profile.json'),
        peer: { name: 'bob', card: read('bob.contact.json') }
      },
      {
        name: 'bob',
        userId: `@bob:${SERVER}`,
        profile: read('bob-web.profile.json'),
        peer: { name: 'alice', card: read('alice.contact.json') }
      }
    ])
    closers.push(async () => await web.close())
    const webUrl = `http://127.0.0.1:${web.port}/`
    o.onWeb?.(webUrl)
    o.print(
      `devnet: web chat ${webUrl} (open it in a browser, pick alice or bob, and chat with the other through the mixnet)`
    )
  }

  /** `sealmix room-demo` for alice, bob and carol; its lines shown as the chat's are, its messages counted. */
  function startRoomDemo(rooms: RoomTally): void {
    const names = ['alice', 'bob', 'carol']
    sup.start(
      'room-demo',
      [
        'room-demo',
        ...names.flatMap(n => ['--profile', join(root, `${n}.profile.json`)]),
        ...names.flatMap(n => ['--contact', join(root, `${n}.contact.json`)]),
        '--every',
        ROOM_EVERY,
        '--block-after',
        String(ROOM_BLOCK_AFTER),
        '--json'
      ],
      l => {
        const e = rooms.onLine(l)
        if (e !== null && !ROOM_QUIET.has(e.event)) o.print(`  ${roomDemoText(e)}`)
      }
    )
  }
}

/**
 * The SDK in a browser (`npm run bench:browser`), in Debian's Chromium driven by playwright-core,
 * each figure beside its Node baseline from the same run:
 *
 * 1. Packet creation: real packets per second (browser-work.ts: what the SDK does per fragment,
 *    a SURB, the sealed payload and the forward packet, r = 5, U = 2048) in a module Web Worker with
 *    the browser binding (createBrowserCrypto), in batches interleaved with the same work in this
 *    process with libsodium-wrappers (the floor), the 'browser' binding and sodium-native. Both
 *    sides first build a packet from a repeatable rng and must agree on its header. Beside it, as
 *    context for 2, the 2048 random bytes that every drop and loop cover packet carries.
 * 2. The SDK's CPU share: a SealmixClient at the default cover rates (CLIENT_DEFAULTS: 2 send
 *    slots and 0.5 loops a second) in a Chromium worker, from dist/sealmix-client.js, and two Node
 *    clients at the same rates in child processes (libsodium-wrappers, the floor, and sodium-native),
 *    all on a devnet (runDevnet) during the same window. The worker's CPU time is its thread's
 *    /proc schedstat (CDP's Performance domain does not exist in worker targets); Node's is its
 *    main thread's, the same scope. Each window is preceded by a control: a 1000 ms spin on each
 *    measured thread must read as 1000 ms of CPU time and time waiting for a core, or the run gives
 *    no value.
 * 3. The bundle: bytes and gzip bytes of dist/sealmix-client.js, with the largest inputs from an
 *    esbuild metafile of the same build.
 *
 * `npm run bench:browser` builds first; without chromium the suite says which package to install
 * and gives no results.
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build, type Plugin } from 'esbuild'
import type { Browser, Page } from 'playwright-core'
import { type BindingName, CLIENT_DEFAULTS, NETWORK_GEOMETRY as G, loadCrypto } from '../../mix/index.ts'
import { BROWSER_OUTPUTS, nodeOnly } from '../../tools/build/browser.ts'
import { runDevnet } from '../../tools/index.ts'
import { chromiumPath, launchChromium } from '../helpers/chromium.ts'
import type { ClientSample } from './browser-client.ts'
import type { NodeClientAnswer, NodeClientRequest, NodeSample } from './browser-node-client.ts'
import { calibrate, packetCheck, packetWork, payloadRandom, timeBatch } from './browser-work.ts'
import { type BenchResult, median } from './harness.ts'

const HERE = dirname(fileURLToPath(import.meta.url))
const ROOT = join(HERE, '..', '..')

/** Interleaved rounds of packet creation, each side's batch about this long. */
const ROUNDS = 9
const BATCH_MS = 250
/** The cover payload's random bytes: context for the CPU share, measured more briefly. */
const RANDOM_ROUNDS = 5
const RANDOM_BATCH_MS = 100
/** The CPU window. */
const WINDOW_S = Number(process.env.SEALMIX_BENCH_BROWSER_SECONDS ?? 20)
/** After every client is connected and sending, before the control and the window. */
const WARMUP_MS = 3000
const SPIN_MS = 1000
/**
 * The control passes when the spin's CPU time plus its time runnable but waiting for a core (the
 * machine is shared: a spin timed by the wall clock is not all CPU) is within this share of its
 * length. The worker's is read from outside, so it also holds one wake-up and whatever client
 * step was due when the spin ended.
 */
const SPIN_TOLERANCE = 0.15
/** Failure deadlines, never waits. */
const DEVNET_LIMIT_MS = 180_000
const BOOT_LIMIT_MS = 60_000
const CALL_LIMIT_MS = 120_000
const RATES = {
  clientRatePerSec: CLIENT_DEFAULTS.clientRatePerSec,
  clientLoopRatePerSec: CLIENT_DEFAULTS.clientLoopRatePerSec
}
/** The baseline first: every ratio is to it. */
const NODE_BINDINGS: readonly BindingName[] = ['libsodium-wrappers', 'browser', 'sodium-native']

/** harness.ts's unit list has no percentage or size; these results are one. */
const unit = (u: '%' | 'bytes'): BenchResult['unit'] => u as string as BenchResult['unit']
const r2 = (x: number): number => Math.round(x * 100) / 100
const r3 = (x: number): number => Math.round(x * 1000) / 1000
const sleep = async (ms: number): Promise<void> => {
  await new Promise(resolve => setTimeout(resolve, ms))
}

// ---------------------------------------------------------------------------------------------
// Bundles, with the settings of tools/build/browser.ts and its stand-in for Node-only imports.

/** The client worker runs the shipped SDK: its import of the SDK's entry is the bundle served beside it. */
const shippedSdk: Plugin = {
  name: 'shipped-sdk',
  setup(b) {
    b.onResolve({ filter: /client\/browser\/index\.ts$/ }, () => ({ path: './sealmix-client.js', external: true }))
  }
}
const COMMON = {
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
  absWorkingDir: ROOT
} as const
const INJECT = ['client/browser/buffer-global.ts']

interface Built {
  readonly dir: string
  /** The largest inputs of the SDK bundle, and whether a fresh build equals dist/'s. */
  readonly sizeNote: string
}

async function buildBench(): Promise<Built> {
  const dir = mkdtempSync(join(tmpdir(), 'sealmix-browser-bench-'))
  state.dir = dir
  await build({
    ...COMMON,
    entryPoints: ['test/bench/browser-packet-worker.ts'],
    outfile: join(dir, 'packet-worker.js'),
    inject: INJECT,
    plugins: [nodeOnly]
  })
  await build({
    ...COMMON,
    entryPoints: ['test/bench/browser-client-worker.ts'],
    outfile: join(dir, 'client-worker.js'),
    plugins: [shippedSdk, nodeOnly]
  })
  // The SDK bundle again, in memory with a metafile: what takes its space.
  const meta = await build({
    ...COMMON,
    entryPoints: ['client/browser/index.ts'],
    outfile: join(dir, 'sealmix-client.js'),
    inject: INJECT,
    plugins: [nodeOnly],
    metafile: true,
    write: false
  })
  const out = Object.entries(meta.metafile.outputs).find(([f]) => f.endsWith('sealmix-client.js'))![1]
  const groups = new Map<string, number>()
  for (const [path, i] of Object.entries(out.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)
    const key = m !== null ? m[1]! : path.split('/').slice(0, 2).join('/')
    groups.set(key, (groups.get(key) ?? 0) + i.bytesInOutput)
  }
  const top = [...groups]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([k, v]) => `${k} ${Math.round(v / 1024)} KiB`)
  const fresh = meta.outputFiles.find(f => f.path.endsWith('sealmix-client.js'))!.contents.length
  const shipped = readFileSync(join(ROOT, BROWSER_OUTPUTS.sdk)).length
  const same = fresh === shipped ? 'a fresh build is the same size' : `a fresh build is ${fresh} bytes: dist/ is stale`
  return { dir, sizeNote: `largest inputs (minified bytes in the bundle): ${top.join(', ')}; ${same}` }
}

// ---------------------------------------------------------------------------------------------
// What the suite starts: closed by closeBrowserBench whatever happens.

const state: {
  browser: Browser | null
  server: Server | null
  url: string
  dir: string | null
  built: Built | null
  /** This run's devnet, clients and browser context, last first. */
  closers: Array<() => Promise<void>>
} = { browser: null, server: null, url: '', dir: null, built: null, closers: [] }

let saidNoChromium = false

async function closeRun(): Promise<void> {
  for (const f of state.closers.splice(0).reverse()) await f().catch(() => undefined)
}

export async function closeBrowserBench(): Promise<void> {
  await closeRun()
  await state.browser?.close().catch(() => undefined)
  state.browser = null
  await new Promise<void>(resolve => (state.server === null ? resolve() : state.server.close(() => resolve())))
  state.server = null
  if (state.dir !== null) rmSync(state.dir, { recursive: true, force: true })
  state.dir = null
  state.built = null
}

/** The bench page and its workers, and the shipped SDK bundle, on loopback. */
async function serve(dir: string): Promise<{ server: Server; url: string }> {
  const files: Record<string, string> = {
    '/sealmix-client.js': join(ROOT, BROWSER_OUTPUTS.sdk),
    '/packet-worker.js': join(dir, 'packet-worker.js'),
    '/client-worker.js': join(dir, 'client-worker.js')
  }
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      res.end('<!doctype html><meta charset="utf-8"><title>sealmix browser bench</title>')
      return
    }
    const f = files[path]
    if (f === undefined) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' })
    res.end(readFileSync(f))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const a = server.address()
  if (a === null || typeof a === 'string') throw new Error('bench: no address')
  return { server, url: `http://127.0.0.1:${a.port}/` }
}

// ---------------------------------------------------------------------------------------------
// Workers in the page: one request at a time each, answered by id.

interface Answer {
  readonly id: number
  readonly ok: boolean
  readonly value?: unknown
  readonly error?: string
}

async function startWorker(page: Page, name: string, path: string): Promise<void> {
  await page.evaluate(
    ([n, p]) => {
      const g = globalThis as unknown as { benchWorkers?: Record<string, Worker>; benchErrors?: string[] }
      g.benchWorkers ??= {}
      g.benchErrors ??= []
      const w = new Worker(p!, { type: 'module' })
      w.addEventListener('error', e => g.benchErrors!.push(`${n}: ${e.message}`))
      g.benchWorkers[n!] = w
    },
    [name, path]
  )
}

async function call<T>(
  page: Page,
  name: string,
  request: Record<string, unknown>,
  limitMs = CALL_LIMIT_MS
): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // The worker's load errors, if any, say why it never answered.
      void page
        .evaluate(() => (globalThis as unknown as { benchErrors?: string[] }).benchErrors ?? [])
        .catch(() => [] as string[])
        .then(errors =>
          reject(
            new Error(
              `bench: the ${name} worker did not answer ${String(request.op)} in ${limitMs} ms ${errors.join('; ')}`
            )
          )
        )
    }, limitMs)
  })
  const answer = page.evaluate(
    async ([n, r]) =>
      await new Promise<Answer>(resolve => {
        const g = globalThis as unknown as { benchWorkers: Record<string, Worker>; benchNext?: number }
        const w = g.benchWorkers[n as string]!
        const id = (g.benchNext ?? 0) + 1
        g.benchNext = id
        // No named function in here: tsx would wrap it in a helper the page does not have.
        const done = new AbortController()
        w.addEventListener(
          'message',
          (e: MessageEvent<Answer>) => {
            if (e.data.id !== id) return
            done.abort()
            resolve(e.data)
          },
          { signal: done.signal }
        )
        w.postMessage({ ...(r as Record<string, unknown>), id })
      }),
    [name, request] as const
  )
  try {
    const a = await Promise.race([answer, limit])
    if (!a.ok) throw new Error(`bench: the ${name} worker failed ${String(request.op)}: ${a.error}`)
    return a.value as T
  } finally {
    clearTimeout(timer)
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Packet creation.

async function packetCreation(page: Page): Promise<BenchResult[]> {
  await startWorker(page, 'packet', '/packet-worker.js')
  const init = await call<{ check: string }>(page, 'packet', { op: 'init' })
  const node = await Promise.all(
    NODE_BINDINGS.map(async b => {
      const c = await loadCrypto(b)
      return { binding: b, check: packetCheck(c), work: packetWork(c), random: payloadRandom(c) }
    })
  )
  for (const n of node)
    if (n.check !== init.check)
      throw new Error(`bench: the browser built another packet than Node's ${n.binding}: ${init.check} vs ${n.check}`)
  // Warm-up (JIT, the WebAssembly tiers) on both sides, then batch sizes of about BATCH_MS each.
  await call(page, 'packet', { op: 'batch', n: 50 })
  for (const n of node) timeBatch(() => n.work.once(), 50)
  const nBrowser = await call<number>(page, 'packet', { op: 'calibrate', ms: BATCH_MS })
  const nNode = node.map(n => calibrate(() => n.work.once(), BATCH_MS))
  // The machine is shared: say how busy it was.
  const load = loadavg()[0]!.toFixed(2)
  const browserUs: number[] = []
  const nodeUs: number[][] = node.map(() => [])
  for (let r = 0; r < ROUNDS; r++) {
    browserUs.push(await call<number>(page, 'packet', { op: 'batch', n: nBrowser }))
    node.forEach((n, i) => {
      nodeUs[i]!.push(timeBatch(() => n.work.once(), nNode[i]!))
    })
  }
  // The cover payload's random bytes, the same way: fewer, shorter rounds (it is context, not the target).
  await call(page, 'packet', { op: 'batch-random', n: 20 })
  for (const n of node) timeBatch(n.random, 20)
  const nBrowserRandom = await call<number>(page, 'packet', { op: 'calibrate-random', ms: RANDOM_BATCH_MS })
  const nNodeRandom = node.map(n => calibrate(n.random, RANDOM_BATCH_MS))
  const browserRandomUs: number[] = []
  const nodeRandomUs: number[][] = node.map(() => [])
  for (let r = 0; r < RANDOM_ROUNDS; r++) {
    browserRandomUs.push(await call<number>(page, 'packet', { op: 'batch-random', n: nBrowserRandom }))
    node.forEach((n, i) => {
      nodeRandomUs[i]!.push(timeBatch(n.random, nNodeRandom[i]!))
    })
  }
  await page.evaluate(() => {
    ;(globalThis as unknown as { benchWorkers: Record<string, Worker> }).benchWorkers.packet!.terminate()
  })
  const bRandomUs = median(browserRandomUs)
  const nRandomUs = nodeRandomUs.map(median)
  const bUs = median(browserUs)
  const nUs = nodeUs.map(median)
  const floorUs = nUs[0]!
  const rate = (us: number): number => 1e6 / us
  const chromium = state.browser?.version() ?? 'unknown'
  const work = `one real packet as client/sdk.ts #sendFragment: SURB (5 hops) + sealIngressPayload + forward packet (5 hops), r=5, U=2048`
  const rounds = `median of ${ROUNDS} interleaved rounds of about ${BATCH_MS} ms a side (${nBrowser} packets in the worker, ${nNode.join('/')} in Node)`
  const out: BenchResult[] = [
    {
      name: 'browser/packet-create',
      unit: 'packets/s',
      value: r2(rate(bUs)),
      floor: r2(rate(floorUs)),
      ratio: r3(floorUs / bUs),
      note: `${work}; Chromium ${chromium} module Web Worker, browser binding (createBrowserCrypto, in a bench bundle of the same sources with the settings of tools/build/browser.ts: dist/sealmix-client.js does not export Sphinx); floor = Node ${process.version} libsodium-wrappers, same work, same run; ratio = browser rate / Node rate (within 3x: >= 0.333); ${rounds}; both sides built the same header from a repeatable rng (${init.check}); 1-minute load ${load} before the rounds`
    },
    {
      name: 'browser/packet-create-time',
      unit: 'us/op',
      value: r2(bUs),
      floor: r2(floorUs),
      ratio: r3(bUs / floorUs),
      note: `the same measurement as time per packet: ratio = Node libsodium-wrappers rate / browser rate (the issue's target: <= 3)`
    }
  ]
  node.forEach((n, i) => {
    const us = nUs[i]!
    out.push({
      name: `node/packet-create/${n.binding}`,
      unit: 'packets/s',
      value: r2(rate(us)),
      ...(i === 0
        ? { note: `${work}; Node ${process.version}, this process; the floor of browser/packet-create` }
        : {
            floor: r2(rate(floorUs)),
            ratio: r3(floorUs / us),
            note: `the same work in Node with the ${n.binding} binding; floor = libsodium-wrappers; ratio = rate / floor`
          })
    })
  })
  const randomWhat = `${G.userPayloadBytes} random bytes from systemRng (the binding's randomFill), the payload of every drop and loop cover packet (client/sdk.ts #sendDrop, #sendLoop)`
  const randomRounds = `median of ${RANDOM_ROUNDS} interleaved rounds of about ${RANDOM_BATCH_MS} ms a side`
  out.push({
    name: 'browser/cover-payload-random',
    unit: 'us/op',
    value: r2(bRandomUs),
    floor: r2(nRandomUs[0]!),
    ratio: r3(bRandomUs / nRandomUs[0]!),
    note: `${randomWhat}, in the Chromium worker with the browser binding; floor = Node libsodium-wrappers; ${randomRounds}`
  })
  node.forEach((n, i) => {
    out.push({
      name: `node/cover-payload-random/${n.binding}`,
      unit: 'us/op',
      value: r2(nRandomUs[i]!),
      ...(i === 0
        ? { note: `${randomWhat}; Node ${process.version}, this process` }
        : {
            floor: r2(nRandomUs[0]!),
            ratio: r3(nRandomUs[i]! / nRandomUs[0]!),
            note: `the same with ${n.binding}; floor = libsodium-wrappers`
          })
    })
  })
  return out
}

// ---------------------------------------------------------------------------------------------
// 2. The SDK's CPU share. /proc: this process's descendants are the devnet's and Chromium's.

function descendants(root: number): number[] {
  const kids = new Map<number, number[]>()
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      const list = kids.get(ppid) ?? []
      list.push(Number(e))
      kids.set(ppid, list)
    } catch {
      /* gone meanwhile */
    }
  }
  const out: number[] = []
  const walk = (p: number): void => {
    for (const k of kids.get(p) ?? []) {
      out.push(k)
      walk(k)
    }
  }
  walk(root)
  return out
}

const isChromium = (pid: number): boolean => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!.includes('chromium')
  } catch {
    return false
  }
}

/** Chromium's Web Worker threads (named "DedicatedWorker thread", cut to 15 characters by the kernel). */
function workerThreads(): string[] {
  const out: string[] = []
  for (const pid of descendants(process.pid).filter(isChromium)) {
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`))
        if (readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() === 'DedicatedWorker')
          out.push(`${pid}/${tid}`)
    } catch {
      /* gone meanwhile */
    }
  }
  return out
}

/** A thread's schedstat: CPU time and time runnable but waiting for a core, ns. */
function sched(t: string): { cpu: number; wait: number } {
  const [pid, tid] = t.split('/')
  const [cpu, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')
  return { cpu: Number(cpu), wait: Number(wait) }
}

let clockTicks = 0
/** CPU time of all Chromium's processes, ns (utime + stime, in clock ticks of 10 ms). */
function chromiumNs(): number {
  if (clockTicks === 0) clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  let ticks = 0
  for (const pid of descendants(process.pid).filter(isChromium)) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const s = f.slice(f.lastIndexOf(')') + 2).split(' ')
      ticks += Number(s[11]) + Number(s[12])
    } catch {
      /* gone meanwhile */
    }
  }
  return (ticks * 1e9) / clockTicks
}

interface NodeClient {
  readonly binding: BindingName
  call<T>(r: Record<string, unknown>): Promise<T>
}

function nodeClient(binding: BindingName): NodeClient {
  const child: ChildProcess = fork(join(HERE, 'browser-node-client.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  state.closers.push(async () => {
    if (child.connected) {
      await callChild(child, { op: 'close' }).catch(() => undefined)
      child.disconnect()
    }
    const t = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(t)
  })
  let next = 0
  const waiting = new Map<number, (a: NodeClientAnswer) => void>()
  child.on('message', (a: NodeClientAnswer) => {
    waiting.get(a.id)?.(a)
    waiting.delete(a.id)
  })
  const callChild = async <T>(c: ChildProcess, r: Record<string, unknown>): Promise<T> => {
    const id = ++next
    const a = await new Promise<NodeClientAnswer>((resolve, reject) => {
      waiting.set(id, resolve)
      c.send({ ...r, id } as NodeClientRequest, e => {
        if (e !== null) reject(e)
      })
      void exited.then(() => reject(new Error(`bench: the Node ${binding} client exited`)))
    })
    if (!a.ok) throw new Error(`bench: the Node ${binding} client failed ${String(r.op)}: ${a.error}`)
    return a.value as T
  }
  return { binding, call: async r => await callChild(child, r) }
}

async function startDevnet(): Promise<string> {
  let stop: () => void = () => {}
  const stopped = new Promise<void>(resolve => {
    stop = resolve
  })
  const lines: string[] = []
  let url = ''
  let ready: () => void = () => {}
  const isReady = new Promise<void>(resolve => {
    ready = resolve
  })
  const run = runDevnet({
    print: line => {
      lines.push(line)
      if (lines.length > 40) lines.shift()
      if (line.includes('every relay and the ingress are listed and linked')) ready()
    },
    status: () => {},
    onWeb: u => {
      url = u
    },
    stop: stopped
  })
  state.closers.push(async () => {
    stop()
    await run.catch(() => undefined)
  })
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`bench: the devnet did not start in ${DEVNET_LIMIT_MS} ms`)),
      DEVNET_LIMIT_MS
    )
  })
  const ended = run.then(() => {
    throw new Error('bench: the devnet stopped while starting')
  })
  try {
    await Promise.race([isReady, ended, limit])
  } catch (e) {
    throw new Error(`${(e as Error).message}; it said:\n${lines.join('\n')}`)
  } finally {
    clearTimeout(timer)
  }
  if (url === '') throw new Error(`bench: the devnet serves no web page (npm run build makes it):\n${lines.join('\n')}`)
  return url
}

const randomHex = (n: number): string => randomBytes(n).toString('hex')

async function clientCpu(page: Page, run: number): Promise<BenchResult[]> {
  const web = await startDevnet()
  const users = (
    (await (await fetch(`${web}devnet.json`)).json()) as { users: Array<{ name: string; profile: unknown }> }
  ).users
  const profileOf = (name: string): Record<string, unknown> => {
    const u = users.find(x => x.name === name)
    if (u === undefined) throw new Error(`bench: the devnet has no web user ${name}`)
    return u.profile as Record<string, unknown>
  }
  // The Node clients share bob's browser device (alice's runs in Chromium) with mailboxes of their own.
  const nodes = (['libsodium-wrappers', 'sodium-native'] as const).map(b => nodeClient(b))
  const stores = mkdtempSync(join(tmpdir(), 'sealmix-browser-bench-stores-'))
  state.closers.unshift(async () => rmSync(stores, { recursive: true, force: true }))
  const before = new Set(workerThreads())
  await startWorker(page, 'client', '/client-worker.js')
  await Promise.all([
    call(page, 'client', {
      op: 'init',
      profile: profileOf('alice'),
      storeLocation: `sealmix-browser-bench-${run}`,
      rates: RATES,
      deadlineMs: BOOT_LIMIT_MS
    }),
    ...nodes.map(async (n, i) => {
      const bob = profileOf('bob')
      await n.call({
        op: 'init',
        binding: n.binding,
        profile: i === 0 ? bob : { ...bob, mailboxId: randomHex(32) },
        storeLocation: join(stores, n.binding),
        rates: RATES,
        deadlineMs: BOOT_LIMIT_MS
      })
    })
  ])
  state.closers.push(async () => {
    await call(page, 'client', { op: 'close' }, 10_000).catch(() => undefined)
  })
  const fresh = workerThreads().filter(t => !before.has(t))
  if (fresh.length !== 1) throw new Error(`bench: expected one new worker thread in Chromium, found ${fresh.length}`)
  const thread = fresh[0]!
  const sampleBrowser = async (): Promise<ClientSample & { ns: number; chromiumNs: number; at: number }> => {
    const s = await call<ClientSample>(page, 'client', { op: 'sample' })
    return { ...s, ns: sched(thread).cpu, chromiumNs: chromiumNs(), at: performance.now() }
  }
  const sampleNodes = async (): Promise<NodeSample[]> =>
    await Promise.all(nodes.map(async n => await n.call<NodeSample>({ op: 'sample' })))

  // Every client connected and sending before anything is measured.
  const until = performance.now() + BOOT_LIMIT_MS
  for (;;) {
    const b = await sampleBrowser()
    const ns = await sampleNodes()
    if ([b, ...ns].every(s => s.connected && s.packets > 0)) break
    if (performance.now() > until)
      throw new Error(`bench: not every client connected and sending: ${JSON.stringify([b, ...ns].map(s => s.stats))}`)
    await sleep(250)
  }
  await sleep(WARMUP_MS)

  // Control: a spin of SPIN_MS on each measured thread reads as SPIN_MS of CPU time and waiting for a core.
  const c0 = sched(thread)
  await call(page, 'client', { op: 'spin', ms: SPIN_MS })
  const c1 = sched(thread)
  const spins = [{ cpu: (c1.cpu - c0.cpu) / 1e6, wait: (c1.wait - c0.wait) / 1e6 }]
  for (const n of nodes) {
    const x = await n.call<{ cpu: number; wait: number }>({ op: 'spin', ms: SPIN_MS })
    spins.push({ cpu: x.cpu / 1e6, wait: x.wait / 1e6 })
  }
  // Not below by more than a few ms: a running thread's schedstat is brought up to date at the scheduler's tick.
  const controlOk = spins.every(
    x => x.cpu + x.wait >= SPIN_MS * 0.97 && x.cpu + x.wait <= SPIN_MS * (1 + SPIN_TOLERANCE)
  )
  const control = `control: a ${SPIN_MS} ms spin read as ${spins.map(x => `${x.cpu.toFixed(0)} ms CPU + ${x.wait.toFixed(0)} ms waiting`).join(' / ')} (worker / Node ${nodes.map(n => n.binding).join(' / ')})${controlOk ? '' : ': OUTSIDE the tolerance, no value'}`

  console.log(`browser: ${control}`)
  const b0 = await sampleBrowser()
  const n0 = await sampleNodes()
  await sleep(WINDOW_S * 1000)
  const b1 = await sampleBrowser()
  const n1 = await sampleNodes()
  const load = loadavg()[0]!.toFixed(2)

  const pct = (ns: number, wallNs: number): number => (100 * ns) / wallNs
  const bWall = (b1.at - b0.at) * 1e6
  const bPct = pct(b1.ns - b0.ns, bWall)
  const bPackets = b1.packets - b0.packets
  const bMsPerPacket = (b1.ns - b0.ns) / 1e6 / bPackets
  const chromePct = pct(b1.chromiumNs - b0.chromiumNs, bWall)
  const node = nodes.map((n, i) => {
    const a = n0[i]!
    const b = n1[i]!
    const wall = b.atNs - a.atNs
    const packets = b.packets - a.packets
    return {
      binding: n.binding,
      pct: pct(b.mainThreadNs - a.mainThreadNs, wall),
      processPct: pct(b.processNs - a.processNs, wall),
      packets,
      msPerPacket: (b.mainThreadNs - a.mainThreadNs) / 1e6 / packets,
      loops: `${b.stats.loopsReturned! - a.stats.loopsReturned!}/${b.stats.loopsSent! - a.stats.loopsSent!}`
    }
  })
  const floor = node[0]!
  const valid = (x: number): number => (controlOk && Number.isFinite(x) ? x : NaN)
  const rates = `${RATES.clientRatePerSec} send slots/s (drop cover when nothing is queued) + ${RATES.clientLoopRatePerSec} loops/s (CLIENT_DEFAULTS), pulls every 1 s`
  const window = `${WINDOW_S} s window on a devnet (5 relays, ingress, demo clients all on this machine)`
  const bLoops = `${b1.stats.loopsReturned! - b0.stats.loopsReturned!}/${b1.stats.loopsSent! - b0.stats.loopsSent!}`
  return [
    {
      name: 'browser/client-cpu',
      unit: unit('%'),
      value: r2(valid(bPct)),
      floor: r2(floor.pct),
      ratio: r3(valid(bPct) / floor.pct),
      note: `% of one core: the Chromium worker thread running a SealmixClient from dist/sealmix-client.js at ${rates}; ${window}; ${bPackets} packets sent (loops back/sent ${bLoops}); all Chromium processes together ${chromePct.toFixed(2)}%; floor = a Node libsodium-wrappers client's main thread in the same window (${floor.packets} packets); ${control}; 1-minute load ${load} at the end`
    },
    {
      name: 'browser/client-cpu-per-packet',
      unit: 'ms',
      value: r2(valid(bMsPerPacket)),
      floor: r2(floor.msPerPacket),
      ratio: r3(valid(bMsPerPacket) / floor.msPerPacket),
      note: `the worker thread's CPU time in the window over the packets it sent (Poisson counts vary; this does not); floor = the same for the Node libsodium-wrappers client`
    },
    ...node.map((n, i) => ({
      name: `node/client-cpu/${n.binding}`,
      unit: unit('%'),
      value: r2(valid(n.pct)),
      ...(i === 0 ? {} : { floor: r2(floor.pct), ratio: r3(valid(n.pct) / floor.pct) }),
      note: `% of one core: main thread of a Node ${process.version} SealmixClient (${n.binding}, ws, LevelDB store) in its own process, same rates and window; ${n.packets} packets (loops back/sent ${n.loops}), ${n.msPerPacket.toFixed(2)} ms a packet; whole process ${n.processPct.toFixed(2)}%`
    }))
  ]
}

// ---------------------------------------------------------------------------------------------
// 3. The bundle.

function bundleSize(built: Built): BenchResult[] {
  const b = readFileSync(join(ROOT, BROWSER_OUTPUTS.sdk))
  const gz = gzipSync(b, { level: 9 }).length
  return [
    {
      name: 'browser/bundle-bytes',
      unit: unit('bytes'),
      value: b.length,
      note: `${BROWSER_OUTPUTS.sdk}, minified ESM; ${built.sizeNote}`
    },
    {
      name: 'browser/bundle-gzip-bytes',
      unit: unit('bytes'),
      value: gz,
      note: `${BROWSER_OUTPUTS.sdk} gzipped at level 9 (as tools/build/browser.ts --json reports it)`
    }
  ]
}

export async function benchBrowser(run: number, _of: number): Promise<BenchResult[]> {
  const executable = chromiumPath()
  if (executable === null) {
    if (!saidNoChromium) console.log('browser: skipped: no chromium; install the Debian package "chromium"')
    saidNoChromium = true
    return []
  }
  state.built ??= await buildBench()
  if (state.server === null) {
    const s = await serve(state.built.dir)
    state.server = s.server
    state.url = s.url
  }
  state.browser ??= await launchChromium(executable)
  try {
    // A fresh context each run: its own IndexedDB, no state from the run before.
    const context = await state.browser.newContext()
    state.closers.push(async () => await context.close())
    const page = await context.newPage()
    await page.goto(state.url)
    const packets = await packetCreation(page)
    const cpu = await clientCpu(page, run)
    return [...packets, ...cpu, ...bundleSize(state.built)]
  } finally {
    await closeRun()
  }
}

/**
 * The devnet's web chat page in real Chromium (Debian's, driven by playwright-core), against a real
 * devnet in this process (runDevnet: authorities, five relays, the ingress and the stand-in
 * homeserver as processes; the Node demo users answer). The SDK runs in the page's Web Worker from
 * the bundle dist/sealmix-client.js, with its state in IndexedDB.
 *
 * - alice's browser device sends to bob's Node device: the page shows the message queued, sent,
 *   acked and delivered, and bob's reply received and verified; no task of the page's main thread
 *   runs over 50 ms of CPU while it sends (a Chromium trace's thread times; the page's long-task
 *   observer, which counts wall time, is reported beside it). Control: a 300 ms task on the page
 *   is seen by both.
 * - A message sent just before a reload (a packet of it has left) is delivered after the reload,
 *   reported by the reloaded page's new worker: the outbox and SURB tokens came back from IndexedDB.
 *   Control: the same with the IndexedDB store deleted at the reload never reports it delivered
 *   (while a later message is).
 * - docs/CLIENTS.md's browser snippets run as written, as page modules of the devnet's origin.
 * A screenshot goes to test-output/browser/web-chat.png.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { runDevnet } from '../../tools/index.ts'
import { chromiumOrSkip, launchChromium, testOutput } from '../helpers/chromium.ts'
import { blocksOf, where } from '../helpers/doc-blocks.ts'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const THIS = relative(ROOT, fileURLToPath(import.meta.url))
/** The docs' browser snippets this test runs (marked `in Chromium by` this file). */
const DOC = 'docs/CLIENTS.md'

/** A failure deadline (never a wait): a message through five hops with mixing delays and acks. */
const DELIVERY_LIMIT_MS = 120_000

interface Probe {
  longestTaskMs: number
  longTasks: number
  ready: boolean
  reached: Array<{ id: string; state: string }>
  delivered: Array<{ id: string; latencyMs: number; stages?: Record<string, number> }>
  status: { connected: boolean; stats: Record<string, number> } | null
}
declare const sealmixDevnet: Probe

/** The log entry of an outgoing message, by its text. */
async function outgoing(page: Page, text: string): Promise<{ id: string; state: string } | null> {
  return await page.evaluate(t => {
    const li = [...document.querySelectorAll<HTMLElement>('#log li.out')].find(
      l => l.querySelector('.text')?.textContent === t
    )
    if (li === undefined) return null
    return { id: li.dataset.id!, state: li.querySelector<HTMLElement>('.state')!.dataset.state! }
  }, text)
}

async function reached(page: Page, id: string, state: string, timeout = DELIVERY_LIMIT_MS): Promise<void> {
  await page.waitForFunction(([i, s]) => sealmixDevnet.reached.some(r => r.id === i && r.state === s), [id, state], {
    timeout,
    polling: 250
  })
}

/**
 * The main thread's tasks in a Chromium trace: wall time, and thread (CPU) time. A long task in
 * wall time alone can be a busy machine that did not schedule the thread; the page's own code
 * holds the thread for the task's thread time.
 */
function mainThreadTasks(trace: Buffer): Array<{ wallMs: number; cpuMs: number }> {
  type Ev = {
    name: string
    ph: string
    pid: number
    tid: number
    dur?: number
    tdur?: number
    args?: { name?: string }
  }
  const events = (JSON.parse(trace.toString('utf8')) as { traceEvents: Ev[] }).traceEvents
  const main = new Set(
    events
      .filter(e => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain')
      .map(e => `${e.pid}/${e.tid}`)
  )
  return events
    .filter(e => e.name === 'RunTask' && e.ph === 'X' && main.has(`${e.pid}/${e.tid}`))
    .map(e => ({ wallMs: (e.dur ?? 0) / 1000, cpuMs: (e.tdur ?? Number.NaN) / 1000 }))
}

/** Bound the issue sets: no task of the page's main thread runs longer than this while it sends. */
const MAIN_THREAD_TASK_MS = 50

async function send(page: Page, text: string): Promise<string> {
  await page.fill('#text', text)
  await page.click('#send')
  await page.waitForFunction(
    t => [...document.querySelectorAll('#log li.out .text')].some(e => e.textContent === t),
    text,
    { timeout: 30_000, polling: 100 }
  )
  return (await outgoing(page, text))!.id
}

/** The pages a test opened: closed after it however it ends, so that no worker of a failed test pulls a mailbox of the next. */
const opened: Page[] = []

/** A page in a context of its own (browser), or in `context` with its other pages (tabs of one browser profile). */
async function newPage(browser: Browser | BrowserContext): Promise<Page> {
  const page = await browser.newPage()
  opened.push(page)
  return page
}

async function open(browser: Browser | BrowserContext, url: string, as: string): Promise<Page> {
  const page = await newPage(browser)
  const errors: string[] = []
  page.on('pageerror', e => errors.push(e.message))
  await page.goto(`${url}?as=${as}`)
  await page.waitForFunction(() => sealmixDevnet.ready, null, { timeout: DELIVERY_LIMIT_MS, polling: 250 })
  assert.deepEqual(errors, [], 'the page threw')
  return page
}

describe('the web chat page in Chromium, against a devnet', function () {
  let executable = ''
  let browser: Browser | null = null
  let work = ''
  let url = ''
  let stop: () => void = () => {}
  let devnet: Promise<void> | null = null
  const lines: string[] = []

  before(async function () {
    executable = chromiumOrSkip(this)
    this.timeout(160_000)
    work = mkdtempSync(join(tmpdir(), 'sealmix-web-'))
    const stopped = new Promise<void>(resolve => {
      stop = resolve
    })
    let ready: () => void = () => {}
    const isReady = new Promise<void>(resolve => {
      ready = resolve
    })
    devnet = runDevnet({
      dataDir: join(work, 'devnet'),
      epochMs: 10_000,
      print: line => {
        lines.push(line)
        if (line.includes('every relay and the ingress are listed and linked')) ready()
      },
      status: () => {},
      onWeb: u => {
        url = u
      },
      stop: stopped
    })
    const ended = devnet.then(() => {
      throw new Error(`the devnet stopped before it was ready:\n${lines.slice(-20).join('\n')}`)
    })
    await Promise.race([isReady, ended])
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/, `no web chat URL; the devnet said:\n${lines.join('\n')}`)
    browser = await launchChromium(executable)
  })

  afterEach(async function () {
    for (const p of opened.splice(0)) await p.close().catch(() => {})
  })

  after(async function () {
    this.timeout(30_000)
    await browser?.close()
    stop()
    await devnet?.catch(() => {})
    if (work !== '') rmSync(work, { recursive: true, force: true })
  })

  it('sends to the Node user: queued, sent, acked, delivered; the reply arrives verified; no long task', async function () {
    this.timeout(DELIVERY_LIMIT_MS * 2 + 60_000)
    const page = await open(browser!, url, 'alice')
    await page.evaluate(() => {
      sealmixDevnet.longTasks = 0
      sealmixDevnet.longestTaskMs = 0
    })
    await browser!.startTracing(page, { categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline'] })
    const text = `hello from chromium ${Date.now()}`
    const id = await send(page, text)
    await reached(page, id, 'delivered')
    const states = await page.evaluate(i => sealmixDevnet.reached.filter(r => r.id === i).map(r => r.state), id)
    assert.deepEqual(states.filter(s => ['queued', 'sent', 'acked', 'delivered'].includes(s)).slice(0, 1), ['queued'])
    for (const s of ['sent', 'acked', 'delivered']) assert.ok(states.includes(s), `never ${s}: ${states.join(', ')}`)
    assert.ok(states.indexOf('sent') < states.indexOf('delivered'))
    // Where the time went crosses from the worker as plain numbers, and adds up to the latency.
    const got = await page.evaluate(i => sealmixDevnet.delivered.find(d => d.id === i), id)
    assert.ok(got?.stages !== undefined, `the delivered event brought no stages: ${JSON.stringify(got)}`)
    const sum = Object.values(got.stages).reduce((a, b) => a + b, 0)
    assert.ok(
      Math.abs(sum - got.latencyMs) <= 1,
      `stages ${JSON.stringify(got.stages)} sum to ${sum}, not ${got.latencyMs}`
    )
    assert.ok(got.stages.flightMs! > 0, 'a message crossed the mixnet in no time')
    assert.match((await page.textContent(`#log li.out[data-id="${id}"] .state`)) ?? '', /through the mixnet and back/)
    await page.waitForFunction(
      t =>
        [...document.querySelectorAll<HTMLElement>('#log li.in')].some(
          li =>
            li.querySelector('.text')?.textContent === t &&
            li.querySelector('.who')?.textContent === '@bob:devnet.local' &&
            li.querySelector<HTMLElement>('.state')?.dataset.state === 'verified'
        ),
      `re: ${text}`,
      { timeout: DELIVERY_LIMIT_MS, polling: 250 }
    )
    const tasks = mainThreadTasks(await browser!.stopTracing())
    const probe = await page.evaluate(() => ({
      longTasks: sealmixDevnet.longTasks,
      longestTaskMs: sealmixDevnet.longestTaskMs,
      status: sealmixDevnet.status
    }))
    // A task cut by the start or end of the trace has no thread time: almost all have one.
    const timed = tasks.filter(t => Number.isFinite(t.cpuMs))
    assert.ok(timed.length > 100, `the trace shows ${timed.length} timed main-thread tasks: is it tracing the page?`)
    assert.ok(timed.length >= 0.9 * tasks.length, `only ${timed.length} of ${tasks.length} tasks have a thread time`)
    const longest = timed.reduce((a, b) => (b.cpuMs > a.cpuMs ? b : a))
    // The long-task observer (wall time, what a user feels) is reported beside it: on a busy
    // machine a short task can wait for a core, and that is not the page blocking itself.
    assert.ok(
      longest.cpuMs <= MAIN_THREAD_TASK_MS,
      `a main-thread task ran ${longest.cpuMs.toFixed(1)} ms of CPU (${longest.wallMs.toFixed(1)} ms of wall time) while sending; the long-task observer saw ${probe.longTasks}, the longest ${probe.longestTaskMs} ms`
    )
    console.log(
      `      main thread while sending: ${timed.length} tasks, the longest ${longest.cpuMs.toFixed(1)} ms of CPU; long tasks (wall time over 50 ms) seen by the page's observer: ${probe.longTasks}${probe.longTasks > 0 ? `, the longest ${probe.longestTaskMs} ms` : ''}`
    )
    assert.equal(probe.status?.connected, true)
    assert.ok((probe.status?.stats.dropSent ?? 0) > 0, 'the page shows the cover traffic it sends')
    assert.match((await page.textContent('#s-drop')) ?? '', /^[1-9]\d*$/)
    await page.screenshot({ path: testOutput('browser', 'web-chat.png'), fullPage: true })

    // Control: a task that holds the main thread for 300 ms is seen by both measures.
    await browser!.startTracing(page, { categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline'] })
    const before = await page.evaluate(() => sealmixDevnet.longTasks)
    // In a task of the page's own (a timer), as the app's code would run.
    await page.evaluate(() => {
      setTimeout(() => {
        const end = performance.now() + 300
        while (performance.now() < end) {
          /* a blocked main thread */
        }
      }, 0)
    })
    await page.waitForFunction(n => sealmixDevnet.longTasks > n, before, { timeout: 10_000, polling: 100 })
    const blocked = mainThreadTasks(await browser!.stopTracing())
    assert.ok(
      blocked.some(t => t.cpuMs > MAIN_THREAD_TASK_MS),
      'the trace does not show a main thread held for 300 ms'
    )
    await page.close()
  })

  it('a message sent just before a reload is delivered after it (outbox and SURBs in IndexedDB)', async function () {
    this.timeout(DELIVERY_LIMIT_MS * 3)
    const page = await open(browser!, url, 'alice')
    const text = `sent before the reload ${Date.now()}`
    const id = await send(page, text)
    await reached(page, id, 'sent', 60_000)
    const before = await outgoing(page, text)
    assert.ok(before !== null && before.state !== 'delivered', 'delivered before the reload: nothing to show')
    await page.reload()
    await page.waitForFunction(() => sealmixDevnet.ready, null, { timeout: DELIVERY_LIMIT_MS, polling: 250 })
    // Reported by the reloaded page (its `reached` starts empty): the new worker matched the ack.
    await reached(page, id, 'delivered')
    assert.equal((await outgoing(page, text))?.state, 'delivered')
    await page.close()
  })

  it('control: with the store deleted at the reload, the message sent before it is never reported delivered', async function () {
    this.timeout(DELIVERY_LIMIT_MS * 3)
    const page = await open(browser!, url, 'bob')
    const lost = `lost at the reload ${Date.now()}`
    const id = await send(page, lost)
    await reached(page, id, 'sent', 60_000)
    // Leave the app (its worker ends), delete its IndexedDB databases, come back.
    await page.goto(`${url}devnet.json`)
    const deleted = await page.evaluate(async () => {
      const names = (await indexedDB.databases()).map(d => d.name!).filter(n => n !== undefined)
      for (const n of names)
        await new Promise<void>((resolve, reject) => {
          const r = indexedDB.deleteDatabase(n)
          r.onsuccess = () => resolve()
          r.onerror = () => reject(new Error(`cannot delete ${n}`))
          r.onblocked = () => reject(new Error(`${n} is still open`))
        })
      return names
    })
    assert.ok(deleted.length > 0, 'the client kept no IndexedDB database')
    await page.goto(`${url}?as=bob`)
    await page.waitForFunction(() => sealmixDevnet.ready, null, { timeout: DELIVERY_LIMIT_MS, polling: 250 })
    // A later message goes through, so acks flow; the lost one's SURB token is gone with the store.
    const laterText = `after the reload ${Date.now()}`
    const later = await send(page, laterText)
    await reached(page, later, 'delivered')
    await page.waitForFunction(
      t => [...document.querySelectorAll('#log li.in .text')].some(e => e.textContent === t),
      `re: ${laterText}`,
      { timeout: DELIVERY_LIMIT_MS, polling: 250 }
    )
    const states = await page.evaluate(i => sealmixDevnet.reached.filter(r => r.id === i).map(r => r.state), id)
    assert.deepEqual(states, [], `the lost message was reported after the reload: ${states.join(', ')}`)
    assert.notEqual((await outgoing(page, lost))?.state, 'delivered')
    await page.close()
  })

  it(`${DOC}: the browser snippets run as written in Chromium`, async function () {
    const blocks = blocksOf(ROOT, DOC, THIS).filter(
      b => b.marker !== null && 'browser' in b.marker && b.marker.browser.by === THIS
    )
    assert.ok(blocks.length >= 1, `${DOC} has no snippet marked to run in Chromium by ${THIS}`)
    this.timeout(blocks.length * (DELIVERY_LIMIT_MS + 30_000))
    for (const b of blocks) {
      const expect = (b.marker as { browser: { expect: RegExp } }).browser.expect
      const page = await newPage(browser!)
      const printed: string[] = []
      const errors: string[] = []
      page.on('console', m => printed.push(m.text()))
      page.on('pageerror', e => errors.push(e.message))
      // Served as the devnet's own page would be: same origin, so its relative imports resolve.
      await page.route(`${url}doc-snippet.html`, r =>
        r.fulfill({
          contentType: 'text/html',
          body: '<!doctype html><script type="module" src="doc-snippet.js"></script>'
        })
      )
      await page.route(`${url}doc-snippet.js`, r => r.fulfill({ contentType: 'text/javascript', body: b.code }))
      await page.goto(`${url}doc-snippet.html`)
      const deadline = Date.now() + DELIVERY_LIMIT_MS
      while (!printed.some(l => expect.test(l)) && errors.length === 0 && Date.now() < deadline)
        await page.waitForEvent('console', { timeout: Math.max(1, deadline - Date.now()) }).catch(() => null)
      assert.deepEqual(errors, [], `${where(b)} threw in the page`)
      assert.ok(
        printed.some(l => expect.test(l)),
        `${where(b)} did not print ${String(expect)}; it printed:\n${printed.join('\n')}`
      )
      await page.close()
    }
  })

  it('a second tab of the same device is refused (one client per mailbox), and a worker that cannot load or run WebAssembly fails init', async function () {
    this.timeout(DELIVERY_LIMIT_MS + 30_000)
    // Two tabs of one browser profile: one context, its storage and Web Locks shared.
    const tabs = await browser!.newContext()
    const first = await open(tabs, url, 'alice')
    const second = await newPage(tabs)
    await second.goto(`${url}?as=alice`)
    await second.waitForFunction(
      () => /could not start/.test(document.getElementById('boot')?.textContent ?? ''),
      null,
      {
        timeout: DELIVERY_LIMIT_MS,
        polling: 250
      }
    )
    assert.match((await second.textContent('#boot')) ?? '', /runs this device already/)
    assert.equal(await first.evaluate(() => sealmixDevnet.ready), true, 'the first tab keeps running')
    // A worker module that is not there: init() rejects instead of waiting for ever.
    const code = await second.evaluate(async () => {
      // A specifier the compiler does not resolve: the page's own bundle, served by the devnet.
      const bundle = '/sealmix-client.js'
      const m = (await import(bundle)) as {
        SealmixWorkerClient: new (w: Worker) => { init(o: unknown): Promise<unknown> }
      }
      const c = new m.SealmixWorkerClient(new Worker('no-such-worker.js', { type: 'module' }))
      return await c.init({ profile: {}, storeName: 'x' }).then(
        () => 'resolved',
        (e: { code?: string }) => e.code ?? 'no code'
      )
    })
    assert.equal(code, 'CLIENT_WORKER_FAILED')
    // A worker whose policy refuses WebAssembly: it loads, and init() names the crypto suite.
    await second.route(`${url}csp-worker.js`, r =>
      r.fulfill({
        contentType: 'text/javascript',
        headers: { 'content-security-policy': "script-src 'self'" },
        body: "import { runWorker } from './sealmix-client.js'\nrunWorker()\n"
      })
    )
    const refused = await second.evaluate(async () => {
      const bundle = '/sealmix-client.js'
      const m = (await import(bundle)) as {
        SealmixWorkerClient: new (w: Worker) => { init(o: unknown): Promise<unknown> }
      }
      const c = new m.SealmixWorkerClient(new Worker('csp-worker.js', { type: 'module' }))
      const { users } = (await (await fetch('devnet.json')).json()) as { users: Array<{ profile: unknown }> }
      return await c.init({ profile: users[0]!.profile, storeName: 'csp' }).then(
        () => 'resolved',
        (e: { code?: string }) => e.code ?? 'no code'
      )
    })
    assert.equal(refused, 'CLIENT_CRYPTO_UNAVAILABLE')
    await tabs.close()
  })

  it("serves devnet.json (the browser devices' secrets) only under the page's own host names", async function () {
    const port = Number(new URL(url).port)
    const get = async (host: string): Promise<number> =>
      await new Promise((resolve, reject) => {
        request({ host: '127.0.0.1', port, path: '/devnet.json', headers: { host } }, res => {
          res.resume()
          resolve(res.statusCode ?? 0)
        })
          .on('error', reject)
          .end()
      })
    assert.equal(await get(`127.0.0.1:${port}`), 200)
    assert.equal(await get(`localhost:${port}`), 200)
    // A name a DNS rebinding would use: refused.
    assert.equal(await get(`evil.example:${port}`), 421)
  })
})

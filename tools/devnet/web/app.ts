/**
 * The devnet's web chat page: one demo user's second device, in this browser. The SDK runs in a
 * Web Worker (worker.js, the bundle's runWorker); this thread only draws, syncs with the stand-in
 * homeserver (the Matrix part: sealed envelopes arrive as to-device events) and hands envelopes to
 * the worker. The chat log is kept in localStorage so that a reload shows it, and the client's
 * state (outbox, SURBs) in IndexedDB, so that a message sent before a reload is still acked after.
 */
import { type LatencyStages, SealmixWorkerClient, type WorkerStatus } from '../../../client/index.ts'

interface DevnetUser {
  readonly name: string
  readonly userId: string
  /** This page's device: a client profile following the devnet's authorities. */
  readonly profile: { readonly homeserver: { readonly url: string; readonly accessToken: string } }
  /** The other demo user's Node device, which answers. */
  readonly peer: { readonly name: string; readonly card: unknown }
}

type State = 'queued' | 'sent' | 'acked' | 'delivered' | 'failed' | 'verified'
interface Entry {
  readonly id: string
  readonly dir: 'out' | 'in'
  readonly who: string
  readonly text: string
  state: State
  detail?: string
}

const SEALED_EVENT_TYPE = 'org.sealmix.sealed.v1'
/** Bound: the log keeps the newest this many messages. */
const MAX_LOG = 200
const RANK: Record<State, number> = { queued: 0, sent: 1, acked: 2, delivered: 3, failed: 3, verified: 3 }

const $ = (id: string): HTMLElement => document.getElementById(id)!

/** What the browser tests read: the longest task that held the main thread, and the last status. */
const probe = {
  longestTaskMs: 0,
  longTasks: 0,
  status: null as WorkerStatus | null,
  ready: false,
  /** Every state a message reached on this page load, in order (bounded like the log). */
  reached: [] as Array<{ id: string; state: State }>,
  /** The 'delivered' events of this page load as the worker posted them (bounded like the log). */
  delivered: [] as Array<{ id: string; latencyMs: number; stages?: LatencyStages }>
}
;(globalThis as unknown as { sealmixDevnet: typeof probe }).sealmixDevnet = probe
try {
  new PerformanceObserver(list => {
    for (const e of list.getEntries()) {
      probe.longTasks++
      probe.longestTaskMs = Math.max(probe.longestTaskMs, e.duration)
    }
  }).observe({ type: 'longtask', buffered: true })
} catch {
  /* a browser without long-task timing: nothing is measured */
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(ms < 1000 ? 2 : 1)} s`

/** "2.1 s: 0.15 s to a send slot, 1.9 s through the mixnet and back, 0.05 s in the mailbox". */
function deliveredDetail(latencyMs: number, st?: LatencyStages): string {
  if (st === undefined) return seconds(latencyMs)
  const parts = [
    `${seconds(st.slotMs)} to a send slot`,
    ...(st.resendMs > 0 ? [`${seconds(st.resendMs)} re-sending`] : []),
    `${seconds(st.flightMs)} through the mixnet and back`,
    `${seconds(st.mailboxMs)} in the mailbox`
  ]
  return `${seconds(latencyMs)}: ${parts.join(', ')}`
}

async function main(): Promise<void> {
  const users = ((await (await fetch('devnet.json')).json()) as { users: DevnetUser[] }).users
  const box = $('users')
  for (const u of users) {
    const b = document.createElement('button')
    b.type = 'button'
    b.className = 'user'
    b.textContent = `${u.name} (chats with ${u.peer.name})`
    b.addEventListener('click', () => {
      history.replaceState(null, '', `?as=${encodeURIComponent(u.name)}`)
      start(u).catch(failed)
    })
    box.append(b)
  }
  const as = new URLSearchParams(location.search).get('as')
  const chosen = users.find(u => u.name === as)
  if (chosen !== undefined) await start(chosen)
}

let started = false

async function start(u: DevnetUser): Promise<void> {
  if (started) return
  started = true
  $('pick').hidden = true
  $('chat').hidden = false
  $('status').hidden = false
  $('who').textContent = `You are ${u.userId} on this browser's own device; ${u.peer.name} answers from Node.`
  const logKey = `sealmix-devnet-log-${u.name}`
  const log: Entry[] = JSON.parse(localStorage.getItem(logKey) ?? '[]') as Entry[]
  const save = (): void => {
    while (log.length > MAX_LOG) log.shift()
    localStorage.setItem(logKey, JSON.stringify(log))
    draw(log)
  }
  /** States that came before send() answered with the id (its answer waits for the store). Bounded. */
  const early = new Map<string, Array<[State, string | undefined]>>()
  const advance = (id: string, state: State, detail?: string): void => {
    const e = log.find(x => x.id === id)
    if (e === undefined) {
      if (early.size < MAX_LOG) early.set(id, [...(early.get(id) ?? []), [state, detail]])
      return
    }
    if (RANK[state] < RANK[e.state] || e.state === 'failed') return
    e.state = state
    if (detail !== undefined) e.detail = detail
    probe.reached.push({ id, state })
    if (probe.reached.length > 4 * MAX_LOG) probe.reached.shift()
    save()
  }
  draw(log)

  const client = new SealmixWorkerClient(new Worker('worker.js', { type: 'module' }))
  client
    .on('booting', e => {
      $('boot').textContent =
        `Starting: waiting for ${e.step}…${e.problem !== undefined ? ` (the last try: ${e.problem})` : ''}`
    })
    .on('ready', () => {
      $('boot').textContent = ''
    })
    .on('sent', e => advance(e.messageId, 'sent'))
    .on('acked', e => advance(e.messageId, 'acked'))
    .on('delivered', e => {
      probe.delivered.push({ id: e.messageId, latencyMs: e.latencyMs, stages: e.stages })
      if (probe.delivered.length > MAX_LOG) probe.delivered.shift()
      advance(e.messageId, 'delivered', deliveredDetail(e.latencyMs, e.stages))
    })
    .on('failed', e => {
      advance(e.messageId, 'failed', e.code)
      announce(`A message was not delivered: ${e.code}`)
    })
    .on('received', e => {
      log.push({
        id: `in-${Date.now()}-${log.length}`,
        dir: 'in',
        who: e.message.from,
        text: e.message.text,
        state: 'verified'
      })
      save()
      announce(`Message from ${e.message.from}, verified: ${e.message.text}`)
    })
    .on('status', e => {
      probe.status = e.status
      showStatus(e.status)
    })
  await client.init({ profile: u.profile, storeName: `sealmix-devnet-${u.name}` })
  probe.ready = true
  ;($('text') as HTMLInputElement).focus()

  $('compose').addEventListener('submit', ev => {
    ev.preventDefault()
    const input = $('text') as HTMLInputElement
    const text = input.value.trim()
    input.value = ''
    if (text === '') return
    client.send(u.peer.card, text).then(
      id => {
        log.push({ id, dir: 'out', who: 'you', text, state: 'queued' })
        probe.reached.push({ id, state: 'queued' })
        save()
        for (const [state, detail] of early.get(id) ?? []) advance(id, state, detail)
        early.delete(id)
      },
      (e: Error & { code?: string }) => {
        log.push({ id: `err-${Date.now()}`, dir: 'out', who: 'you', text, state: 'failed', detail: e.code })
        save()
      }
    )
  })
  void sync(u, client)
}

/** The Matrix part: long-poll the homeserver's /sync and hand every sealed envelope to the worker. */
async function sync(u: DevnetUser, client: SealmixWorkerClient): Promise<void> {
  const hs = u.profile.homeserver
  const sinceKey = `sealmix-devnet-since-${u.name}`
  for (;;) {
    try {
      const since = localStorage.getItem(sinceKey)
      const q = new URLSearchParams({ timeout: '10000', ...(since !== null ? { since } : {}) })
      const r = await fetch(`${hs.url.replace(/\/+$/, '')}/_matrix/client/v3/sync?${q.toString()}`, {
        headers: { Authorization: `Bearer ${hs.accessToken}` }
      })
      if (r.status !== 200) throw new Error(`sync answered ${r.status}`)
      const j = (await r.json()) as {
        next_batch?: string
        to_device?: { events?: Array<{ type?: string; content?: { envelope?: unknown } }> }
      }
      for (const ev of j.to_device?.events ?? [])
        if (ev.type === SEALED_EVENT_TYPE && typeof ev.content?.envelope === 'string')
          await client.open(ev.content.envelope)
      if (typeof j.next_batch === 'string') localStorage.setItem(sinceKey, j.next_batch)
    } catch {
      await new Promise(resolve => setTimeout(resolve, 1000))
    }
  }
}

/** Said once to a screen reader (the log itself is redrawn as states change, so it is not a live region). */
function announce(text: string): void {
  $('announce').textContent = text
}

function draw(log: readonly Entry[]): void {
  const ol = $('log')
  ol.replaceChildren(
    ...log.map(e => {
      const li = document.createElement('li')
      li.className = e.dir
      li.dataset.id = e.id
      const who = document.createElement('span')
      who.className = 'who'
      who.textContent = e.who
      const text = document.createElement('span')
      text.className = 'text'
      // A message's own direction, isolated: a right-to-left override in it cannot reorder the rest.
      text.dir = 'auto'
      text.textContent = e.text
      const st = document.createElement('span')
      st.className = 'state'
      st.dataset.state = e.state
      st.textContent =
        e.state === 'verified' ? 'received, verified' : e.detail !== undefined ? `${e.state} (${e.detail})` : e.state
      li.append(who, text, st)
      return li
    })
  )
}

function showStatus(s: WorkerStatus): void {
  $('s-link').textContent = s.connected ? 'up' : 'down (reconnecting)'
  $('s-doc').textContent =
    `epoch ${s.epoch}: ${s.relays} relays, ${s.ingresses} ingress${s.ingresses === 1 ? '' : 'es'}`
  $('s-wait').textContent = s.waitingFor ?? 'nothing'
  $('s-real').textContent = String(s.stats.realSent ?? 0)
  $('s-drop').textContent = String(s.stats.dropSent ?? 0)
  $('s-loop').textContent = `${s.stats.loopsSent ?? 0} / ${s.stats.loopsReturned ?? 0}`
  $('s-pending').textContent = String(s.pending)
}

/** Start-up failed (another tab runs this device, the worker did not load): say so, and take the form away. */
function failed(e: unknown): void {
  $('boot').hidden = false
  $('status').hidden = false
  $('compose').hidden = true
  $('boot').textContent = `The page could not start: ${e instanceof Error ? e.message : String(e)}`
}

void main().catch(failed)

/**
 * The browser benchmark's Node baseline for the SDK's CPU share: one SealmixClient in its own
 * process (started by browser.bench.ts with `--import tsx` and an IPC channel), booted like the
 * browser's (browser-client.ts) but with a Node binding, Node's `ws` socket and a LevelDB store.
 * A sample gives the main thread's CPU time (/proc schedstat, the JavaScript thread as in the
 * browser) and the whole process's (process.cpuUsage: with V8's helper threads, libuv's pool for
 * LevelDB and the loader thread of tsx, idle after start-up), each with the same clock.
 */
import { readFileSync } from 'node:fs'
import * as sdk from '../../client/index.ts'
import { type BindingName, loadCrypto } from '../../mix/index.ts'
import { type BenchClient, bootBenchClient, type ClientSample, sampleOf, spin } from './browser-client.ts'

export type NodeClientRequest =
  | {
      readonly id: number
      readonly op: 'init'
      readonly binding: BindingName
      readonly profile: unknown
      readonly storeLocation: string
      readonly rates: { readonly clientRatePerSec: number; readonly clientLoopRatePerSec: number }
      readonly deadlineMs: number
    }
  | { readonly id: number; readonly op: 'sample' }
  | { readonly id: number; readonly op: 'spin'; readonly ms: number }
  | { readonly id: number; readonly op: 'close' }

export type NodeClientAnswer =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string }

export interface NodeSample extends ClientSample {
  /** CPU time of the main thread, ns (/proc/self/task/<pid>/schedstat). */
  readonly mainThreadNs: number
  /** Time the main thread waited, runnable, for a core, ns (the same file): for the control. */
  readonly mainThreadWaitNs: number
  /** CPU time of the process, ns (process.cpuUsage: user + system). */
  readonly processNs: number
  /** This process's monotonic clock, ns. */
  readonly atNs: number
}

let running: BenchClient | null = null

/** The main thread's schedstat: CPU time and time runnable but waiting for a core, ns. */
function mainThread(): { cpu: number; wait: number } {
  const [cpu, wait] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')
  return { cpu: Number(cpu), wait: Number(wait) }
}

async function handle(r: NodeClientRequest): Promise<unknown> {
  switch (r.op) {
    case 'init': {
      const c = await loadCrypto(r.binding)
      running = await bootBenchClient(sdk, c, {
        profile: r.profile,
        storeLocation: r.storeLocation,
        rates: r.rates,
        deadlineMs: r.deadlineMs
      })
      return null
    }
    case 'sample': {
      if (running === null) throw new Error('init first')
      // Read first: the sample's own work belongs after it.
      const u = process.cpuUsage()
      const t = mainThread()
      return {
        ...sampleOf(running.client),
        mainThreadNs: t.cpu,
        mainThreadWaitNs: t.wait,
        processNs: (u.user + u.system) * 1000,
        atNs: Number(process.hrtime.bigint())
      } satisfies NodeSample
    }
    case 'spin': {
      // Read around the spin in this thread: no wake-up of the IPC channel is in the control.
      const a = mainThread()
      spin(r.ms)
      const b = mainThread()
      return { cpu: b.cpu - a.cpu, wait: b.wait - a.wait }
    }
    case 'close':
      await running?.close()
      running = null
      return null
  }
}

process.on('message', (r: NodeClientRequest) => {
  handle(r).then(
    value => process.send?.({ id: r.id, ok: true, value } satisfies NodeClientAnswer),
    (err: unknown) =>
      process.send?.({
        id: r.id,
        ok: false,
        error: err instanceof Error ? (err.stack ?? err.message) : String(err)
      } satisfies NodeClientAnswer)
  )
})
// The bench's end (or its crash) closes the channel: nothing is left running.
process.on('disconnect', () => {
  void (running?.close() ?? Promise.resolve()).finally(() => process.exit(0))
})

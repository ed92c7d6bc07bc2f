/**
 * The topology deploy-init makes runs: on 127.0.0.1, with epochs of seconds, the three
 * authorities, two gateways, one mix per layer and the ingress, each a `sealmix` process of the
 * bundle reading deploy-init's files as they are (one config per kind), with what differs per
 * process in SEALMIX_* variables, as a StatefulSet sets them per pod. Waited on, never slept for:
 * every running relay and the ingress are in a document signed by a majority of the authorities,
 * the next epoch's document lists a new mix key for every relay, and every relay's loop packets
 * come back through the other layers.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { directoryClient } from '../../client/directory.ts'
import { loadCrypto, type NetworkDocument } from '../../mix/index.ts'
import { type DeployOptions, finishDeployNetwork, initDeployRelays } from '../../tools/deploy-init.ts'
import { freePort } from '../../tools/index.ts'
import { SEALMIX } from '../helpers/bundle.ts'
import { httpGet, sample, waitFor } from '../helpers/testnet.ts'

const EPOCH_MS = 5000
/** Relays poll and publish every eighth of an epoch, and the documents are fixed half an epoch ahead. */
const MIXING = {
  strategy: 'batch',
  intervalMs: 20,
  minPool: 0,
  flushFraction: 1,
  minBatch: 0,
  maxDelayMs: 2000,
  loopRatePerSec: 4
} as const

/** `n` consecutive free ports on 127.0.0.1 (the authorities and their metrics, from --loopback PORT). */
async function freeRange(n: number): Promise<number> {
  const free = async (port: number): Promise<boolean> =>
    await new Promise(resolve => {
      const s = createServer()
      s.once('error', () => resolve(false))
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
    })
  for (;;) {
    const base = await freePort()
    let ok = true
    for (let i = 1; i < n && ok; i++) ok = await free(base + i)
    if (ok) return base
  }
}

interface Proc {
  readonly name: string
  readonly proc: ChildProcess
  readonly lines: string[]
}

describe('a deploy-init network on loopback: 3 authorities, relays and an ingress from one config per kind', function () {
  this.timeout(150_000)
  const procs: Proc[] = []
  let dir = ''

  after(async function () {
    // The whole process group of each (detached), even when the test failed half-way.
    await Promise.all(
      procs.map(
        async p =>
          await new Promise<void>(resolve => {
            if (p.proc.exitCode !== null || p.proc.signalCode !== null) return resolve()
            p.proc.once('exit', () => resolve())
            try {
              process.kill(-p.proc.pid!, 'SIGKILL')
            } catch {
              resolve()
            }
          })
      )
    )
    if (dir !== '') rmSync(dir, { recursive: true, force: true })
  })

  /** Start `sealmix ARGS` with only these SEALMIX_* variables (none inherited that could set a key). */
  function start(name: string, args: string[], env: Record<string, string>): void {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SEALMIX_')))
    const proc = spawn(process.execPath, [...SEALMIX, ...args], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...base, SEALMIX_EXIT_WITH_PARENT: '1', SEALMIX_LOG_LEVEL: 'warn', ...env }
    })
    const p: Proc = { name, proc, lines: [] }
    for (const s of [proc.stdout!, proc.stderr!])
      createInterface({ input: s }).on('line', l => {
        p.lines.push(l)
        if (p.lines.length > 20) p.lines.shift()
      })
    procs.push(p)
  }

  /** What went wrong where, for a timeout's message: who exited, and each one's last lines. */
  const why = (): string =>
    procs
      .map(
        p =>
          `${p.name}${p.proc.exitCode !== null ? ` (exited ${p.proc.exitCode})` : ''}: ${p.lines.slice(-3).join(' | ')}`
      )
      .join('\n')

  const until = async (what: string, ms: number, f: () => Promise<boolean>): Promise<void> => {
    try {
      await waitFor(
        async () => {
          const down = procs.find(p => p.proc.exitCode !== null)
          if (down !== undefined) throw new Error(`${down.name} exited ${down.proc.exitCode}`)
          return await f()
        },
        ms,
        what
      )
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${why()}`)
    }
  }

  it('lists every relay and the ingress in a signed document, rotates their mix keys, and carries loops', async function () {
    const started = Date.now()
    const c = await loadCrypto('sodium-native')
    dir = mkdtempSync(join(tmpdir(), 'sealmix-fleet-'))
    const o: DeployOptions = {
      dir,
      serverName: 'example.org',
      // Not reached: nothing is delivered in this test.
      homeserverUrl: 'http://127.0.0.1:9',
      // Two ordinals admitted per set; one mix per layer runs (the admitted ordinal 1 that never
      // starts is simply absent from the documents).
      maxReplicas: 2,
      epochMs: EPOCH_MS,
      graceMs: 2500,
      // Past the start of every process on a busy machine; one that is later is listed an epoch later.
      genesisMs: Date.now() + 6000,
      mixing: MIXING,
      loopback: { basePort: await freeRange(6) },
      nowMs: Date.now()
    }
    const made = initDeployRelays(c, o)
    finishDeployNetwork(c, o, made)
    for (const a of made.authorities)
      start(a.name, ['authority', '--config', join(dir, 'config', `${a.name}.yaml`)], {})

    // The pods a StatefulSet would run: gateway-0, gateway-1, mix-1-0, mix-2-0, mix-3-0.
    const running = made.relays.filter(r => r.role === 'gateway' || r.pod.endsWith('-0'))
    assert.equal(running.length, 5)
    const metricsPort = new Map<string, number>()
    for (const r of running) {
      const port = await freePort()
      metricsPort.set(r.pod, await freePort())
      start(r.pod, ['run', '--config', join(dir, 'config', `${r.role}.yaml`)], {
        SEALMIX_DATA_DIR: join(dir, r.pod),
        SEALMIX_LISTEN_PORT: String(port),
        SEALMIX_DIRECTORY_ADDRESS: `ws://127.0.0.1:${port}`,
        SEALMIX_METRICS_PORT: String(metricsPort.get(r.pod)),
        ...(r.role === 'mix' ? { SEALMIX_DIRECTORY_LAYER: String(r.layer) } : {})
      })
    }
    const tokens = Object.fromEntries(
      readFileSync(join(dir, 'secrets', 'ingress.env'), 'utf8')
        .split('\n')
        .filter(l => /^SEALMIX_[A-Z_]+=/.test(l))
        .map(l => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])
    )
    const ingressMetrics = await freePort()
    start('ingress-0', ['ingress', '--config', join(dir, 'config', 'ingress.yaml')], {
      ...tokens,
      SEALMIX_DATA_DIR: join(dir, 'ingress-0'),
      SEALMIX_API_PORT: String(await freePort()),
      SEALMIX_METRICS_PORT: String(ingressMetrics)
    })

    // What a client would hold: the documents, checked against a majority of the three authorities.
    const directory = directoryClient({ crypto: c, authorities: made.authorities, maxSkewMs: 1000 })
    const ids = running.map(r => r.id)
    const lists = (doc: NetworkDocument | null): doc is NetworkDocument =>
      doc !== null &&
      running.every(r => doc.relays.some(d => d.id === r.id && d.layer === r.layer && d.role === r.role)) &&
      doc.ingresses.some(i => i.id === made.ingress.id)
    let first: NetworkDocument | null = null
    await until('a signed document that lists the five relays and the ingress', 60_000, async () => {
      const doc = await directory.refresh().catch(() => null)
      if (lists(doc)) first = doc
      return first !== null
    })
    const listed = first as unknown as NetworkDocument
    // Every relay is published at the address its SEALMIX_DIRECTORY_ADDRESS gave, never the file's.
    for (const r of listed.relays) assert.match(r.address, /^ws:\/\/127\.0\.0\.1:\d+$/)
    assert.deepEqual(
      listed.relays.map(r => r.id).filter(id => !ids.includes(id)),
      [],
      'only the running ordinals are listed'
    )

    const keyOf = (doc: NetworkDocument, id: string): string => doc.relays.find(r => r.id === id)!.mixKey
    let next: NetworkDocument | null = null
    await until(`the document of an epoch after ${listed.epoch} with new mix keys`, 3 * EPOCH_MS + 10_000, async () => {
      const doc = await directory.refresh().catch(() => null)
      if (doc !== null && doc.epoch > listed.epoch && lists(doc)) next = doc
      return next !== null
    })
    const rotated = next as unknown as NetworkDocument
    for (const id of ids)
      assert.notEqual(keyOf(rotated, id), keyOf(listed, id), `relay ${id.slice(0, 8)} rotated its mix key`)

    // Loops: each relay's packets cross a relay of every other layer and come back to it.
    await until('a loop back at every relay', 40_000, async () => {
      const counts = await Promise.all(
        running.map(async r => {
          const m = await httpGet(metricsPort.get(r.pod)!, '/metrics').catch(() => null)
          return m === null ? 0 : sample(m.body, 'sealmix_loops_returned_total')
        })
      )
      return counts.every(n => n > 0)
    })
    // The ingress is ready: listed, and linked to a gateway.
    await until(
      'the ingress ready',
      20_000,
      async () => (await httpGet(ingressMetrics, '/readyz').catch(() => null))?.status === 200
    )
    console.log(`      the fleet ran in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  })
})

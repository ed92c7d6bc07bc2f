/**
 * The directory under a flood, on loopback:
 * - a network of five relays following three authorities (epochs of 4 s) while 10,000 descriptor
 *   POSTs from one source (127.0.0.2) hit one authority: every relay keeps a document younger
 *   than two epochs throughout, and the authorities hold no identity nobody admitted;
 * - a `sealmix authority` process flooded the same way: its peak resident memory stays under
 *   150 MiB, it keeps serving its schedule, and its state file holds no unadmitted identity.
 * The flood sends validly signed descriptors of unadmitted relays, so every check up to
 * admission is paid for by the flood, not skipped by a parse error.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type CryptoSuite, deterministicRng, epochAt, loadCrypto, relayId, signDescriptor } from '../../mix/index.ts'
import { freePort } from '../../tools/index.ts'
import { SEALMIX } from '../helpers/bundle.ts'
import { createEpochnet, type Epochnet } from '../helpers/epochnet.ts'
import { floodPosts } from '../helpers/flood.ts'
import { metric, PROJECT, waitFor } from '../helpers/testnet.ts'

/** Peak resident set size of a process, from /proc (kB → MiB). */
function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1] ?? NaN) / 1024
}

describe('the directory under a flood', function () {
  this.timeout(180_000)
  let c: CryptoSuite
  before(async function () {
    c = await loadCrypto('sodium-native')
  })

  /** Validly signed descriptors of relays nobody admitted, for epochs around `epoch`. */
  const strangers = (n: number, epoch: number): string[] =>
    Array.from({ length: n }, (_, i) => {
      const rng = deterministicRng(c, `stranger-${i}`)
      const k = c.signSeedKeypair(rng.bytes(32))
      return JSON.stringify(
        signDescriptor(
          c,
          {
            version: 1,
            id: relayId(c, k.publicKey),
            role: 'mix',
            layer: 1 + (i % 3),
            address: `ws://stranger${i}.example:9000`,
            identityKey: Buffer.from(k.publicKey).toString('hex'),
            mixKeys: [0, 1, 2, 3].map(x => ({ epoch: epoch + x, key: rng.bytes(32).toString('hex') }))
          },
          k.secretKey
        )
      )
    })

  describe('while a network runs', function () {
    let net: Epochnet
    before(async function () {
      net = await createEpochnet(c, { epochMs: 4000, graceMs: 2000, maxSkewMs: 1000 })
    })
    after(async function () {
      await net?.stop()
    })

    it("keeps every relay's document younger than two epochs and stores no unadmitted identity", async function () {
      await Promise.all(net.nodes.map(async n => await net.start(n)))
      await waitFor(() => net.nodes.every(n => n.relay!.ready), 60_000, 'relays listed')
      const bodies = strangers(50, epochAt(net.schedule, Date.now()))
      let flooding = true
      let worstAge = 0
      // Sample every relay's document age while the flood runs.
      const sampler = (async () => {
        while (flooding) {
          for (const n of net.nodes)
            worstAge = Math.max(worstAge, await metric(n.relay!, 'sealmix_network_document_age_seconds'))
          await new Promise(resolve => setTimeout(resolve, 200))
        }
      })()
      const codes = new Map<number, number>()
      const started = Date.now()
      // From one source: 200 for each of the 50 strangers (10,000), then more until two epochs have passed.
      for (let i = 0; i < 50 || Date.now() - started < 2 * net.schedule.epochMs; i++) {
        for (const [k, v] of await floodPosts(net.authorities[0]!.port, bodies[i % 50]!, i < 50 ? 200 : 50))
          codes.set(k, (codes.get(k) ?? 0) + v)
      }
      flooding = false
      await sampler
      const seconds = (Date.now() - started) / 1000
      assert.ok(
        (codes.get(429) ?? 0) + (codes.get(403) ?? 0) >= 10_000,
        `every flood POST refused: ${JSON.stringify([...codes])}`
      )
      assert.equal(codes.get(200) ?? 0, 0)
      assert.ok(
        worstAge < (2 * net.schedule.epochMs) / 1000,
        `worst document age ${worstAge} s during a flood of ${seconds} s`
      )
      const admitted = new Set(net.nodes.map(n => n.keys.id))
      for (const a of net.authorities)
        for (const id of a.heldRelayIds) assert.ok(admitted.has(id), 'only admitted relays are held')
      console.log(
        `      flood: ${JSON.stringify(Object.fromEntries(codes))} in ${seconds.toFixed(1)} s; worst relay document age ${worstAge.toFixed(1)} s (epochs of ${net.schedule.epochMs / 1000} s)`
      )
    })
  })

  it('a flooded `sealmix authority` process stays under 150 MiB and keeps no unadmitted identity on disk', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'sealmix-flood-'))
    const port = await freePort()
    const cfg = join(dir, 'authority.yaml')
    const init = spawnSync(
      process.execPath,
      [
        ...SEALMIX,
        'init',
        '--role',
        'authority',
        '--data-dir',
        join(dir, 'data'),
        '--listen',
        `127.0.0.1:${port}`,
        '--network-name',
        'flood',
        '--genesis-ms',
        String(Date.now()),
        '--epoch',
        '10s',
        '--grace',
        '2s',
        '--out',
        cfg
      ],
      { cwd: PROJECT, encoding: 'utf8' }
    )
    assert.equal(init.status, 0, init.stderr)
    const p = spawn(process.execPath, [...SEALMIX, 'authority', '--config', cfg], { cwd: PROJECT, stdio: 'ignore' })
    try {
      await waitFor(
        async () => (await fetch(`http://127.0.0.1:${port}/v1/schedule`).catch(() => null))?.status === 200,
        30_000,
        'authority up'
      )
      const bodies = strangers(20, epochAt({ genesisMs: Date.now() - 1, epochMs: 10_000 }, Date.now()))
      const codes = new Map<number, number>()
      for (let i = 0; i < 20; i++)
        for (const [k, v] of await floodPosts(port, bodies[i]!, 500)) codes.set(k, (codes.get(k) ?? 0) + v)
      assert.equal(codes.get(200) ?? 0, 0, JSON.stringify([...codes]))
      assert.equal((await fetch(`http://127.0.0.1:${port}/v1/schedule`)).status, 200, 'still serving')
      const peak = peakRssMiB(p.pid!)
      console.log(
        `      sealmix authority after 10,000 POSTs: ${JSON.stringify(Object.fromEntries(codes))}, peak RSS ${peak.toFixed(0)} MiB`
      )
      assert.ok(peak < 150, `peak RSS ${peak} MiB`)
    } finally {
      await new Promise(resolve => {
        p.once('exit', resolve)
        p.kill('SIGTERM')
      })
    }
    const state = join(dir, 'data', 'descriptors.json')
    const saved = (() => {
      try {
        return readFileSync(state, 'utf8')
      } catch {
        return ''
      }
    })()
    for (const b of strangers(20, 0))
      assert.ok(
        !saved.includes((JSON.parse(b) as { descriptor: { identityKey: string } }).descriptor.identityKey),
        'no stranger in the state file'
      )
    rmSync(dir, { recursive: true, force: true })
  })
})

/**
 * A damaged database must never cost replay protection silently. A real relay process
 * (`sealmix run`, its own LevelDB) admits packets, is killed with SIGKILL, and its LevelDB log is
 * then cut in half, or gets 500 random bytes, or db/ is deleted. LevelDB itself opens such a
 * database without an error (classic-level exposes no paranoid_checks), so without a check of its
 * own the relay would start with 0 of 2,222 replay tags. The relay refuses to start (exit 78,
 * RELAY_STORE_CORRUPT, naming `sealmix repair`); after the repair it starts but refuses every
 * packet for the key whose tags were lost, the replays of what it had admitted included: fail
 * closed.
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { inspectStore, repairStore } from '../../daemon/index.ts'
import { StoreStateFile } from '../../daemon/io/state-file.ts'
import { type CryptoSuite, FRAME, loadCrypto, type Rng, Sphinx, systemRng } from '../../mix/index.ts'
import {
  clientConn,
  createTestnet,
  G,
  httpGet,
  type Node,
  randomBytes,
  sample,
  type Testnet,
  waitFor
} from '../helpers/testnet.ts'
import { type RelayProc, runRelay } from './disk-helpers.ts'

describe('store integrity: a damaged or missing database refuses to start (real processes, SIGKILL)', function () {
  this.timeout(120_000)
  let c: CryptoSuite
  let rng: Rng
  let sphinx: Sphinx
  let net: Testnet
  let gw: Node
  let procs: RelayProc[] = []
  before(async function () {
    c = await loadCrypto('sodium-native')
    rng = systemRng(c)
    sphinx = new Sphinx(c)
  })
  beforeEach(async function () {
    net = await createTestnet(c)
    gw = net.byName('gwA')
    procs = []
  })
  afterEach(async function () {
    for (const p of procs) await p.kill9()
    await net?.stop()
  })

  const scrape = async (): Promise<string> => (await httpGet(gw.metricsPort, '/metrics')).body
  const readyz = async (): Promise<{ status: number; body: string }> =>
    await httpGet(gw.metricsPort, '/readyz').catch(() => ({ status: 0, body: '' }))

  async function start(): Promise<RelayProc> {
    const r = runRelay(gw.configFile)
    procs.push(r)
    await Promise.race([
      waitFor(
        async () => {
          const r = await readyz()
          return r.status !== 0 && !r.body.includes('starting')
        },
        30_000,
        'relay up'
      ),
      r.exited.then(code => {
        throw new Error(`relay exited ${String(code)}: ${r.text().slice(-2000)}`)
      })
    ])
    return r
  }

  /**
   * Send `packets` to the gateway from a client, in steps, and wait until each step is through a
   * round: its next hop is not running, so a round drops each as link_down, after the commit of
   * the round's replay tags.
   */
  async function admit(packets: Buffer[]): Promise<void> {
    const client = await clientConn(gw.port)
    const base = sample(await scrape(), 'sealmix_packets_dropped_total', 'reason="link_down"')
    for (let i = 0; i < packets.length; i += 100) {
      for (const p of packets.slice(i, i + 100)) client.send(FRAME.PACKET, p)
      const want = base + Math.min(packets.length, i + 100)
      await waitFor(
        async () => sample(await scrape(), 'sealmix_packets_dropped_total', 'reason="link_down"') >= want,
        20_000,
        `${want} packets through a round`
      )
    }
    client.close()
  }

  /** Start once more: it must exit 78 with RELAY_STORE_CORRUPT naming `sealmix repair`, never answering /readyz 200 first. */
  async function refusesToStart(what: RegExp): Promise<void> {
    const r = runRelay(gw.configFile)
    procs.push(r)
    let readyOnce = false
    const poll = (async () => {
      while (r.p.exitCode === null && r.p.signalCode === null) {
        if ((await readyz()).status === 200) {
          readyOnce = true
          return
        }
        await new Promise(resolve => setTimeout(resolve, 20))
      }
    })()
    const code = await Promise.race([r.exited, poll.then(async () => (readyOnce ? 'ready' : await r.exited))])
    assert.notEqual(
      code,
      'ready',
      `the relay started on a damaged database: ${
        r
          .text()
          .split('\n')
          .find(l => l.includes('relay started')) ?? ''
      }`
    )
    assert.equal(code, 78, r.text().slice(-2000))
    assert.match(r.text(), /RELAY_STORE_CORRUPT/)
    assert.match(r.text(), /sealmix repair/)
    assert.match(r.text(), what)
  }

  const packets = (n: number): Buffer[] =>
    Array.from({ length: n }, () => net.packetToIngress(sphinx, randomBytes(c, G.userPayloadBytes), rng))
  const walOf = (): string => {
    const logs = readdirSync(join(gw.dir, 'db'))
      .filter(f => f.endsWith('.log'))
      .sort()
    return join(gw.dir, 'db', logs[logs.length - 1]!)
  }

  it('a LevelDB log cut in half after SIGKILL: refuses to start; after sealmix repair it starts and refuses every packet for the key, replays included', async function () {
    const N = 1200
    const sent = packets(N)
    const r = await start()
    await admit(sent)
    await r.kill9()
    const state = StoreStateFile.read(join(gw.dir, 'keys', 'store.state'))
    assert.ok(
      state !== null && state !== 'damaged' && state.data.counts.get(0) === N,
      'keys/store.state records every tag committed'
    )
    const wal = walOf()
    truncateSync(wal, Math.floor(statSync(wal).size / 2))
    await refusesToStart(/epoch 0 holds \d+ of the 1200 replay tags committed/)

    const report = await repairStore(c, gw.config)
    assert.equal(report.incomplete.length, 1)
    assert.equal(report.incomplete[0]!.epoch, 0)
    assert.ok(report.incomplete[0]!.found < N && report.incomplete[0]!.refused)
    assert.ok(
      report.lines.some(l => /static network file/.test(l)),
      report.lines.join('\n')
    )

    await start()
    await waitFor(
      async () => /replay protection is incomplete/.test((await readyz()).body),
      10_000,
      'not ready, saying why'
    )
    assert.equal((await readyz()).status, 503)
    // Replays of what it admitted before the kill, and fresh packets: none goes on.
    const client = await clientConn(gw.port)
    const again = [...sent.slice(0, 100), ...packets(10)]
    for (const p of again) client.send(FRAME.PACKET, p)
    await waitFor(
      async () => sample(await scrape(), 'sealmix_packets_dropped_total', 'reason="replay_full"') === again.length,
      15_000,
      'every packet refused'
    )
    const text = await scrape()
    assert.equal(sample(text, 'sealmix_packets_dropped_total', 'reason="link_down"'), 0, 'no packet was admitted')
    assert.equal(sample(text, 'sealmix_packets_dropped_total', 'reason="replay"'), 0)
    client.close()
  })

  it('500 random bytes in the LevelDB log after SIGKILL: refuses to start, never with fewer tags', async function () {
    const N = 1200
    const r = await start()
    await admit(packets(N))
    await r.kill9()
    const wal = walOf()
    const b = readFileSync(wal)
    randomBytes(c, 500).copy(b, Math.floor(b.length / 3))
    writeFileSync(wal, b)
    await refusesToStart(/epoch 0 holds \d+ of the 1200 replay tags committed/)
  })

  it('a missing db/ after a run: refuses to start; inspect does not make a new one; repair does and refuses the key', async function () {
    const r = await start()
    await admit(packets(50))
    await r.kill9()
    rmSync(join(gw.dir, 'db'), { recursive: true, force: true })
    await refusesToStart(/db\/ in the data directory\) is missing/)
    await assert.rejects(inspectStore(gw.config, Date.now()), /RELAY_STORE_FAILED/)
    assert.equal(existsSync(join(gw.dir, 'db')), false, 'inspect made no database')
    const report = await repairStore(c, gw.config)
    assert.equal(report.database, 'created')
    assert.deepEqual(
      report.incomplete.map(i => [i.epoch, i.found, i.committed, i.refused]),
      [[0, 0, 50, true]]
    )
    await start()
    await waitFor(
      async () => /replay protection is incomplete/.test((await readyz()).body),
      10_000,
      'not ready, saying why'
    )
  })
})

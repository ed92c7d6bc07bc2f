/**
 * A full disk must not leave a relay failing rounds while /readyz says 200, leave the next epoch's
 * key file at 0 bytes, or kill the relay with an uncaught RELAY_KEYS_INVALID from a timer so that it
 * cannot start again. An exit gateway that follows directory authorities runs as its
 * own process in a private mount namespace, its data directory a 16 MiB tmpfs that the test fills
 * through /proc/PID/root: real ENOSPC, for this process only.
 * While the disk is full it stays up, answers /readyz 503 with the reason and logs it a bounded
 * number of times; the epoch changes and no key file is left empty. Once space is freed it is
 * ready again without a person, and every message it had spooled before is delivered.
 */
import assert from 'node:assert/strict'
import { closeSync, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { type CryptoSuite, epochAt, FRAME, loadCrypto, type Rng, Sphinx, systemRng } from '../../mix/index.ts'
import { createEpochnet, type EpochNode, type Epochnet } from '../helpers/epochnet.ts'
import { clientConn, G, httpGet, ingressConn, sample, waitFor } from '../helpers/testnet.ts'
import { type RelayProc, runRelay, tmpfsUnavailable } from './disk-helpers.ts'

const payload = (seq: number): Buffer => {
  const b = Buffer.alloc(G.userPayloadBytes)
  b.writeUInt32BE(seq, 0)
  b.write('disk-full', 4)
  return b
}

describe('a full disk (real ENOSPC on a tmpfs in a private mount namespace)', function () {
  this.timeout(180_000)
  let c: CryptoSuite
  let sphinx: Sphinx
  let rng: Rng
  let net: Epochnet | undefined
  let r: RelayProc | undefined
  before(async function () {
    const why = tmpfsUnavailable()
    if (why !== null) {
      console.log(`      skipped: ${why}`)
      this.skip()
    }
    c = await loadCrypto('sodium-native')
    sphinx = new Sphinx(c, G)
    rng = systemRng(c)
  })
  after(async function () {
    await r?.kill9()
    await net?.stop()
  })

  it('a gateway stays up and says why it is not ready, writes no empty key, and recovers by itself with every spooled message', async function () {
    net = await createEpochnet(c, { epochMs: 4000, graceMs: 1000, maxSkewMs: 300, bootMs: 3000 })
    const gwB: EpochNode = net.byName('gwB')
    renameSync(gwB.dir, `${gwB.dir}.seed`)
    mkdirSync(gwB.dir, { mode: 0o700 })
    r = runRelay(gwB.configFile, { tmpfs: { dir: gwB.dir, seed: `${gwB.dir}.seed`, size: '16m' } })
    const proc = r
    const alive = (): void =>
      assert.equal(proc.p.exitCode ?? proc.p.signalCode, null, `gwB died: ${proc.text().slice(-2000)}`)
    const scrape = async (): Promise<string> => (await httpGet(gwB.metricsPort, '/metrics')).body
    const readyz = async (): Promise<{ status: number; body: string }> =>
      await httpGet(gwB.metricsPort, '/readyz').catch(() => ({ status: 0, body: '' }))
    await Promise.all(net.nodes.filter(n => n !== gwB).map(async n => await net!.start(n)))
    await waitFor(
      async () =>
        (await readyz()).status === 200 &&
        net!.nodes.every(n => n === gwB || (n.relay!.ready && n.relay!.linksUp.length === (n.name === 'mix3' ? 2 : 1))),
      60_000,
      'network ready'
    )

    // N messages spooled at gwB (no ingress connected yet).
    const client = await clientConn(net.byName('gwA').port)
    const send = async (from: number, n: number): Promise<void> => {
      const doc = (await net!.directory.refresh())!
      for (let i = from; i < from + n; i++)
        client.send(FRAME.PACKET, net!.packetToIngress(doc, sphinx, payload(i), rng))
    }
    const N = 30
    const t0 = Date.now()
    await send(0, N)
    await waitFor(async () => sample(await scrape(), 'sealmix_spool_packets') === N, 20_000, 'all spooled at gwB')
    assert.ok(
      sample(await scrape(), 'sealmix_spool_oldest_age_seconds') <= Math.ceil((Date.now() - t0) / 1000),
      'the oldest age is in seconds, not hours'
    )

    // Fill the disk.
    const filler = proc.inside(join(gwB.dir, 'filler'))
    const fd = openSync(filler, 'w')
    try {
      for (const chunk = Buffer.alloc(1 << 16, 1); ; ) writeSync(fd, chunk)
    } catch (e) {
      assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC')
    } finally {
      closeSync(fd)
    }
    const fullAt = epochAt(net.schedule, Date.now())

    // Rounds with packets cannot commit: not ready, and why.
    await send(1000, 20)
    await waitFor(
      async () => /mixing rounds cannot be committed/.test((await readyz()).body),
      20_000,
      'readyz says why'
    )
    assert.equal((await readyz()).status, 503)
    assert.ok(sample(await scrape(), 'sealmix_store_commit_failures_total') >= 1)
    assert.ok(
      sample(await scrape(), 'sealmix_packets_dropped_total', 'reason="store"') >= 1,
      'the packets of a round that could not commit are counted'
    )
    // An epoch passes while the disk is full: the key ahead cannot be made, and that is reported, not thrown.
    await waitFor(
      () => epochAt(net!.schedule, Date.now()) >= fullAt + 2 && /"event":"epochs_failing".*ENOSPC/.test(proc.text()),
      30_000,
      'a key ahead failed to be written'
    )
    alive()
    const keys = proc.inside(join(gwB.dir, 'keys'))
    for (const f of readdirSync(keys).filter(f => /^mix-\d+\.key$/.test(f)))
      assert.equal(statSync(join(keys, f)).size, 32, `${f} is whole`)

    // Space freed: ready again without a person; the spool is whole.
    unlinkSync(filler)
    await waitFor(async () => (await readyz()).status === 200, 60_000, 'gwB ready again')
    alive()
    const ingress = await ingressConn(c, net, gwB)
    await waitFor(
      () => new Set(ingress.delivered.map(d => d.readUInt32BE(0)).filter(s => s < N)).size === N,
      20_000,
      'every message spooled before the disk filled is delivered'
    )
    // Rounds commit again: fresh messages go through.
    await send(2000, 5)
    await waitFor(
      () => ingress.delivered.filter(d => d.readUInt32BE(0) >= 2000).length === 5,
      20_000,
      'fresh messages delivered'
    )
    for (let f = 0; f < 3; f++) alive()

    // The log: a few lines, not one per failure; no id of any relay or the ingress.
    const lines = proc.text().split('\n')
    const count = (event: string): number => lines.filter(l => l.includes(`"event":"${event}"`)).length
    assert.ok(
      count('store_failing') >= 1 && count('store_failing') <= 4,
      `store_failing logged ${count('store_failing')} times`
    )
    assert.ok(
      count('epochs_failing') >= 1 && count('epochs_failing') <= 4,
      `epochs_failing logged ${count('epochs_failing')} times`
    )
    assert.equal(count('store_recovered'), 1)
    for (const id of [...net.nodes.map(n => n.keys.id), net.ingress.id])
      assert.ok(!proc.text().includes(id), 'no relay or ingress id in the log')
    ingress.close()
    client.close()
  })
})

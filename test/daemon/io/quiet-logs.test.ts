/**
 * Periodic work logs at info only when what it reports changed. A relay re-asks the authorities
 * every eighth of an epoch (1.25 s with 10 s epochs) and used to log `network document in use` at
 * info each time: the directory client handed it a fresh copy of the same document. Now the client
 * keeps the document it holds when the same one comes again (so a follower sees no new document,
 * and does and logs nothing), and a line that is written on every tick anyway (infoOnChange) is at
 * debug while its subject stays the same. Each with a positive control: a change is at info.
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { createLogger, infoOnChange } from '../../../daemon/index.ts'
import {
  buildEpochDocument,
  type CryptoSuite,
  DirectoryClient,
  epochStart,
  loadCrypto,
  NETWORK_GEOMETRY,
  type NetworkDocument,
  signDocument,
  signSchedule
} from '../../../mix/index.ts'

const MIXING = {
  strategy: 'batch' as const,
  intervalMs: 100,
  minPool: 8,
  flushFraction: 0.7,
  minBatch: 4,
  maxDelayMs: 5000,
  loopRatePerSec: 0.5
}

/** A logger at debug whose lines are kept as [level name, msg]. */
function capturingLogger(): { log: ReturnType<typeof createLogger>; lines: Array<[string, string]> } {
  const lines: Array<[string, string]> = []
  const names: Record<number, string> = { 20: 'debug', 30: 'info', 40: 'warn' }
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) {
        if (l === '') continue
        const o = JSON.parse(l) as { level: number; msg: string }
        lines.push([names[o.level] ?? String(o.level), o.msg])
      }
      cb()
    }
  })
  return { log: createLogger('debug', stream), lines }
}

describe('quiet periodic logs', function () {
  let c: CryptoSuite
  before(async function () {
    c = await loadCrypto()
  })

  it('infoOnChange: a repeated line is at debug while its subject stays, at info when it changes', function () {
    const { log, lines } = capturingLogger()
    const line = infoOnChange()
    for (const key of ['5:true', '5:true', '5:true', '6:true', '6:true', '6:false', '5:true'])
      line(log, key, { key }, 'network document in use')
    assert.deepEqual(
      lines.map(l => l[0]),
      ['info', 'debug', 'debug', 'info', 'debug', 'info', 'info']
    )
    // Positive control: the same ticks logged as before, at info each time, are all at info.
    const before = capturingLogger()
    for (let i = 0; i < 3; i++) before.log.info({ epoch: 5 }, 'network document in use')
    assert.deepEqual(
      before.lines.map(l => l[0]),
      ['info', 'info', 'info']
    )
  })

  it('a follower of the directory sees one new document per epoch, not one per re-ask, and logs it once at info', async function () {
    const schedule = { network: 'quiet', genesisMs: 1_000_000, epochMs: 10_000, graceMs: 1000 }
    const key = c.signSeedKeypair(Buffer.alloc(32, 91))
    const served = new Map<string, Buffer>([
      ['/v1/schedule', Buffer.from(JSON.stringify(signSchedule(c, schedule, key)))]
    ])
    const serve = (epoch: number): void => {
      const d = buildEpochDocument(c, {
        network: schedule.network,
        epoch,
        schedule,
        graceMs: schedule.graceMs,
        geometry: NETWORK_GEOMETRY,
        mixing: MIXING,
        descriptors: [],
        ingresses: []
      })
      served.set(`/v1/document/${epoch}`, Buffer.from(JSON.stringify(signDocument(c, d, [key]))))
    }
    let t = epochStart(schedule, 5) + 100
    const dir = new DirectoryClient({
      crypto: c,
      authorities: [{ url: 'http://authority', publicKey: Buffer.from(key.publicKey).toString('hex') }],
      transport: { get: async url => served.get(url.slice('http://authority'.length)) ?? null },
      now: () => t
    })
    // What RelayEpochs.tick and IngressDirectory.tick do with each refresh, and the relay's line.
    const { log, lines } = capturingLogger()
    const line = infoOnChange()
    let held: NetworkDocument | null = null
    const tick = async (): Promise<void> => {
      await dir.refresh()
      const doc = dir.current()
      if (doc !== null && doc !== held) {
        held = doc
        line(log, String(doc.epoch), { epoch: doc.epoch }, 'network document in use')
      }
    }
    serve(5)
    for (let i = 0; i < 8; i++) {
      await tick()
      t += 1250
    }
    assert.equal(held!.epoch, 5)
    assert.deepEqual(lines, [['info', 'network document in use']], 'eight re-asks of one document: one line')
    // The same document fetched again is the one held (equivocation is still checked on each).
    assert.equal(await dir.fetch(5), held)
    // Positive control: the next epoch's document is new, and said at info.
    serve(6)
    t = epochStart(schedule, 6) + 100
    await tick()
    await tick()
    assert.equal(held!.epoch, 6)
    assert.deepEqual(lines, [
      ['info', 'network document in use'],
      ['info', 'network document in use']
    ])
  })
})

/**
 * Key files left empty or partial by a crash (a full disk can leave keys/mix-6.key at 0 bytes).
 * Exiting 78 on such a file once space is freed is not enough: systemd does not restart on 78, so
 * a person would have to delete the file.
 * - An epoch's mix key file of the wrong size is replaced with a new key: the relay starts, says
 *   so in its log, and gets listed and ready.
 * - The identity key, the mailbox key and a static network file's mix key are never replaced:
 *   the relay refuses to start with an error that names the file and says what to do.
 */
import assert from 'node:assert/strict'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type CryptoSuite, epochAt, loadCrypto } from '../../mix/index.ts'
import { createEpochnet, type Epochnet } from '../helpers/epochnet.ts'
import { createTestnet, httpGet, type Testnet, waitFor } from '../helpers/testnet.ts'
import { type RelayProc, runRelay } from './disk-helpers.ts'

describe('damaged key files (real processes)', function () {
  this.timeout(120_000)
  let c: CryptoSuite
  const procs: RelayProc[] = []
  before(async function () {
    c = await loadCrypto('sodium-native')
  })
  afterEach(async function () {
    for (const p of procs.splice(0)) await p.kill9()
  })

  describe('an epoch key file of 0 or 17 bytes', function () {
    let net: Epochnet
    before(async function () {
      net = await createEpochnet(c, { epochMs: 30_000, graceMs: 2000, maxSkewMs: 500, bootMs: 3000 })
    })
    after(async function () {
      await net.stop()
    })

    it('is replaced with a new key: the relay starts, logs it, and is listed and ready', async function () {
      const gw = net.byName('gwA')
      const e = epochAt(net.schedule, Date.now())
      const damaged = [e, e + 1, e + 2, e + 3]
      for (const x of damaged)
        writeFileSync(join(gw.dir, 'keys', `mix-${x}.key`), x === e + 1 ? Buffer.alloc(17, 7) : Buffer.alloc(0), {
          mode: 0o600
        })
      const r = runRelay(gw.configFile)
      procs.push(r)
      const exited = r.exited.then(code => {
        throw new Error(`the relay exited ${String(code)}: ${r.text().slice(-1500)}`)
      })
      await Promise.race([
        exited,
        waitFor(
          async () => (await httpGet(gw.metricsPort, '/readyz').catch(() => ({ status: 0 }))).status === 200,
          60_000,
          'gwA listed and ready'
        )
      ])
      for (const x of damaged)
        assert.equal(statSync(join(gw.dir, 'keys', `mix-${x}.key`)).size, 32, `mix-${x}.key holds a key again`)
      const replaced = r
        .text()
        .split('\n')
        .filter(l => l.includes('"event":"mix_key_replaced"'))
      assert.deepEqual(
        replaced.map(l => (JSON.parse(l) as { epoch: number }).epoch).sort((a, b) => a - b),
        damaged
      )
      assert.ok(
        replaced.every(l => !l.includes(readFileSync(join(gw.dir, 'keys', `mix-${e}.key`)).toString('hex'))),
        'no key in the log'
      )
    })
  })

  describe('an identity, mailbox or static mix key file of 0 bytes', function () {
    let net: Testnet
    before(async function () {
      net = await createTestnet(c)
    })
    after(async function () {
      await net.stop()
    })

    for (const [file, todo] of [
      ['identity.key', /restore keys\/identity\.key from a backup.*new id/],
      ['mailbox.key', /restore keys\/mailbox\.key from a backup.*can then no longer be found/],
      ['mix.key', /restore keys\/mix\.key from a backup.*sign a new network file/]
    ] as const) {
      it(`${file}: the relay refuses to start, naming the file and what to do; the file is left as it was`, async function () {
        const n = net.byName(file === 'mix.key' ? 'mix1' : file === 'mailbox.key' ? 'gwB' : 'gwA')
        const path = join(n.dir, 'keys', file)
        const good = readFileSync(path)
        writeFileSync(path, Buffer.alloc(0))
        try {
          const r = runRelay(n.configFile)
          procs.push(r)
          assert.equal(await r.exited, 78, r.text().slice(-1500))
          assert.match(
            r.text(),
            new RegExp(`RELAY_KEYS_INVALID: keys/${file.replace('.', '\\.')} must hold exactly 32 bytes but holds 0`)
          )
          assert.match(r.text(), todo)
          assert.equal(statSync(path).size, 0, 'never replaced')
        } finally {
          writeFileSync(path, good)
        }
      })
    }
  })
})

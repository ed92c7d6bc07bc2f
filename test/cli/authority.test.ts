/** `sealmix init --role authority` and `sealmix authority` as a process: it serves a signed document built from a posted descriptor; a bad config names key, rule and value. */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { chooseDocument, epochAt, loadCrypto, NETWORK_GEOMETRY, relayId, signDescriptor } from '../../mix/index.ts'
import { freePort } from '../../tools/index.ts'
import { SEALMIX } from '../helpers/bundle.ts'
import { PROJECT, waitFor } from '../helpers/testnet.ts'

describe('sealmix authority', function () {
  this.timeout(60_000)

  it('runs from the config init writes, takes a descriptor once `authority admit` admitted its relay, and serves a signed document', async function () {
    const c = await loadCrypto()
    const dir = mkdtempSync(join(tmpdir(), 'sealmix-authority-'))
    const port = await freePort()
    const genesis = Date.now() + 8000 // descriptors posted before genesis make epoch 0's document
    const cfg = join(dir, 'authority.yaml')
    const init = spawnSync(
      process.execPath,
      [
        ...SEALMIX,
        'init',
        '--role',
        'authority',
        '--data-dir',
        join(dir, 'keys'),
        '--listen',
        `127.0.0.1:${port}`,
        '--network-name',
        'test',
        '--genesis-ms',
        String(genesis),
        '--out',
        cfg
      ],
      { cwd: PROJECT, encoding: 'utf8' }
    )
    assert.equal(init.status, 0, init.stderr)
    const signer = (JSON.parse(init.stdout) as { signer: string }).signer
    const bad = join(dir, 'bad.yaml')
    writeFileSync(
      bad,
      toYaml({ ...(parseYaml(readFileSync(cfg, 'utf8')) as object), epoch: { genesisMs: genesis, epochMs: 10 } })
    )
    const v = spawnSync(process.execPath, [...SEALMIX, 'authority', '--config', bad], {
      cwd: PROJECT,
      encoding: 'utf8'
    })
    assert.equal(v.status, 78)
    assert.equal(v.stderr.trim(), 'sealmix: RELAY_CONFIG_INVALID: epoch.epochMs must be >= 1000 (got 10)')
    assert.equal(
      spawnSync(process.execPath, [...SEALMIX, 'validate-config', '--role', 'authority', '--config', cfg], {
        cwd: PROJECT,
        encoding: 'utf8'
      }).stdout.trim(),
      'ok'
    )
    // Without --role, the file's own role says it is an authority's config.
    assert.equal(
      spawnSync(process.execPath, [...SEALMIX, 'validate-config', '--config', cfg], {
        cwd: PROJECT,
        encoding: 'utf8'
      }).stdout.trim(),
      'ok'
    )
    const p = spawn(process.execPath, [...SEALMIX, 'authority', '--config', cfg], { cwd: PROJECT, stdio: 'ignore' })
    try {
      await waitFor(
        async () => (await fetch(`http://127.0.0.1:${port}/v1/schedule`).catch(() => null))?.status === 200,
        20_000,
        'authority up'
      )
      const id = c.signSeedKeypair(Buffer.alloc(32, 5))
      const sd = signDescriptor(
        c,
        {
          version: 1,
          id: relayId(c, id.publicKey),
          role: 'mix',
          layer: 1,
          address: 'ws://m.example:9000',
          identityKey: Buffer.from(id.publicKey).toString('hex'),
          mixKeys: [0, 1, 2, 3].map(e => ({ epoch: e, key: Buffer.alloc(32, e + 1).toString('hex') }))
        },
        id.secretKey
      )
      const post = async (): Promise<number> =>
        (await fetch(`http://127.0.0.1:${port}/v1/descriptor`, { method: 'POST', body: JSON.stringify(sd) })).status
      assert.equal(await post(), 403, 'not admitted yet')
      // The operator admits it with the CLI; the running authority re-reads its admission file.
      const adm = spawnSync(
        process.execPath,
        [
          ...SEALMIX,
          'authority',
          'admit',
          '--config',
          cfg,
          '--relay',
          `mix:1:${Buffer.from(id.publicKey).toString('hex')}`
        ],
        { cwd: PROJECT, encoding: 'utf8' }
      )
      assert.equal(adm.status, 0, adm.stderr)
      await waitFor(async () => (await post()) === 200, 10_000, "the admitted relay's descriptor taken")
      // Removing a key nobody admitted (a relay id pasted for its identity key, say) is refused, not a silent no-op.
      const slip = spawnSync(
        process.execPath,
        [...SEALMIX, 'authority', 'remove', '--config', cfg, '--identity-key', relayId(c, id.publicKey)],
        { cwd: PROJECT, encoding: 'utf8' }
      )
      assert.equal(slip.status, 64)
      assert.match(slip.stderr, /no admitted relay has identity key/)
      assert.equal(
        (await fetch(`http://127.0.0.1:${port}/v1/document/0`)).status,
        404,
        'not served before its deadline'
      )
      await waitFor(
        async () => (await fetch(`http://127.0.0.1:${port}/v1/document/0`)).status === 200,
        20_000,
        'document served from genesis'
      )
      const epoch = epochAt({ genesisMs: genesis, epochMs: 3_600_000 }, Date.now())
      const served = Buffer.from(await (await fetch(`http://127.0.0.1:${port}/v1/document/${epoch}`)).arrayBuffer())
      const doc = chooseDocument(c, [served], {
        signers: [Buffer.from(signer, 'hex')],
        geometry: NETWORK_GEOMETRY,
        nowMs: Date.now(),
        epoch
      })
      assert.ok(doc.ok)
      assert.deepEqual(
        doc.value.relays.map(r => r.address),
        ['ws://m.example:9000']
      )
    } finally {
      await new Promise(resolve => {
        p.once('exit', resolve)
        p.kill('SIGTERM')
      })
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

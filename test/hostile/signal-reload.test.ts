/**
 * SIGHUP must not kill a sealmix program (dying of it at once, with no log line, is what systemd
 * counts as a clean exit). The daemons reload: each test runs the real program
 * (the bundle) and sends SIGHUP twice: with a config file that is refused (the daemon keeps
 * running on its config and logs why) and with a changed log level (applied: lines below the new
 * level stop, observed on lines the daemon logs afterwards, and the keys applied and those that
 * need a restart are named). listen and devnet, which have nothing to reload, say so and keep
 * running. What else a reload applies, and that no link is dropped for it, is in
 * reload-limits.test.ts.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type CryptoSuite, loadCrypto } from '../../mix/index.ts'
import { freePort } from '../../tools/index.ts'
import { initAuthority } from '../helpers/authority-config.ts'
import { SEALMIX } from '../helpers/bundle.ts'
import { type Program, programLine, runProgram, stopProgram } from '../helpers/program.ts'
import { createTestnet, httpGet, PROJECT, type Testnet, waitFor } from '../helpers/testnet.ts'

const json = (l: string): Record<string, unknown> => JSON.parse(l) as Record<string, unknown>

describe('hostile: SIGHUP', function () {
  this.timeout(180_000)
  let c: CryptoSuite
  let net: Testnet
  let dir: string
  const procs: Program[] = []
  const start = (args: string[]): Program => {
    const p = runProgram(args)
    procs.push(p)
    return p
  }

  before(async function () {
    c = await loadCrypto('sodium-native')
    net = await createTestnet(c)
    dir = mkdtempSync(join(tmpdir(), 'sealmix-hostile-hup-'))
  })
  afterEach(async function () {
    for (const p of procs.splice(0)) await stopProgram(p, 'SIGKILL')
  })
  after(async function () {
    await net?.stop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('a relay reloads its log level, keeps running on a refused file, and says which keys wait for a restart', async function () {
    const node = net.byName('mix1')
    const raw = JSON.parse(readFileSync(node.configFile, 'utf8')) as Record<string, unknown>
    const file = join(dir, 'relay.json')
    writeFileSync(file, JSON.stringify({ ...raw, log: { level: 'info' } }))
    const relay = start(['run', '--config', file])
    await programLine(relay, /"msg":"relay started"/, 'the relay starts')

    writeFileSync(
      file,
      JSON.stringify({ ...raw, limits: { ...(raw.limits as object), workers: 0 }, log: { level: 'info' } })
    )
    relay.p.kill('SIGHUP')
    const refused = json(await programLine(relay, /"event":"reload_refused"/, 'the refused reload is logged'))
    assert.match(String(refused.err), /RELAY_CONFIG_INVALID: limits\.workers must be >= 1 \(got 0\)/)
    assert.equal((await httpGet(node.metricsPort, '/healthz')).status, 200, 'still serving')

    writeFileSync(
      file,
      JSON.stringify({ ...raw, limits: { ...(raw.limits as object), workers: 2 }, log: { level: 'warn' } })
    )
    relay.p.kill('SIGHUP')
    const reloaded = json(await programLine(relay, /"event":"config_reloaded"/, 'the reload is logged'))
    assert.equal(reloaded.logLevel, 'warn')
    assert.deepEqual(reloaded.kept, ['limits.workers'])
    assert.deepEqual(reloaded.applied, ['log.level'])
    assert.match(String(reloaded.msg), /applied: log\.level; kept until a restart: limits\.workers$/)
    assert.equal(relay.exited, false, 'SIGHUP does not end the relay')

    // At warn, the relay's info lines on stopping are not written: the new level is in force.
    const after = relay.lines.length
    assert.deepEqual(await stopProgram(relay), { code: 0, signal: null })
    assert.deepEqual(
      relay.lines.slice(after).filter(l => /"msg":"(stopping|relay stopped)"/.test(l)),
      [],
      'no info line at warn'
    )
  })

  it('an ingress reloads its log level and keeps running on a refused file', async function () {
    const metricsPort = await freePort()
    const base = {
      dataDir: net.ingress.dir,
      serverName: 'example.org',
      network: { file: net.networkFile, signers: [Buffer.from(net.signer.publicKey).toString('hex')] },
      homeserver: {
        url: 'http://127.0.0.1:1',
        asToken: 'as-token-0123456789abcdef',
        hsToken: 'hs-token-0123456789abcdef'
      },
      api: { port: 0 },
      metrics: { port: metricsPort }
    }
    const file = join(dir, 'ingress.json')
    writeFileSync(file, JSON.stringify({ ...base, log: { level: 'info' } }))
    const ingress = start(['ingress', '--config', file])
    await programLine(ingress, /"event":"started"/, 'the ingress starts')

    writeFileSync(
      file,
      JSON.stringify({ ...base, homeserver: { ...base.homeserver, hs_token: 'x' }, log: { level: 'info' } })
    )
    ingress.p.kill('SIGHUP')
    const refused = json(await programLine(ingress, /"event":"reload_refused"/, 'the refused reload is logged'))
    assert.match(String(refused.err), /homeserver\.hs_token is not a known key/)

    writeFileSync(file, JSON.stringify({ ...base, log: { level: 'warn' } }))
    ingress.p.kill('SIGHUP')
    assert.equal(json(await programLine(ingress, /"event":"config_reloaded"/, 'the reload is logged')).logLevel, 'warn')
    const after = ingress.lines.length
    // Its exit gateway comes up: the ingress links (ready), and at warn does not log the info line of it.
    await net.start(net.byName('gwB'))
    await waitFor(
      async () => (await httpGet(metricsPort, '/readyz').catch(() => ({ status: 0 }))).status === 200,
      30_000,
      'the ingress links to its gateway'
    )
    assert.deepEqual(await stopProgram(ingress), { code: 0, signal: null })
    assert.deepEqual(
      ingress.lines.slice(after).filter(l => /"event":"gateway_up"/.test(l)),
      [],
      'no info line at warn'
    )
    await net.byName('gwB').relay!.stop()
    net.byName('gwB').relay = null
  })

  it('an authority reloads its log level and keeps running on a refused file', async function () {
    const file = join(dir, 'authority.yaml')
    const port = await freePort()
    initAuthority({ dir, port: port, network: 'hup', out: file, extra: ['--epoch', '10s', '--grace', '2s'] })
    const good = readFileSync(file, 'utf8')
    const authority = start(['authority', '--config', file])
    await programLine(authority, /"event":"authority_started"/, 'the authority starts')

    writeFileSync(file, good.replace(/epochMs: \d+/, 'epochMs: 10'))
    authority.p.kill('SIGHUP')
    assert.match(
      String(json(await programLine(authority, /"event":"reload_refused"/, 'the refused reload is logged')).err),
      /epoch\.epochMs must be >= 1000 \(got 10\)/
    )

    writeFileSync(file, `${good}log:\n  level: warn\n`)
    authority.p.kill('SIGHUP')
    const reloaded = json(await programLine(authority, /"event":"config_reloaded"/, 'the reload is logged'))
    assert.equal(reloaded.logLevel, 'warn')
    assert.deepEqual(reloaded.kept, [])
    assert.deepEqual(reloaded.applied, ['log.level'])
    assert.equal((await fetch(`http://127.0.0.1:${port}/v1/schedule`)).status < 500, true, 'still serving')
    assert.deepEqual(await stopProgram(authority), { code: 0, signal: null })
  })

  it('listen and devnet have nothing to reload: they say so and keep running', async function () {
    writeFileSync(join(dir, 'a.token'), 'tok-alice-0123456789\n')
    const hex = 'ab'.repeat(32)
    const init = spawnSync(
      process.execPath,
      [
        ...SEALMIX,
        'init',
        '--role',
        'client',
        '--user',
        '@a:example.org',
        '--device',
        'A',
        '--token-file',
        join(dir, 'a.token'),
        '--homeserver',
        'http://127.0.0.1:1',
        '--ingress-api',
        'http://127.0.0.1:1',
        '--gateway',
        hex,
        '--authority',
        `http://127.0.0.1:1=${hex}`,
        '--out',
        join(dir, 'a.profile.json'),
        '--contact-out',
        join(dir, 'a.contact.json')
      ],
      { cwd: PROJECT, encoding: 'utf8' }
    )
    assert.equal(init.status, 0, init.stderr)
    const listen = start(['listen', '--profile', join(dir, 'a.profile.json')])
    await programLine(listen, /waiting for a network document/, 'listen waits for the authorities')
    listen.p.kill('SIGHUP')
    await programLine(
      listen,
      /SIGHUP: 'listen' has nothing to reload; it keeps running/,
      'listen says it keeps running'
    )
    assert.deepEqual(await stopProgram(listen), { code: 0, signal: null })

    const devnet = start(['devnet', '--epoch', '5s'])
    await programLine(devnet, /\S/, 'the devnet prints its first line', { ms: 60_000 })
    devnet.p.kill('SIGHUP')
    await programLine(
      devnet,
      /SIGHUP: 'devnet' has nothing to reload; it keeps running/,
      'the devnet says it keeps running'
    )
    assert.deepEqual(await stopProgram(devnet, 'SIGINT'), { code: 0, signal: null })
  })
})

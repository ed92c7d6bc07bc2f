/**
 * SIGHUP is a full reload: what can change while a program runs is applied to the running
 * program, and no link is dropped for it. Each test runs the real program (the bundle):
 * - a gateway with a client link and a relay link up, reloaded with a lower per-address client
 *   limit, debug logging and a metrics token: a second client from the same address, accepted
 *   before (the positive control), is refused after, while the first client link stays open and
 *   answers pulls, the relay link stays up, debug lines appear and /metrics wants the token;
 * - an ingress reloaded with a metrics token: /metrics, open before, wants it after;
 * - an authority reloaded with perSourcePerSecond 1: a third quick POST, answered before, is
 *   refused (429) after;
 * - a wss:// listener given a renewed certificate: new TLS connections get it, and a certificate
 *   file that cannot be read is refused with the config error, the old one still served.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { RelayError } from '../../daemon/index.ts'
import { Listener, readTls } from '../../daemon/relay/listener/server.ts'
import { type CryptoSuite, FRAME, loadCrypto } from '../../mix/index.ts'
import { freePort } from '../../tools/index.ts'
import { initAuthority } from '../helpers/authority-config.ts'
import { type Program, programLine, runProgram } from '../helpers/program.ts'
import {
  clientConn,
  createTestnet,
  G,
  httpGet,
  randomBytes,
  sample,
  selfSigned,
  type Testnet,
  waitFor
} from '../helpers/testnet.ts'

const json = (l: string): Record<string, unknown> => JSON.parse(l) as Record<string, unknown>
const TOKEN = 'reload-token-0123456789'

describe('hostile: SIGHUP applies limits without dropping links', function () {
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
    dir = mkdtempSync(join(tmpdir(), 'sealmix-hostile-reload-'))
  })
  afterEach(async function () {
    for (const p of procs.splice(0)) {
      if (!p.exited) p.p.kill('SIGKILL')
      await p.exit
    }
  })
  after(async function () {
    await net?.stop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('a gateway takes a lower per-address limit, debug logging and a metrics token; its client and relay links stay up', async function () {
    const gw = net.byName('gwA')
    const raw = JSON.parse(readFileSync(gw.configFile, 'utf8')) as Record<string, Record<string, unknown>>
    const file = join(dir, 'gateway.json')
    const write = (limits: Record<string, unknown>, level: string, metrics: Record<string, unknown> = {}): void =>
      writeFileSync(
        file,
        JSON.stringify({
          ...raw,
          limits: { ...raw.limits, ...limits },
          metrics: { ...raw.metrics, ...metrics },
          log: { level }
        })
      )
    write({ maxConnectionsPerIp: 16 }, 'info')
    const relay = start(['run', '--config', file])
    await programLine(relay, /"msg":"relay started"/, 'the gateway starts')
    const scrape = async (): Promise<string> =>
      (await httpGet(gw.metricsPort, '/metrics', { authorization: `Bearer ${TOKEN}` })).body
    // Its next layer (mix1) comes up: the gateway's outgoing relay link.
    await net.start(net.byName('mix1'))
    await waitFor(
      async () => sample(await scrape(), 'sealmix_connections', 'link="peer"') === 1,
      30_000,
      "the gateway's relay link up"
    )

    const first = await clientConn(gw.port)
    let firstClosed = false
    first.ws.once('close', () => {
      firstClosed = true
    })
    first.send(FRAME.PULL, randomBytes(c, 32))
    await waitFor(() => first.frames.length >= 16, 10_000, 'the first pull answered')

    // Positive control: before the reload a second client from the same address is let in.
    const second = await clientConn(gw.port)
    second.send(FRAME.PULL, randomBytes(c, 32))
    await waitFor(() => second.frames.length >= 16, 10_000, "the second client's pull answered")
    second.close()
    await waitFor(
      async () => sample(await scrape(), 'sealmix_connections', 'link="client"') === 1,
      10_000,
      'the second client gone'
    )
    assert.equal(relay.lines.filter(l => /"msg":"connection opened"/.test(l)).length, 0, 'no debug line while at info')

    write({ maxConnectionsPerIp: 1, handshakeTimeoutMs: 3000, maxBufferedBytes: 1 << 20 }, 'debug', {
      token: TOKEN
    })
    const from = relay.lines.length
    relay.p.kill('SIGHUP')
    const reloaded = json(await programLine(relay, /"event":"config_reloaded"/, 'the reload is logged', { from }))
    assert.equal(reloaded.logLevel, 'debug')
    assert.deepEqual(reloaded.kept, [])
    assert.deepEqual(
      [...(reloaded.applied as string[])].sort(),
      [
        'limits.handshakeTimeoutMs',
        'limits.maxBufferedBytes',
        'limits.maxConnectionsPerIp',
        'log.level',
        'metrics.token'
      ],
      'the keys applied, named'
    )
    assert.equal(JSON.stringify(reloaded).includes(TOKEN), false, 'the token is never logged')

    // The new limit: the same address gets no second client slot.
    await assert.rejects(clientConn(gw.port), /503/, 'a second client from the same address is refused')
    assert.ok(
      sample(await scrape(), 'sealmix_connections_refused_total', 'reason="address_clients"') >= 1,
      'counted as address_clients'
    )
    // The first link was not dropped and still works.
    assert.equal(firstClosed, false, 'the first client link is open')
    first.send(FRAME.PULL, randomBytes(c, 32))
    await waitFor(() => first.frames.length >= 32, 10_000, 'the first client pulls again after the reload')
    // The new log level: a client from another address is logged at debug.
    const other = await clientConn(gw.port, { localAddress: '127.0.0.2' })
    await programLine(relay, /"level":20,.*"msg":"connection opened"/, 'a debug line', { from })
    other.close()
    // The new token.
    assert.equal((await httpGet(gw.metricsPort, '/metrics')).status, 401, '/metrics wants the token')
    const text = await scrape()
    assert.equal(sample(text, 'sealmix_connections', 'link="peer"'), 1, 'the relay link is still up')
    assert.equal(
      text.split('\n').filter(l => /^sealmix_connections_closed_total\{link="(client|peer)"/.test(l) && !/ 0$/.test(l))
        .length,
      0,
      'no client or relay link was closed by the relay'
    )
    relay.p.kill('SIGTERM')
    await relay.exit
    first.close()
  })

  it('an ingress takes a metrics token on SIGHUP', async function () {
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
      metrics: { port: metricsPort },
      log: { level: 'info' }
    }
    const file = join(dir, 'ingress.json')
    writeFileSync(file, JSON.stringify(base))
    const ingress = start(['ingress', '--config', file])
    await programLine(ingress, /"event":"started"/, 'the ingress starts')
    assert.equal((await httpGet(metricsPort, '/metrics')).status, 200, 'positive control: open before the reload')

    writeFileSync(
      file,
      JSON.stringify({
        ...base,
        metrics: { port: metricsPort, token: TOKEN },
        limits: { perDestinationPerMinute: 10 },
        api: { port: 1 }
      })
    )
    const from = ingress.lines.length
    ingress.p.kill('SIGHUP')
    const reloaded = json(await programLine(ingress, /"event":"config_reloaded"/, 'the reload is logged', { from }))
    assert.deepEqual(reloaded.kept, ['api.port'], 'the API address waits for a restart')
    assert.deepEqual(
      [...(reloaded.applied as string[])].sort(),
      ['limits.perDestinationPerMinute', 'metrics.token'],
      'the keys applied, named'
    )
    assert.equal((await httpGet(metricsPort, '/metrics')).status, 401, '/metrics wants the token')
    const ok = await httpGet(metricsPort, '/metrics', { authorization: `Bearer ${TOKEN}` })
    assert.equal(ok.status, 200)
  })

  it('an authority takes a lower per-source POST rate on SIGHUP', async function () {
    const file = join(dir, 'authority.yaml')
    const port = await freePort()
    initAuthority({ dir, port: port, network: 'reload', out: file })
    const good = readFileSync(file, 'utf8')
    const authority = start(['authority', '--config', file])
    await programLine(authority, /"event":"authority_started"/, 'the authority starts')
    /** Three POSTs at once from this address: their statuses. */
    const burst = async (): Promise<number[]> =>
      await Promise.all(
        [1, 2, 3].map(
          async () => (await fetch(`http://127.0.0.1:${port}/v1/descriptor`, { method: 'POST', body: '{}' })).status
        )
      )
    assert.deepEqual(await burst(), [400, 400, 400], 'positive control: each answered (malformed) before the reload')

    writeFileSync(file, good.replace(/perSourcePerSecond: \d+/, 'perSourcePerSecond: 1'))
    const from = authority.lines.length
    authority.p.kill('SIGHUP')
    const reloaded = json(await programLine(authority, /"event":"config_reloaded"/, 'the reload is logged', { from }))
    assert.deepEqual(reloaded.applied, ['limits.perSourcePerSecond'])
    assert.deepEqual(reloaded.kept, [])
    // A burst of 2 (twice the rate) is allowed; the third is over it.
    assert.deepEqual((await burst()).sort(), [400, 400, 429], 'the third quick POST is refused')
  })

  it('a wss:// listener serves a renewed certificate to new connections, and refuses one it cannot read', async function () {
    // Each names itself in its subject, so that a connection shows which one it was served.
    const [old, renewed] = [selfSigned(dir, 'old', 'old'), selfSigned(dir, 'renewed', 'renewed')]
    const l = new Listener({
      crypto: c,
      geometry: G,
      identity: { id: Buffer.alloc(32), secretKey: new Uint8Array(64) },
      host: '127.0.0.1',
      port: 0,
      tls: old,
      maxConnections: 8,
      maxConnectionsPerIp: 8,
      reservedPeerSlots: 1,
      maxBufferedBytes: 1 << 20,
      handshakeTimeoutMs: 2000,
      pingIntervalMs: 1000,
      kinds: new Set(['client']),
      keyOf: () => undefined,
      onOpen: () => {},
      onMessage: () => {},
      onClose: () => {}
    })
    const port = await l.start()
    /** The subject of the certificate a new TLS connection is served. */
    const served = async (): Promise<string> =>
      await new Promise((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
          resolve(String(s.getPeerCertificate().subject.CN))
          s.destroy()
        })
        s.once('error', reject)
      })
    try {
      assert.equal(await served(), 'old')
      const refused = (() => {
        try {
          return readTls({ ...renewed, certFile: join(dir, 'missing.pem') })
        } catch (e) {
          return e
        }
      })()
      assert.ok(refused instanceof RelayError && refused.code === 'RELAY_CONFIG_INVALID')
      assert.match(
        refused.message,
        /^RELAY_CONFIG_INVALID: tls must name a readable PEM certificate .*missing\.pem.*ENOENT/
      )
      assert.equal(await served(), 'old', 'a refused reload leaves the certificate in use')
      assert.equal(l.useTls(readTls(renewed)), true)
      assert.equal(await served(), 'renewed', 'new connections get the renewed certificate')
    } finally {
      await l.close()
    }
  })
})

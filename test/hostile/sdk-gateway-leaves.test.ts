/**
 * A client's entry gateway leaves the network document under it (its operator took it out of the
 * admission, as during a routine restart or move). A path built with a document that no longer
 * lists the gateway must not throw MIX_BAD_ARGUMENT from a send timer, which would kill the
 * embedding process. The client survives: it says why it waits
 * ('waiting', gateway_not_listed), holds what is sent meanwhile, and delivers it once a document
 * lists the gateway again ('routable', 'delivered'). Real authorities (with an admission file
 * they re-read), relays, an ingress and a stand-in homeserver on loopback; epochs of 4 s.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Contact,
  type Device,
  directoryClient,
  fetchSenderCert,
  registerCapability,
  SealmixClient
} from '../../client/index.ts'
import {
  type Admission,
  Authority,
  ensureKeys,
  Ingress,
  initIngressKeys,
  loadIdentity,
  loadIngressKeys,
  parseConfig,
  parseIngressConfig,
  Relay,
  saveAdmission
} from '../../daemon/index.ts'
import { createLogger } from '../../daemon/io/log.ts'
import { type CryptoSuite, loadCrypto, NETWORK_GEOMETRY, type NetworkDocument, systemRng } from '../../mix/index.ts'
import { freePort, StandinHomeserver } from '../../tools/index.ts'
import { captureStream } from '../helpers/log-capture.ts'
import { waitFor } from '../helpers/testnet.ts'

const SERVER = 'example.org'
const AS_TOKEN = 'as-token-0123456789abcdef'
const MIXING = {
  strategy: 'batch' as const,
  intervalMs: 20,
  minPool: 0,
  flushFraction: 1,
  minBatch: 0,
  maxDelayMs: 2000,
  loopRatePerSec: 0
}

describe('hostile: the SDK when its gateway leaves the document', function () {
  this.timeout(180_000)
  let c: CryptoSuite
  let root: string
  const authorities: Authority[] = []
  const relays: Relay[] = []
  let ingress: Ingress | null = null
  let hs: StandinHomeserver | null = null
  let client: SealmixClient | null = null

  before(async function () {
    c = await loadCrypto('sodium-native')
  })
  after(async function () {
    client?.close()
    await ingress?.stop()
    await hs?.close()
    for (const r of relays) await r.stop()
    for (const a of authorities) await a.stop()
    if (root !== undefined) rmSync(root, { recursive: true, force: true })
  })

  it('survives, says it waits, and delivers again once the gateway is listed', async function () {
    const rng = systemRng(c)
    root = mkdtempSync(join(tmpdir(), 'sealmix-hostile-sdk-'))
    const epoch = { epochMs: 4000, graceMs: 2000, maxSkewMs: 1000 }
    const schedule = { genesisMs: Date.now() + 3000, epochMs: epoch.epochMs }
    const signing = [0, 1, 2].map(() => c.signSeedKeypair(rng.bytes(32)))
    const ports = [await freePort(), await freePort(), await freePort()]
    const refs = signing.map((k, i) => ({
      url: `http://127.0.0.1:${ports[i]!}`,
      publicKey: Buffer.from(k.publicKey).toString('hex')
    }))

    // Five relays following the authorities; gwA is the client's entry gateway, gwB the ingress's exit.
    const nodes: Array<{
      name: string
      role: 'gateway' | 'mix'
      layer: number
      config: ReturnType<typeof parseConfig>
      identityKey: string
      id: string
    }> = []
    for (const [name, role, layer] of [
      ['gwA', 'gateway', 0],
      ['gwB', 'gateway', 0],
      ['mix1', 'mix', 1],
      ['mix2', 'mix', 2],
      ['mix3', 'mix', 3]
    ] as const) {
      const dir = join(root, name)
      ensureKeys(c, dir, false)
      const port = await freePort()
      const config = parseConfig(
        {
          role,
          dataDir: dir,
          listen: { host: '127.0.0.1', port },
          directory: { authorities: refs, address: `ws://127.0.0.1:${port}`, layer, maxSkewMs: epoch.maxSkewMs },
          limits: { workers: 1, handshakeTimeoutMs: 2000, pingIntervalMs: 1000 },
          replay: { capacity: 100_000 },
          metrics: { enabled: false },
          log: { level: 'silent' }
        },
        root
      )
      nodes.push({
        name,
        role,
        layer,
        config,
        identityKey: Buffer.from(loadIdentity(c, dir).identity.publicKey).toString('hex'),
        id: loadIdentity(c, dir).id
      })
    }
    const ingressDir = join(root, 'ingress')
    const { rootPublicKey } = initIngressKeys(c, ingressDir, SERVER, Date.now())
    const serverRoot = rootPublicKey!
    const admissionFile = join(root, 'admitted.yaml')
    const admission = (without: string[]): Admission => ({
      relays: nodes
        .filter(n => !without.includes(n.name))
        .map(n => ({ identityKey: n.identityKey, role: n.role, layer: n.layer })),
      servers: [{ name: SERVER, rootKeys: [serverRoot.toString('hex')] }]
    })
    saveAdmission(admissionFile, admission([]))
    for (const [i, k] of signing.entries()) {
      const a = new Authority({
        crypto: c,
        signing: k,
        network: 'hostile',
        schedule,
        graceMs: epoch.graceMs,
        geometry: NETWORK_GEOMETRY,
        mixing: MIXING,
        ingresses: [],
        host: '127.0.0.1',
        port: ports[i]!,
        peers: refs.filter((_, j) => j !== i),
        admission: { file: admissionFile }
      })
      await a.start()
      authorities.push(a)
    }
    for (const n of nodes) {
      const r = new Relay({
        config: n.config,
        binding: 'sodium-native',
        minRetryMs: 100,
        maxRetryMs: 1000,
        logger: createLogger('trace', captureStream)
      })
      relays.push(r)
      await r.start()
    }

    // The stand-in homeserver and a real ingress (exit gwB) beside it.
    const alice: Device & { token: string } = device(c, '@alice:example.org', 'ALICEPHONE', 'tok-alice-0123456789')
    const bob: Device & { token: string } = device(c, '@bob:example.org', 'BOBLAPTOP', 'tok-bob-0123456789ab')
    hs = new StandinHomeserver({
      serverName: SERVER,
      asToken: AS_TOKEN,
      users: [alice, bob].map(p => ({ userId: p.userId, deviceId: p.deviceId, accessToken: p.token }))
    })
    const hsUrl = `http://127.0.0.1:${await hs.listen(0)}`
    const apiPort = await freePort()
    const gwB = nodes.find(n => n.name === 'gwB')!
    ingress = new Ingress({
      config: parseIngressConfig(
        {
          dataDir: ingressDir,
          serverName: SERVER,
          directory: { authorities: refs, gateways: [gwB.id], maxSkewMs: epoch.maxSkewMs },
          homeserver: { url: hsUrl, asToken: AS_TOKEN, hsToken: 'hs-token-0123456789abcdef' },
          api: { port: apiPort },
          metrics: { enabled: false },
          log: { level: 'silent' }
        },
        '/'
      ),
      minRetryMs: 100,
      maxRetryMs: 1000,
      logger: createLogger('trace', captureStream)
    })
    await ingress.start()
    const ik = loadIngressKeys(c, ingressDir, SERVER)
    const apiUrl = `http://127.0.0.1:${apiPort}`
    const certs = await fetchSenderCert(apiUrl, alice.token, alice)
    const bobCap = c.signSeedKeypair(rng.bytes(32))
    await registerCapability(apiUrl, bob.token, bob.deviceId, 1, bobCap.publicKey)
    const toBob: Contact = {
      userId: bob.userId,
      deviceId: bob.deviceId,
      x25519: bob.x25519.publicKey,
      capability: { keyId: 1, secretKey: bobCap.secretKey }
    }

    // A document that lists every relay and the ingress.
    const directory = directoryClient({ crypto: c, authorities: refs, maxSkewMs: epoch.maxSkewMs })
    const complete = (d: NetworkDocument | null): boolean =>
      d !== null && d.relays.length === 5 && d.ingresses.some(i => i.id === ik.id)
    let first: NetworkDocument | null = null
    await waitFor(
      async () => {
        first = await directory.refresh()
        return complete(first)
      },
      60_000,
      'a document that lists every relay and the ingress'
    )

    const gwA = nodes.find(n => n.name === 'gwA')!
    client = new SealmixClient({
      crypto: c,
      network: first!,
      directory,
      gatewayId: gwA.id,
      device: alice,
      mailboxId: rng.bytes(32),
      trust: {
        roots: name => (name === SERVER ? [serverRoot] : []),
        serverCert: () => undefined,
        isRevoked: () => false
      },
      senderCert: certs.senderCert,
      serverCert: certs.serverCert,
      // Many slots a second: a slot right after the document changes builds a path with it.
      rates: { clientRatePerSec: 40, clientLoopRatePerSec: 40 },
      ackTimeoutMs: 3000,
      routeWaitMs: 120_000,
      minRetryMs: 100,
      maxRetryMs: 1000
    })
    const events: string[] = []
    const delivered = new Set<string>()
    const failed: string[] = []
    client.on('waiting', (e: { reason: string }) => events.push(`waiting:${e.reason}`))
    client.on('routable', () => events.push('routable'))
    client.on('delivered', (e: { messageId: string }) => delivered.add(e.messageId))
    client.on('failed', (e: { code: string }) => failed.push(e.code))
    client.start()
    const early = client.send(toBob, 'before the gateway left')
    await waitFor(() => delivered.has(early), 60_000, 'a first message delivered through gwA')

    // gwA's operator takes it out of the admission: the next documents do not list it.
    saveAdmission(admissionFile, admission(['gwA']))
    await waitFor(
      () => client!.waitingFor === 'gateway_not_listed',
      60_000,
      'the client says its gateway is not listed'
    )
    assert.ok(!client.network.relays.some(r => r.id === gwA.id), 'the client builds with a document without gwA')
    // Well past the change (documents of later epochs, their slots built with them), still alive.
    const epochGone = client.network.epoch
    await waitFor(
      async () => (await directory.refresh())?.epoch === epochGone + 1 && client!.network.epoch === epochGone + 1,
      30_000,
      'a second epoch without gwA'
    )
    const during = client.send(toBob, 'while the gateway is not listed')
    assert.equal(client.pending, 1, 'the message waits')

    // gwA is admitted again: a later document lists it, and the waiting message is delivered.
    saveAdmission(admissionFile, admission([]))
    await waitFor(() => delivered.has(during), 90_000, 'the message sent while gwA was not listed is delivered')
    assert.deepEqual(failed, [])
    assert.ok(events.includes('waiting:gateway_not_listed'), events.join(', '))
    assert.equal(events[events.length - 1], 'routable', events.join(', '))
    assert.equal(client.stats.errors, 0, 'no step failed: every slot checked the document it built with')
  })
})

function device(c: CryptoSuite, userId: string, deviceId: string, token: string): Device & { token: string } {
  const rng = systemRng(c)
  const xs = rng.bytes(32)
  const xp = Buffer.alloc(32)
  c.x25519Base(xp, xs)
  return {
    userId,
    deviceId,
    token,
    x25519: { publicKey: xp, secretKey: xs },
    ed25519: c.signSeedKeypair(rng.bytes(32))
  }
}

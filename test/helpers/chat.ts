/**
 * A chat world on top of the testnet: the stand-in homeserver (a fake: no Matrix homeserver runs
 * here), a real Ingress process object beside it, devices for alice and bob with certificates from
 * the ingress's API, and SDK clients on the testnet's gateways.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  type ClientOptions,
  type Contact,
  type Device,
  fetchSenderCert,
  registerCapability,
  SealmixClient
} from '../../client/index.ts'
import { Ingress, parseIngressConfig, type Sink } from '../../daemon/index.ts'
import { createLogger } from '../../daemon/io/log.ts'
import {
  type CryptoSuite,
  type MixingParams,
  type SenderCert,
  type ServerCert,
  systemRng,
  type TrustStore
} from '../../mix/index.ts'
import { freePort, StandinHomeserver, syncToDevice } from '../../tools/index.ts'
import { CANARIES, captureStream } from './log-capture.ts'
import { createTestnet, randomBytes, type Testnet, waitFor } from './testnet.ts'

export const AS_TOKEN = 'as-token-0123456789abcdef'
export const SERVER = 'example.org'

export interface Person {
  device: Device
  token: string
  mailboxId: Buffer
  capability: { keyId: number; publicKey: Uint8Array; secretKey: Uint8Array }
  senderCert?: SenderCert
  serverCert?: ServerCert
}

export interface Chat {
  hs: StandinHomeserver
  hsUrl: string
  ingress: Ingress | null
  apiUrl: string
  alice: Person
  bob: Person
  /** A third user of the server, for rooms (enrolled by the tests that use her). */
  carol: Person
  trust: TrustStore
  /**
   * `homeserverUrl`: where the ingress finds its homeserver (default the stand-in; a test puts a
   * recording proxy in between); `now`: the ingress's clock; `roomGraceMs`: rooms.rotationGraceMs.
   */
  startIngress(sink?: Sink, o?: { homeserverUrl?: string; now?: () => number; roomGraceMs?: number }): Promise<Ingress>
  /** The ingress's config as a file, for `sealmix ingress --config` (metrics on the given port). */
  ingressConfigFile(metricsPort: number): string
  client(p: Person, o?: Partial<ClientOptions>): SealmixClient
  contact(p: Person, capabilitySecret?: Uint8Array): Contact
  /** Bob's envelopes so far, from the stand-in's /sync. */
  envelopesFor(p: Person): Promise<Buffer[]>
  stop(): Promise<void>
}

function person(c: CryptoSuite, userId: string, deviceId: string): Person {
  const rng = systemRng(c)
  const xs = rng.bytes(32)
  const xp = Buffer.alloc(32)
  c.x25519Base(xp, xs)
  const cap = c.signSeedKeypair(rng.bytes(32))
  for (const s of [userId, deviceId]) CANARIES.add(s)
  return {
    device: { userId, deviceId, x25519: { publicKey: xp, secretKey: xs }, ed25519: c.signSeedKeypair(rng.bytes(32)) },
    token: `tok-${randomBytes(c, 12).toString('hex')}`,
    mailboxId: rng.bytes(32),
    capability: { keyId: 1, ...cap }
  }
}

export async function createChat(c: CryptoSuite, net: Testnet): Promise<Chat> {
  const alice = person(c, `@alice:${SERVER}`, 'ALICEPHONE')
  const bob = person(c, `@bob:${SERVER}`, 'BOBLAPTOP')
  const carol = person(c, `@carol:${SERVER}`, 'CAROLDESK')
  const hs = new StandinHomeserver({
    serverName: SERVER,
    asToken: AS_TOKEN,
    users: [alice, bob, carol]
      .map(p => ({ userId: p.device.userId, deviceId: p.device.deviceId, accessToken: p.token }))
      .concat([{ userId: '@eve:other.example', deviceId: 'EVE', accessToken: 'tok-eve-foreign-user' }])
  })
  const hsUrl = `http://127.0.0.1:${await hs.listen(0)}`
  const apiPort = await freePort()
  const rawIngressConfig = (o: { homeserverUrl?: string; roomGraceMs?: number } = {}): Record<string, unknown> => ({
    dataDir: net.ingress.dir,
    serverName: SERVER,
    network: { file: net.networkFile, signers: [Buffer.from(net.signer.publicKey).toString('hex')] },
    homeserver: { url: o.homeserverUrl ?? hsUrl, asToken: AS_TOKEN, hsToken: 'hs-token-0123456789abcdef' },
    ...(o.roomGraceMs !== undefined ? { rooms: { rotationGraceMs: o.roomGraceMs } } : {}),
    api: { port: apiPort },
    metrics: { port: 0 },
    log: { level: 'trace' }
  })
  const chat: Chat = {
    hs,
    hsUrl,
    ingress: null,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    alice,
    bob,
    carol,
    trust: {
      roots: name => (name === SERVER ? [net.ingress.serverRoot] : []),
      serverCert: () => undefined,
      isRevoked: () => false
    },
    ingressConfigFile(metricsPort) {
      const file = join(net.ingress.dir, '..', 'ingress.json')
      writeFileSync(
        file,
        JSON.stringify({ ...rawIngressConfig(), metrics: { port: metricsPort }, log: { level: 'warn' } })
      )
      return file
    },
    async startIngress(sink, o = {}) {
      const config = parseIngressConfig(rawIngressConfig(o), '/')
      const ing = new Ingress({
        config,
        sink,
        now: o.now,
        minRetryMs: 100,
        maxRetryMs: 1000,
        logger: createLogger('trace', captureStream)
      })
      await ing.start()
      chat.ingress = ing
      return ing
    },
    client(p, o = {}) {
      return new SealmixClient({
        crypto: c,
        network: net.doc,
        gatewayId: net.byName('gwA').keys.id,
        device: p.device,
        mailboxId: p.mailboxId,
        trust: chat.trust,
        senderCert: p.senderCert,
        serverCert: p.serverCert,
        ackTimeoutMs: 3000,
        minRetryMs: 100,
        maxRetryMs: 1000,
        ...o
      })
    },
    contact(p, capabilitySecret) {
      return {
        userId: p.device.userId,
        deviceId: p.device.deviceId,
        x25519: p.device.x25519.publicKey,
        capability: { keyId: p.capability.keyId, secretKey: capabilitySecret ?? p.capability.secretKey }
      }
    },
    async envelopesFor(p) {
      const r = await syncToDevice({ url: hsUrl, token: p.token }, undefined)
      return r.events.map(e => Buffer.from(String(e.content.envelope), 'base64'))
    },
    async stop() {
      await chat.ingress?.stop()
      await hs.close()
    }
  }
  return chat
}

/** Certificates and capability registration through the ingress's API (needs a running ingress). */
export async function enrol(chat: Chat, p: Person): Promise<void> {
  const certs = await fetchSenderCert(chat.apiUrl, p.token, p.device)
  p.senderCert = certs.senderCert
  p.serverCert = certs.serverCert
  await registerCapability(chat.apiUrl, p.token, p.device.deviceId, p.capability.keyId, p.capability.publicKey)
}

/**
 * A testnet with every relay started and linked, a chat world on it with the ingress linked, and
 * alice and bob enrolled: the common start of the tests that carry messages end to end.
 */
export async function startChatNet(
  c: CryptoSuite,
  mixing: Partial<MixingParams>,
  waitMs = 15_000
): Promise<{ net: Testnet; chat: Chat }> {
  const net = await createTestnet(c, { mixing })
  for (const n of net.nodes) await net.start(n)
  await waitFor(() => net.linksUp(), waitMs, 'relay links up')
  const chat = await createChat(c, net)
  await chat.startIngress()
  await waitFor(() => chat.ingress!.linksUp === 1, waitMs, 'ingress link up')
  await enrol(chat, chat.alice)
  await enrol(chat, chat.bob)
  return { net, chat }
}

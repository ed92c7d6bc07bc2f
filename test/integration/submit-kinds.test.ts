/**
 * What an ingress takes (docs/PROTOCOL.md §15), on the loopback testnet with a real ingress: a
 * room request (kind 2) for a room without a registered key is refused; scheme 3 (bearer)
 * is refused for a known destination (bad_token), since the ingress stores no bearer tokens.
 * Neither reaches the homeserver.
 */
import assert from 'node:assert/strict'
import type { SealmixClient } from '../../client/index.ts'
import {
  type CryptoSuite,
  encodeSubmit,
  KIND_ROOM,
  loadCrypto,
  parseSubmit,
  sealMessage,
  sealRoomMessage,
  signDelivery,
  systemRng
} from '../../mix/index.ts'
import { type Chat, startChatNet } from '../helpers/chat.ts'
import { randomBytes, type Testnet } from '../helpers/testnet.ts'

describe('submission kinds and schemes an ingress takes (docs/PROTOCOL.md §15)', function () {
  this.timeout(90_000)
  let c: CryptoSuite
  let net: Testnet
  let chat: Chat
  let alice: SealmixClient
  before(async function () {
    c = await loadCrypto('sodium-native')
    ;({ net, chat } = await startChatNet(c, { clientRatePerSec: 25, clientLoopRatePerSec: 2 }))
    alice = chat.client(chat.alice)
    alice.start()
  })
  after(async function () {
    alice?.close()
    await chat?.stop()
    await net?.stop()
  })

  const refused = async (reason: string): Promise<number> => {
    const m = await chat.ingress!.metrics.registry.getSingleMetric('sealmix_ingress_refused_total')!.get()
    return m.values.find(v => v.labels.reason === reason)?.value ?? 0
  }

  /** The code a submission fails with; an error if it is delivered or nothing comes. */
  async function failure(request: Buffer): Promise<string> {
    const id = alice.submit(net.ingress.id, request)
    return await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no answer')), 30_000)
      alice.on('failed', (e: { messageId: string; code: string }) => {
        if (e.messageId === id) {
          clearTimeout(t)
          resolve(e.code)
        }
      })
      alice.on('delivered', (e: { messageId: string }) => {
        if (e.messageId === id) {
          clearTimeout(t)
          reject(new Error('delivered'))
        }
      })
    })
  }

  it('refuses a room request (kind 2) for a room with no registered send key: unknown_destination, nothing posted', async function () {
    const room = '!nokey:example.org'
    const batch = sealRoomMessage(
      c,
      room,
      {
        contentType: 8,
        content: Buffer.from('to every device'),
        senderCert: chat.alice.senderCert!,
        serverCert: chat.alice.serverCert
      },
      chat.alice.device.x25519,
      [chat.alice.device.x25519.publicKey, chat.bob.device.x25519.publicKey],
      systemRng(c)
    )
    const key = c.signSeedKeypair(randomBytes(c, 32))
    const request = encodeSubmit({
      kind: KIND_ROOM,
      dest: room,
      envelope: batch,
      auth: signDelivery(c, key.secretKey, 1, room, Date.now(), batch, 'group')
    })
    assert.equal(parseSubmit(request).ok, true, 'kind 2 parses')
    const unknown = await refused('unknown_destination')
    const hs = chat.hs.received.length
    assert.equal(await failure(request), 'CLIENT_REFUSED')
    assert.equal(await refused('unknown_destination'), unknown + 1)
    assert.equal(chat.hs.received.length, hs, 'nothing delivered')
  })

  it('refuses a bearer-token request to a known destination (bad_token)', async function () {
    const dest = `${chat.bob.device.userId}/${chat.bob.device.deviceId}`
    const env = sealMessage(
      c,
      {
        contentType: 8,
        content: Buffer.from('bearer'),
        senderCert: chat.alice.senderCert!,
        serverCert: chat.alice.serverCert
      },
      chat.alice.device.x25519,
      chat.bob.device.x25519.publicKey,
      systemRng(c)
    )
    const request = encodeSubmit({
      kind: 1,
      dest,
      envelope: env,
      auth: { scheme: 'bearer', token: randomBytes(c, 32) }
    })
    const badToken = await refused('bad_token')
    const hs = chat.hs.received.length
    assert.equal(await failure(request), 'CLIENT_REFUSED')
    assert.equal(await refused('bad_token'), badToken + 1)
    assert.equal(chat.hs.received.length, hs, 'nothing delivered')
  })
})

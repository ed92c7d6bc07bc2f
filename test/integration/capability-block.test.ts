/**
 * Rotating a device's capability key with `sealmix rotate-capability` (docs/PROTOCOL.md §20): a
 * normal rotation leaves the old contact card working for its grace; `--now` (a block) ends it at
 * once, and only the new card delivers. Real CLI process, real ingress, five-relay testnet.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { type Contact, registerCapability, type SealmixClient } from '../../client/index.ts'
import { type CryptoSuite, loadCrypto } from '../../mix/index.ts'
import { contactCard, loadContact, loadProfile, newProfile } from '../../tools/index.ts'
import { SEALMIX } from '../helpers/bundle.ts'
import { type Chat, SERVER, startChatNet } from '../helpers/chat.ts'
import { PROJECT, type Testnet } from '../helpers/testnet.ts'

const run = promisify(execFile)

describe('rotate-capability: a normal rotation keeps the old card for its grace, --now ends it', function () {
  this.timeout(120_000)
  let c: CryptoSuite
  let net: Testnet
  let chat: Chat
  let alice: SealmixClient
  let profile: string
  let cards: string

  before(async function () {
    c = await loadCrypto('sodium-native')
    ;({ net, chat } = await startChatNet(c, { clientRatePerSec: 40, clientLoopRatePerSec: 1 }))
    alice = chat.client(chat.alice, { cover: false })
    alice.start()
    // bob's device as a CLI profile (his token, the chat's ingress API), registered with its first key.
    const dir = join(net.ingress.dir, '..')
    profile = join(dir, 'bob.profile.json')
    cards = dir
    const p = newProfile(c, {
      network: { file: net.networkFile, signers: [Buffer.from(net.signer.publicKey).toString('hex')] },
      gateway: net.byName('gwB').keys.id,
      homeserver: { url: chat.hsUrl, accessToken: chat.bob.token },
      ingressApi: chat.apiUrl,
      trust: { [SERVER]: [net.ingress.serverRoot.toString('hex')] },
      userId: chat.bob.device.userId,
      deviceId: chat.bob.device.deviceId
    })
    writeFileSync(profile, JSON.stringify(p), { mode: 0o600 })
    await rotate('card1.json', false)
  })
  after(async function () {
    alice?.close()
    await chat?.stop()
    await net?.stop()
  })

  async function rotate(out: string, now: boolean): Promise<Contact> {
    await run(
      process.execPath,
      [
        ...SEALMIX,
        'rotate-capability',
        '--profile',
        profile,
        '--contact-out',
        join(cards, out),
        ...(now ? ['--now'] : [])
      ],
      { cwd: PROJECT }
    )
    return loadContact(join(cards, out))
  }

  async function outcome(to: Contact): Promise<string> {
    const id = alice.send(to, 'knock knock')
    return await new Promise(resolve => {
      const done = (e: { messageId: string; code?: string }, what: string): void => {
        if (e.messageId !== id) return
        alice.off('delivered', ok)
        alice.off('failed', no)
        resolve(what === 'delivered' ? what : (e.code ?? what))
      }
      const ok = (e: { messageId: string }): void => done(e, 'delivered')
      const no = (e: { messageId: string; code: string }): void => done(e, 'failed')
      alice.on('delivered', ok)
      alice.on('failed', no)
    })
  }

  it('a normal rotation: the old card still delivers (grace), and so does the new one', async function () {
    const old = loadContact(join(cards, 'card1.json'))
    const fresh = await rotate('card2.json', false)
    assert.notEqual(fresh.capability.keyId, old.capability.keyId)
    assert.equal(await outcome(old), 'delivered')
    assert.equal(await outcome(fresh), 'delivered')
  })

  it('--now: the previous card is refused at once; the new card delivers; the profile holds the new key', async function () {
    const old = loadContact(join(cards, 'card2.json'))
    const fresh = await rotate('card3.json', true)
    assert.equal(await outcome(old), 'CLIENT_REFUSED')
    assert.equal(await outcome(fresh), 'delivered')
    assert.deepEqual(contactCard(loadProfile(c, profile)).capability.keyId, fresh.capability.keyId)
    // A profile restored from before the block cannot bring the blocked key back.
    const oldPublic = Buffer.from(old.capability.secretKey).subarray(32)
    await assert.rejects(
      registerCapability(chat.apiUrl, chat.bob.token, chat.bob.device.deviceId, old.capability.keyId, oldPublic),
      /CLIENT_REFUSED: .*409 SEALMIX_STALE_KEY/
    )
    assert.equal(await outcome(old), 'CLIENT_REFUSED')
  })
})

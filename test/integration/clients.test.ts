/**
 * Clients and the ingress on the loopback testnet (real relays, sockets, LevelDB; the homeserver is
 * the stand-in, a fake): end to end with acks through SURBs; offline client and
 * mailbox; offline ingress and spool; fragmentation; each refusal with its own code.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SealmixClient } from '../../client/index.ts'
import { type Delivery, matrixSink, type SinkResult } from '../../daemon/index.ts'
import {
  API_ENDPOINTS,
  API_RESULTS,
  FRAGMENT_RESULTS,
  MESSAGE_RESULTS,
  REFUSAL_REASONS,
  ROOM_KEY_RESULTS
} from '../../daemon/ingress/metrics.ts'
import {
  type CryptoSuite,
  encodeSubmit,
  FRAME,
  loadCrypto,
  type SenderCert,
  sealMessage,
  signDelivery,
  signIngressBinding,
  signSenderCert,
  systemRng
} from '../../mix/index.ts'
import { SEALMIX } from '../helpers/bundle.ts'
import { AS_TOKEN, type Chat, createChat, enrol, SERVER } from '../helpers/chat.ts'
import { DAY } from '../helpers/seal.ts'
import {
  clientConn,
  createTestnet,
  httpGet,
  metric,
  PROJECT,
  sample,
  type Testnet,
  waitFor
} from '../helpers/testnet.ts'
import { needTool } from '../helpers/tools.ts'

describe('clients, ingress and homeserver on the testnet', function () {
  this.timeout(90_000)
  let c: CryptoSuite
  let net: Testnet
  let chat: Chat
  const seen: Delivery[] = []
  const clients: SealmixClient[] = []
  let gate: Promise<void> | null = null

  before(async function () {
    c = await loadCrypto('sodium-native')
    net = await createTestnet(c, { mixing: { clientRatePerSec: 25, clientLoopRatePerSec: 2 } })
    for (const n of net.nodes) await net.start(n)
    await waitFor(() => net.linksUp(), 15_000, 'relay links up')
    chat = await createChat(c, net)
    await startIngress()
    await enrol(chat, chat.alice)
    await enrol(chat, chat.bob)
  })
  // One client per mailbox at a time: a client acknowledges every frame its pulls return.
  afterEach(function () {
    for (const cl of clients.splice(0)) cl.close()
  })
  after(async function () {
    await chat?.stop()
    await net?.stop()
  })

  /** The real Matrix sink, wrapped to record what the ingress handed on (and to hold it back on demand). */
  async function startIngress(): Promise<void> {
    const real = matrixSink({ url: chat.hsUrl, asToken: AS_TOKEN, botUserId: `@sealmix:${SERVER}` })
    await chat.startIngress({
      deliver: async (d): Promise<SinkResult> => {
        seen.push(d)
        if (gate !== null) await gate
        return await real.deliver(d)
      }
    })
    await waitFor(() => chat.ingress!.linksUp === 1, 10_000, 'ingress link up')
  }

  function client(who: 'alice' | 'bob'): SealmixClient {
    const cl = chat.client(chat[who])
    clients.push(cl)
    cl.start()
    return cl
  }

  async function delivered(cl: SealmixClient, id: string, ms = 30_000): Promise<{ latencyMs: number }> {
    return await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no delivery ack for ${id.slice(0, 8)}`)), ms)
      const ok = (e: { messageId: string; latencyMs: number }): void => {
        if (e.messageId === id) {
          clearTimeout(t)
          cl.off('delivered', ok)
          cl.off('failed', bad)
          resolve(e)
        }
      }
      const bad = (e: { messageId: string; code: string }): void => {
        if (e.messageId === id) {
          clearTimeout(t)
          reject(new Error(`failed: ${e.code}`))
        }
      }
      cl.on('delivered', ok)
      cl.on('failed', bad)
    })
  }

  it("carries a message from alice to bob's device; bob verifies alice; alice gets the ack through a SURB; the ingress never learns alice", async function () {
    const alice = client('alice')
    const before = seen.length
    const id = alice.send(chat.contact(chat.bob), 'hello bob')
    const { latencyMs } = await delivered(alice, id)
    assert.ok(latencyMs > 0)
    assert.ok(alice.stats.acks >= 1, 'the ack came back through the mailbox')
    const envs = await chat.envelopesFor(chat.bob)
    assert.equal(envs.length, 1)
    const bob = chat.client(chat.bob)
    const opened = bob.open(envs[0]!)
    assert.ok(opened.ok)
    assert.equal(opened.value.sender.userId, '@alice:example.org')
    assert.equal(opened.value.sender.deviceId, 'ALICEPHONE')
    assert.equal(opened.value.content.toString(), 'hello bob')
    // The same envelope handed over again (a homeserver that forgot the transaction): not received twice.
    const receivedBefore = bob.stats.received
    const again = bob.open(envs[0]!)
    assert.deepEqual(again, { ok: false, code: 'CLIENT_DUPLICATE' })
    assert.equal(bob.stats.received, receivedBefore)
    assert.equal(bob.stats.duplicates, 1)
    // What the ingress handed on names bob's device and nothing of alice: her ids and keys are not in it.
    const mine = seen.slice(before)
    assert.equal(mine.length, 1)
    assert.equal(mine[0]!.userId, '@bob:example.org')
    const handed = Buffer.concat([Buffer.from(mine[0]!.userId + mine[0]!.deviceId), mine[0]!.envelope])
    for (const secret of [
      Buffer.from('@alice:example.org'),
      Buffer.from('ALICEPHONE'),
      Buffer.from(chat.alice.device.x25519.publicKey),
      Buffer.from(chat.alice.device.ed25519.publicKey)
    ]) {
      assert.equal(handed.indexOf(secret), -1)
    }
    // Alice's connection is to gwA; the ingress has exactly one link, to gwB.
    assert.equal(chat.ingress!.linksUp, 1)
    assert.ok((await metric(net.byName('gwA').relay!, 'sealmix_connections', { link: 'client' })) >= 1)
    assert.equal(await metric(net.byName('gwB').relay!, 'sealmix_connections', { link: 'client' }), 0)
  })

  it("keeps the ack in alice's mailbox while she is offline and hands it over when she reconnects", async function () {
    const gwA = net.byName('gwA').relay!
    const clientLinks = async (): Promise<number> => await metric(gwA, 'sealmix_connections', { link: 'client' })
    // Earlier tests' clients are closed (afterEach): from here on alice's is gwA's only client connection.
    await waitFor(async () => (await clientLinks()) === 0, 10_000, 'earlier clients gone from gwA')
    // No loop cover for this client: its loops would come and go from the same mailbox.
    const alice = chat.client(chat.alice, { cover: false })
    clients.push(alice)
    alice.start()
    await once(alice, 'up')
    let release!: () => void
    gate = new Promise(resolve => {
      release = resolve
    })
    const id = alice.send(chat.contact(chat.bob), 'sent just before going offline')
    await waitFor(() => alice.stats.realSent >= 1, 10_000, 'the packet left')
    await waitFor(() => seen.some(d => d.messageId === id), 10_000, 'the ingress has it')
    alice.pause()
    // Whenever it comes, a delivery before resume() is one she got while offline.
    let resumed = false
    let early = false
    alice.on('delivered', () => {
      if (!resumed) early = true
    })
    const answered = await chat.ingress!.metrics.answers.get()
    const sentBefore = answered.values.find(v => v.labels.result === 'sent')?.value ?? 0
    release()
    gate = null
    await waitFor(
      async () =>
        ((await chat.ingress!.metrics.answers.get()).values.find(v => v.labels.result === 'sent')?.value ?? 0) >
        sentBefore,
      10_000,
      'the ingress answered'
    )
    // The ack crosses five relays (20 ms rounds) into gwA's mailbox; alice is offline.
    await waitFor(
      async () => (await metric(gwA, 'sealmix_mailbox_packets')) >= 1,
      10_000,
      'the ack waits in the mailbox'
    )
    // Barrier instead of a sleep: gwA has closed alice's connection, the only way the ack could
    // reach her; a pull of her mailbox now (by a connection that does not acknowledge) is answered,
    // so an online alice would have had the ack; and it is still stored, so nobody acknowledged it.
    await waitFor(async () => (await clientLinks()) === 0, 10_000, "alice's connection closed at gwA")
    assert.equal(alice.connected, false)
    const probe = await clientConn(net.byName('gwA').port)
    probe.send(FRAME.PULL, chat.alice.mailboxId)
    await waitFor(() => probe.frames.length >= 16, 10_000, "the probe's pull answered")
    probe.close()
    assert.ok((await metric(gwA, 'sealmix_mailbox_packets')) >= 1, 'the ack is still in the mailbox')
    assert.equal(early, false, 'no delivery while offline')
    resumed = true
    alice.resume()
    await delivered(alice, id)
    assert.equal(early, false, 'no delivery while offline')
  })

  it('spools at the exit gateway while the ingress is down and delivers everything when it is back', async function () {
    await chat.ingress!.stop()
    const alice = client('alice')
    const gwB = net.byName('gwB').relay!
    const ids = [1, 2, 3].map(i => alice.send(chat.contact(chat.bob), `while the ingress was down #${i}`))
    await waitFor(async () => (await metric(gwB, 'sealmix_spool_packets')) >= 3, 20_000, 'three packets spooled')
    const acks = ids.map(async id => await delivered(alice, id, 60_000))
    await startIngress()
    await Promise.all(acks)
    const texts = (await chat.envelopesFor(chat.bob))
      .map(e => chat.client(chat.bob).open(e))
      .filter(r => r.ok)
      .map(r => (r.ok ? r.value.content.toString() : ''))
    for (const i of [1, 2, 3]) assert.equal(texts.filter(t => t === `while the ingress was down #${i}`).length, 1)
  })

  it('delivers a 10 KiB message whole through fragmentation', async function () {
    const alice = client('alice')
    const big = Buffer.alloc(10 * 1024)
    c.randomFill(big)
    const before = alice.stats.realSent
    const id = alice.send(chat.contact(chat.bob), big, { contentType: 2 })
    await delivered(alice, id)
    assert.ok(
      alice.stats.realSent - before >= 8,
      `10 KiB takes at least 8 packets (took ${alice.stats.realSent - before})`
    )
    const all = await chat.envelopesFor(chat.bob)
    const got = all.map(e => chat.client(chat.bob).open(e)).find(r => r.ok && r.value.content.length === big.length)
    assert.ok(got?.ok)
    assert.deepEqual(got.value.content, big)
  })

  it('sealmix init --role client and sealmix send (the CLI, as its own process) deliver with an ack', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'sealmix-cli-client-'))
    writeFileSync(join(dir, 'alice.token'), chat.alice.token)
    writeFileSync(
      join(dir, 'bob.contact.json'),
      JSON.stringify({
        userId: chat.bob.device.userId,
        deviceId: chat.bob.device.deviceId,
        x25519: Buffer.from(chat.bob.device.x25519.publicKey).toString('hex'),
        capability: { keyId: 1, secret: Buffer.from(chat.bob.capability.secretKey).toString('hex') }
      })
    )
    const cli = async (...args: string[]): Promise<{ code: number | null; out: string; err: string }> =>
      await new Promise(resolve => {
        const p = spawn(process.execPath, [...SEALMIX, ...args], { cwd: PROJECT })
        let out = ''
        let err = ''
        p.stdout.on('data', (d: Buffer) => {
          out += d.toString()
        })
        p.stderr.on('data', (d: Buffer) => {
          err += d.toString()
        })
        p.once('exit', code => resolve({ code, out, err }))
      })
    const init = await cli(
      'init',
      '--role',
      'client',
      '--user',
      chat.alice.device.userId,
      '--device',
      chat.alice.device.deviceId,
      '--token-file',
      join(dir, 'alice.token'),
      '--homeserver',
      chat.hsUrl,
      '--ingress-api',
      chat.apiUrl,
      '--gateway',
      net.byName('gwA').keys.id,
      '--network',
      net.networkFile,
      '--signer',
      Buffer.from(net.signer.publicKey).toString('hex'),
      '--trust',
      `${SERVER}=${net.ingress.serverRoot.toString('hex')}`,
      '--out',
      join(dir, 'alice.json'),
      '--contact-out',
      join(dir, 'alice.contact.json')
    )
    assert.equal(init.code, 0, init.err)
    const sent = await cli(
      'send',
      '--profile',
      join(dir, 'alice.json'),
      '--to',
      join(dir, 'bob.contact.json'),
      '--message',
      'from the command line',
      '--json'
    )
    assert.equal(sent.code, 0, sent.err)
    assert.equal((JSON.parse(sent.out.trim()) as { event: string }).event, 'delivered')
    const texts = (await chat.envelopesFor(chat.bob))
      .map(e => chat.client(chat.bob).open(e))
      .map(r => (r.ok ? r.value.content.toString() : ''))
    assert.ok(texts.includes('from the command line'))
    rmSync(dir, { recursive: true, force: true })
  })

  it("the ingress's metrics: labels from closed sets, no ids or tokens in any value", async function () {
    const text = (await httpGet(chat.ingress!.metricsPort, '/metrics')).body
    assert.ok(sample(text, 'sealmix_ingress_messages_total', 'result="delivered"') >= 1)
    const allowed: Record<string, Set<string>> = {
      result: new Set([
        ...FRAGMENT_RESULTS,
        ...MESSAGE_RESULTS,
        ...API_RESULTS,
        ...ROOM_KEY_RESULTS,
        'sent',
        'no_link'
      ]),
      reason: new Set(REFUSAL_REASONS),
      endpoint: new Set(API_ENDPOINTS),
      state: new Set(['up', 'down']),
      le: new Set(),
      kind: new Set(['minor', 'major', 'incremental', 'weakcb']),
      version: new Set(),
      // sealmix_build_info: the build's commit and Node version, fixed for the process's life.
      commit: new Set(),
      node: new Set(),
      major: new Set(),
      minor: new Set(),
      patch: new Set(),
      space: new Set()
    }
    for (const line of text.split('\n').filter(l => l !== '' && !l.startsWith('#'))) {
      for (const [, k, v] of line.matchAll(/(\w+)="([^"]*)"/g)) {
        assert.ok(k! in allowed, `label ${k!} in ${line}`)
        if (allowed[k!]!.size > 0) assert.ok(allowed[k!]!.has(v!), `value ${v!} of ${k!}`)
      }
    }
    for (const secret of [chat.alice.token, chat.bob.token, AS_TOKEN, 'alice', 'bob', net.ingress.id])
      assert.equal(text.includes(secret), false, 'no id or token in the scrape')
  })

  it("promtool check metrics accepts the ingress's scrape", async function () {
    const promtool = needTool(this, 'promtool', 'prometheus')
    const text = (await httpGet(chat.ingress!.metricsPort, '/metrics')).body
    const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' })
    assert.equal(r.status, 0, r.stdout + r.stderr)
  })

  it("a rogue ingress for example.org in the document (its binding not signed by the server's root) gets nothing; every message goes to the vouched-for one", async function () {
    // A rogue ingress whose id sorts first, with a binding signed by a key of its own.
    const rogueKey = c.signSeedKeypair(Buffer.alloc(32, 123))
    const rogueBox = Buffer.alloc(32)
    c.x25519Base(rogueBox, Buffer.alloc(32, 124))
    const subject = {
      serverName: SERVER,
      identityKey: Buffer.from(rogueKey.publicKey).toString('hex'),
      boxKey: rogueBox.toString('hex')
    }
    const rogue = {
      id: '00'.repeat(32),
      ...subject,
      gateways: net.doc.ingresses[0]!.gateways,
      binding: signIngressBinding(c, subject, Date.now() + 3_600_000, rogueKey.secretKey)
    }
    // Only the rogue one listed: nothing is sealed to it, and the message fails as unverified.
    const alone = chat.client(chat.alice, {
      network: { ...net.doc, ingresses: [rogue] },
      routeWaitMs: 500,
      cover: false
    })
    clients.push(alone)
    alone.start()
    const failed = new Promise<{ messageId: string; code: string }>(resolve => alone.on('failed', resolve))
    const id = alone.send(chat.contact(chat.bob), 'not for the rogue')
    assert.deepEqual(await failed, { type: 'failed', messageId: id, code: 'CLIENT_INGRESS_UNVERIFIED' })
    assert.equal(alone.waitingFor, null)
    assert.equal(alone.stats.realSent, 0, 'nothing sealed to the rogue ingress')
    alone.close()
    // Both listed: five messages, each delivered by the real ingress, and the homeserver got each one.
    const both = chat.client(chat.alice, { network: { ...net.doc, ingresses: [rogue, ...net.doc.ingresses] } })
    clients.push(both)
    both.start()
    const before = (await chat.envelopesFor(chat.bob)).length
    for (let i = 0; i < 5; i++) await delivered(both, both.send(chat.contact(chat.bob), `vouched ${i}`))
    assert.equal(
      (await chat.envelopesFor(chat.bob)).length,
      before + 5,
      'every message counted delivered reached the homeserver'
    )
  })

  describe('refusals, each with its own code, and nothing delivered for them', function () {
    const hsCount = (): number => chat.hs.received.length
    const refused = async (reason: string): Promise<number> => {
      const m = await chat.ingress!.metrics.registry.getSingleMetric('sealmix_ingress_refused_total')!.get()
      return m.values.find(v => v.labels.reason === reason)?.value ?? 0
    }
    async function failed(cl: SealmixClient, id: string): Promise<string> {
      return await new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no answer')), 30_000)
        cl.on('failed', (e: { messageId: string; code: string }) => {
          if (e.messageId === id) {
            clearTimeout(t)
            resolve(e.code)
          }
        })
        cl.on('delivered', (e: { messageId: string }) => {
          if (e.messageId === id) {
            clearTimeout(t)
            reject(new Error('delivered'))
          }
        })
      })
    }

    it('a forged capability signature: the ingress refuses (bad_signature), the homeserver gets nothing', async function () {
      const alice = client('alice')
      const before = hsCount()
      const forged = c.signSeedKeypair(Buffer.alloc(32, 7)).secretKey
      assert.equal(await failed(alice, alice.send(chat.contact(chat.bob, forged), 'forged')), 'CLIENT_REFUSED')
      assert.equal(await refused('bad_signature'), 1)
      assert.equal(hsCount(), before)
    })

    it('a replayed envelope: the first copy is delivered, the second refused (replay)', async function () {
      const alice = client('alice')
      const env = sealMessage(
        c,
        {
          contentType: 8,
          content: Buffer.from('once only'),
          senderCert: chat.alice.senderCert!,
          serverCert: chat.alice.serverCert
        },
        chat.alice.device.x25519,
        chat.bob.device.x25519.publicKey,
        systemRng(c)
      )
      const dest = `${chat.bob.device.userId}/${chat.bob.device.deviceId}`
      const request = encodeSubmit({
        kind: 1,
        dest,
        envelope: env,
        auth: signDelivery(c, chat.bob.capability.secretKey, 1, dest, Date.now(), env)
      })
      const before = hsCount()
      await delivered(alice, alice.submit(net.ingress.id, request))
      assert.equal(await failed(alice, alice.submit(net.ingress.id, request)), 'CLIENT_REFUSED')
      assert.equal(await refused('replay'), 1)
      assert.equal(hsCount(), before + 1)
    })

    /** Send with a hand-made SenderCert; the ingress cannot see it and delivers; bob's SDK must refuse it. */
    async function bobRefuses(cert: SenderCert): Promise<string> {
      const alice = chat.client(chat.alice, { senderCert: cert })
      clients.push(alice)
      alice.start()
      const before = (await chat.envelopesFor(chat.bob)).length
      await delivered(alice, alice.send(chat.contact(chat.bob), 'do not believe me'))
      const env = (await chat.envelopesFor(chat.bob))[before]!
      const bob = chat.client(chat.bob)
      let received = 0
      bob.on('received', () => {
        received++
      })
      const codes: string[] = []
      bob.on('rejected', (e: { code: string }) => codes.push(e.code))
      const r = bob.open(env)
      assert.equal(r.ok, false)
      assert.equal(received, 0)
      assert.deepEqual(codes, [r.ok ? '' : r.code])
      return r.ok ? '' : r.code
    }

    it("an expired SenderCert: bob's SDK refuses it (SEAL_SENDER_CERT_EXPIRED)", async function () {
      const now = Date.now()
      const k = net.ingress.keys
      const cert = signSenderCert(
        c,
        {
          signerKeyId: k.serverCert.keyId,
          issuedMs: now - 2 * DAY,
          expiresMs: now - DAY,
          senderX25519: chat.alice.device.x25519.publicKey,
          senderEd25519: chat.alice.device.ed25519.publicKey,
          userId: chat.alice.device.userId,
          deviceId: chat.alice.device.deviceId
        },
        k.issuing.secretKey
      )
      assert.equal(await bobRefuses(cert), 'SEAL_SENDER_CERT_EXPIRED')
    })

    it("a SenderCert for a user of another server: bob's SDK refuses it (SEAL_DOMAIN_MISMATCH); the ingress will not issue one", async function () {
      const now = Date.now()
      const k = net.ingress.keys
      const cert = signSenderCert(
        c,
        {
          signerKeyId: k.serverCert.keyId,
          issuedMs: now,
          expiresMs: now + DAY / 2,
          senderX25519: chat.alice.device.x25519.publicKey,
          senderEd25519: chat.alice.device.ed25519.publicKey,
          userId: '@mallory:evil.example',
          deviceId: 'MAL'
        },
        k.issuing.secretKey
      )
      assert.equal(await bobRefuses(cert), 'SEAL_DOMAIN_MISMATCH')
      const res = await fetch(`${chat.apiUrl}/_sealmix/v1/sender_cert`, {
        method: 'POST',
        headers: { Authorization: 'Bearer tok-eve-foreign-user' },
        body: JSON.stringify({ device_id: 'EVE', x25519: '11'.repeat(32), ed25519: '22'.repeat(32) })
      })
      assert.equal(res.status, 403)
      assert.equal(((await res.json()) as { errcode: string }).errcode, 'SEALMIX_FOREIGN_USER')
      const unknown = await fetch(`${chat.apiUrl}/_sealmix/v1/sender_cert`, {
        method: 'POST',
        headers: { Authorization: 'Bearer not-a-token' },
        body: JSON.stringify({ x25519: '11'.repeat(32), ed25519: '22'.repeat(32) })
      })
      assert.equal(unknown.status, 401)
    })
  })
})

#!/usr/bin/env node
/**
 * sealmix: parses arguments and dispatches. The only reader of process.argv and process.env and
 * the only caller of process.exit. Errors print as one line; exit statuses are documented in
 * `sealmix --help` and docs/OPERATIONS.md.
 */
import { writeFileSync } from 'node:fs'
import { stringify as toYaml } from 'yaml'
import { readFileSync } from 'node:fs'
import {
  auditSvg, Authority, authorityKey, loadAuthorityConfig, NETWORK_GEOMETRY, buildNetworkDocument, ensureKeys, inspectStore, loadIdentity, runAudit, runDevnet, EXIT_STATUS, loadConfig, loadCrypto, loadKeys, loadSignerKey, publicKeys, Relay, RelayError,
  writeNetworkFile, type IngressDescriptor, type MixingParams, type RelayDescriptor
} from '../daemon/index.ts'
import { ClientError, CLIENT_EXIT_STATUS, loadIngressConfig } from '../client/index.ts'
import { authorities, durationMs, hostPort, one, optional, parse, untilSignal, usage, Usage } from './args.ts'
import { ingressCommand, initClient, initIngress, listenCommand, sendCommand, standinCommand } from './client-commands.ts'
import { deployInit } from './deploy-command.ts'
import { HELP } from './help.ts'

const EXIT = { OK: 0, USAGE: 64, DATA: 65, SOFTWARE: 70 } as const

async function main (argv: string[]): Promise<number> {
  const { cmd, flags, rest } = parse(argv)
  if (cmd === '' || cmd === '--help' || cmd === '-h' || cmd === 'help') { console.log(HELP['']); return EXIT.OK }
  if (!(cmd in HELP)) throw usage(`unknown command '${cmd}'`)
  if (flags.has('help')) { console.log(HELP[cmd]); return EXIT.OK }
  const c = await loadCrypto()
  switch (cmd) {
    case 'validate-config':
      if (flags.get('role')?.[0] === 'ingress') loadIngressConfig(one(flags, 'config'))
      else loadConfig(one(flags, 'config'))
      console.log('ok')
      return EXIT.OK
    case 'ingress': return await ingressCommand(flags)
    case 'send': return await sendCommand(flags)
    case 'listen': return await listenCommand(flags)
    case 'standin-homeserver': return await standinCommand(flags)
    case 'deploy-init': return deployInit(c, flags)
    case 'authority': {
      const cfg = loadAuthorityConfig(one(flags, 'config'))
      const a = new Authority({ crypto: c, signing: authorityKey(c, cfg.signingKeyFile), network: cfg.network, schedule: { genesisMs: cfg.epoch.genesisMs, epochMs: cfg.epoch.epochMs }, graceMs: cfg.epoch.graceMs, geometry: NETWORK_GEOMETRY, mixing: cfg.mixing as MixingParams, ingresses: cfg.ingresses, peers: cfg.peers, host: cfg.listen.host, port: cfg.listen.port, stateFile: cfg.stateFile })
      await a.start()
      console.log(JSON.stringify({ event: 'authority_started', signer: a.signer, port: a.port }))
      await untilSignal()
      await a.stop()
      return EXIT.OK
    }
    case 'audit': {
      const r = await runAudit(c, { quick: flags.has('quick'), print: line => console.log(line) })
      const json = flags.get('json')?.[0]
      if (json !== undefined) writeFileSync(json, JSON.stringify({ ranAt: new Date().toISOString(), ...r }, null, 1) + '\n')
      const svg = flags.get('svg')?.[0]
      if (svg !== undefined) writeFileSync(svg, auditSvg(r))
      console.log(`headline: entropyGapBits ${r.headline.entropyGapBits.toFixed(2)}, maxSuccessOverChance ${r.headline.maxSuccessOverChance.toFixed(2)}, negativeControlSuccess ${r.headline.negativeControlSuccess.toFixed(3)}${r.valid ? '' : ' (INVALID)'}`)
      return r.valid ? EXIT.OK : EXIT.DATA
    }
    case 'inspect': {
      const r = await inspectStore(loadConfig(one(flags, 'config')), Date.now())
      if (flags.has('json')) { console.log(JSON.stringify(r)); return EXIT.OK }
      for (const [name, q] of Object.entries(r)) console.log(`${name.padEnd(8)} ${q.packets} packets, ${q.bytes} bytes, ${q.destinations} ${name === 'spool' ? 'ingresses' : 'mailboxes'}, oldest ${q.oldestAgeSeconds} s`)
      return EXIT.OK
    }
    case 'keygen': {
      const dir = one(flags, 'data-dir')
      const role = one(flags, 'role')
      const layer = Number(one(flags, 'layer'))
      if (role !== 'gateway' && role !== 'mix') throw usage('--role must be gateway or mix')
      if (!Number.isInteger(layer) || layer < 0 || layer > 3 || (role === 'gateway') !== (layer === 0)) throw usage('--layer must be 0 for a gateway and 1..3 for a mix')
      ensureKeys(c, dir)
      const d: RelayDescriptor = { ...publicKeys(loadKeys(c, dir)), role, layer, address: one(flags, 'address') }
      console.log(JSON.stringify(d))
      return EXIT.OK
    }
    case 'signer-keygen':
      console.log(Buffer.from(loadSignerKey(c, one(flags, 'out'), true).publicKey).toString('hex'))
      return EXIT.OK
    case 'init': {
      const role = one(flags, 'role')
      if (role === 'ingress') return initIngress(c, flags)
      if (role === 'client') return initClient(c, flags)
      if (role === 'authority') {
        const out = one(flags, 'out')
        const keyFile = `${one(flags, 'data-dir')}/authority.key`
        const k = authorityKey(c, keyFile)
        const listen = hostPort(flags, 'listen', '127.0.0.1:8700')
        const mixing = flags.has('mixing') ? JSON.parse(one(flags, 'mixing')) as Record<string, unknown> : {}
        const epoch = { genesisMs: Number(one(flags, 'genesis-ms')), epochMs: durationMs(flags, 'epoch', 3_600_000), graceMs: durationMs(flags, 'grace', 300_000) }
        writeFileSync(out, toYaml({ version: 1, role: 'authority', signingKeyFile: keyFile, stateFile: `${one(flags, 'data-dir')}/descriptors.json`, listen, network: one(flags, 'network-name'), epoch, mixing, peers: authorities(flags) }), { mode: 0o600 })
        console.log(JSON.stringify({ signer: Buffer.from(k.publicKey).toString('hex') }))
        return EXIT.OK
      }
      if (role !== 'gateway' && role !== 'mix') throw usage('--role must be gateway, mix, ingress, client or authority')
      const listen = hostPort(flags, 'listen', '127.0.0.1:9000')
      const dataDir = one(flags, 'data-dir')
      const metrics = hostPort(flags, 'metrics', '127.0.0.1:9464')
      const auths = authorities(flags)
      if (auths.length > 0) {
        // Follows directory authorities: per-epoch mix keys are made at start, no static mix.key.
        const layer = Number(optional(flags, 'layer') ?? (role === 'gateway' ? 0 : NaN))
        if (!Number.isInteger(layer) || layer < 0 || layer > 3 || (role === 'gateway') !== (layer === 0)) throw usage('--layer must be 0 for a gateway and 1..3 for a mix')
        ensureKeys(c, dataDir, false)
        const directory = { authorities: auths, address: optional(flags, 'address') ?? `ws://${listen.host}:${listen.port}`, layer, maxSkewMs: durationMs(flags, 'max-skew', 30_000) }
        writeFileSync(one(flags, 'out'), toYaml({ version: 1, role, dataDir, listen, directory, metrics, log: { level: 'info' } }), { mode: 0o600 })
        const k = loadIdentity(c, dataDir)
        console.log(JSON.stringify({ id: k.id, identityKey: Buffer.from(k.identity.publicKey).toString('hex') }))
        return EXIT.OK
      }
      ensureKeys(c, dataDir)
      const config = { version: 1, role, dataDir, listen, network: { file: one(flags, 'network'), signers: flags.get('signer') ?? [] }, metrics, log: { level: 'info' } }
      writeFileSync(one(flags, 'out'), toYaml(config), { mode: 0o600 })
      console.log(JSON.stringify(publicKeys(loadKeys(c, dataDir))))
      return EXIT.OK
    }
    case 'network': {
      const signer = loadSignerKey(c, one(flags, 'signer-key'))
      const relays = rest.map(f => JSON.parse(readFileSync(f, 'utf8')) as RelayDescriptor)
      const ingresses = (flags.get('ingress') ?? []).map(f => JSON.parse(readFileSync(f, 'utf8')) as IngressDescriptor)
      const mixing = flags.has('mixing') ? JSON.parse(one(flags, 'mixing')) as Record<string, unknown> : {}
      const doc = buildNetworkDocument(c, { network: flags.get('name')?.[0] ?? 'sealmix', relays, ingresses, mixing, nowMs: Date.now() })
      writeNetworkFile(c, one(flags, 'out'), doc, [signer])
      console.log(`signed ${relays.length} relays and ${ingresses.length} ingresses`)
      return EXIT.OK
    }
    case 'devnet':
      await runDevnet({ dataDir: flags.get('data-dir')?.[0], epochMs: durationMs(flags, 'epoch', 60_000), print: line => console.log(line), stop: untilSignal().then(() => {}) })
      return EXIT.OK
    case 'run': {
      process.umask(0o077)
      const relay = new Relay({ config: loadConfig(one(flags, 'config')) })
      let signals = 0
      const onSignal = (sig: string): void => {
        signals++
        if (signals > 1) process.exit(130)
        relay.log.info({ signal: sig }, 'stopping')
        relay.stop().then(() => process.exit(EXIT.OK), () => process.exit(EXIT.SOFTWARE))
      }
      process.on('SIGTERM', () => onSignal('SIGTERM'))
      process.on('SIGINT', () => onSignal('SIGINT'))
      await relay.start()
      return -1 // keep running
    }
  }
  return EXIT.USAGE
}

// A closed stdout (`sealmix devnet | head`) ends the program through the normal exit path, not a crash.
process.stdout.on('error', () => process.exit(EXIT.OK))

main(process.argv.slice(2)).then(code => { if (code >= 0) process.exit(code) }, (e: unknown) => {
  if (e instanceof Usage) { console.error(`sealmix: ${e.message} (see sealmix --help)`); process.exit(EXIT.USAGE) }
  if (e instanceof RelayError) { console.error(`sealmix: ${e.message}`); process.exit(EXIT_STATUS[e.code]) }
  if (e instanceof ClientError) { console.error(`sealmix: ${e.message}`); process.exit(CLIENT_EXIT_STATUS[e.code]) }
  if (e instanceof SyntaxError) { console.error(`sealmix: bad input: ${e.message}`); process.exit(EXIT.DATA) }
  console.error(`sealmix: ${(e as Error).message}`)
  process.exit(EXIT.SOFTWARE)
})

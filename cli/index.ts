#!/usr/bin/env node
/**
 * sealmix: parses arguments and dispatches. The only reader of process.argv and process.env and
 * the only caller of process.exit. Errors print as one line; exit statuses are documented in
 * `sealmix --help` and docs/OPERATIONS.md.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs'
import { stringify as toYaml } from 'yaml'
import { CLIENT_EXIT_STATUS, ClientError } from '../client/index.ts'
import { Authority, authorityKey, IngressError, INGRESS_EXIT_STATUS, createLogger, ensureKeys, EXIT_STATUS, type IngressDescriptor, inspectStore, loadAdmission, loadAuthorityConfig, loadConfig, loadCrypto, loadIdentity, loadIngressConfig, loadKeys, type MixingParams, NETWORK_GEOMETRY, publicKeys, Relay, type RelayDescriptor, RelayError } from '../daemon/index.ts'
import { auditOne, auditSvg, buildNetworkDocument, loadSignerKey, runAudit, runDevnet, statusOutput, writeNetworkFile } from '../tools/index.ts'
import { authorities, durationMs, flag, hostPort, many, one, onlyThese, optional, parseCommand, stopSignals, untilSignal, usage, Usage, type Flags } from './args.ts'
import { ingressCommand, initClient, initIngress, listenCommand, sendCommand, standinCommand } from './client-commands.ts'
import { authorityCommand } from './authority-commands.ts'
import { deployInit } from './deploy-command.ts'
import { repairCommand } from './repair-command.ts'
import { secretDir, secureDataDir, warnIfRoot, writeSecret } from './files.ts'
import { floodGuard } from './log-flood.ts'
import { installHangup, onHangup, reloadConfig } from './reload.ts'
import { HELP } from './help.ts'
import { COMMAND_OPTIONS, INIT_ROLES, TAKES_POSITIONALS } from './options.ts'
import { versionLine } from './version.ts'

const EXIT = { OK: 0, FAILED: 1, USAGE: 64, DATA: 65, SOFTWARE: 70 } as const

/** Input files that cannot be used (exit 65, named in the message). */
class BadInput extends Error {}

async function main (argv: string[]): Promise<number> {
  const [first, ...args] = argv
  if (first === undefined || first === '--help' || first === '-h') { console.log(HELP['']); return EXIT.OK }
  if (first === 'help') {
    const topic = args[0] ?? ''
    if (args.length > 1 || !(topic in HELP)) throw usage(`unknown command '${args.join(' ')}'`, '')
    console.log(HELP[topic])
    return EXIT.OK
  }
  // Options belong to a command; before one there is only --help and --version.
  if (first.startsWith('-') && first !== '--version') throw usage(`unknown option '${first}'; options come after the command`, '')
  const cmd = first === '--version' ? 'version' : first
  const declared = COMMAND_OPTIONS[cmd]
  if (declared === undefined) throw usage(`unknown command '${cmd}'`, '')
  try {
    const flags = parseCommand(cmd, declared, args, TAKES_POSITIONALS.has(cmd))
    if (flag(flags, 'help')) { console.log(HELP[cmd]); return EXIT.OK }
    installHangup(cmd)
    return await dispatch(cmd, flags)
  } catch (e) {
    // Helpers throw without knowing the command; the error should point at that command's --help.
    if (e instanceof Usage && e.command === undefined) e.command = cmd
    throw e
  }
}

async function dispatch (cmd: string, flags: Flags): Promise<number> {
  if (cmd === 'version') { console.log(versionLine()); return EXIT.OK }
  const c = await loadCrypto()
  switch (cmd) {
    case 'validate-config': {
      const role = optional(flags, 'role')
      if (role !== undefined && role !== 'ingress' && role !== 'authority') throw usage(`--role must be ingress or authority, or left out for a relay config (got ${role})`)
      if (role === 'ingress') loadIngressConfig(one(flags, 'config'))
      else if (role === 'authority') loadAdmission(loadAuthorityConfig(one(flags, 'config')).admissionFile)
      else loadConfig(one(flags, 'config'))
      console.log('ok')
      return EXIT.OK
    }
    case 'ingress': return await ingressCommand(flags)
    case 'send': return await sendCommand(flags)
    case 'listen': return await listenCommand(flags)
    case 'standin-homeserver': return await standinCommand(flags)
    case 'deploy-init': return deployInit(c, flags)
    case 'authority': return await authorityCommand(c, flags)
    case 'audit': {
      const json = optional(flags, 'json')
      const svg = optional(flags, 'svg')
      const only = optional(flags, 'only')
      const print = (line: string): void => console.log(line)
      if (only !== undefined) {
        if (only !== 'batch' && only !== 'off' && only !== 'fifo') throw usage('--only must be batch, off or fifo')
        if (svg !== undefined) throw usage('--svg needs the full audit (without --only)')
        const k = await auditOne(c, only, { quick: flag(flags, 'quick'), print })
        if (json !== undefined) writeFileSync(json, JSON.stringify({ ranAt: new Date().toISOString(), ...k }, null, 1) + '\n')
        console.log(k.verdict.pass ? `${only}: keeps the promise of an anonymity set of ${k.verdict.k}` : `${only}: FAILS the promise of an anonymity set of ${k.verdict.k}`)
        return k.verdict.pass ? EXIT.OK : EXIT.FAILED
      }
      const r = await runAudit(c, { quick: flag(flags, 'quick'), print })
      if (json !== undefined) writeFileSync(json, JSON.stringify({ ranAt: new Date().toISOString(), ...r }, null, 1) + '\n')
      if (svg !== undefined) writeFileSync(svg, auditSvg(r))
      const h = r.headline
      console.log(`headline: default best adversary ${(h.defaultBestSuccess * 100).toFixed(1)}% (promise <= ${(h.defaultSuccessBound * 100).toFixed(1)}%, k = ${h.promisedSet}), entropy ${h.defaultEntropyBits.toFixed(2)} bits (promise >= ${h.entropyBound.toFixed(2)}); controls at ${h.noMixingOverPromise.toFixed(1)}x (no mixing) and ${h.fifoOverPromise.toFixed(1)}x (FIFO) the promise${r.valid ? '' : ' (INVALID)'}`)
      return !r.valid ? EXIT.DATA : r.pass ? EXIT.OK : EXIT.FAILED
    }
    case 'repair': return await repairCommand(c, flags)
    case 'inspect': {
      const r = await inspectStore(loadConfig(one(flags, 'config')), Date.now())
      if (flag(flags, 'json')) { console.log(JSON.stringify(r)); return EXIT.OK }
      for (const [name, q] of Object.entries(r)) console.log(`${name.padEnd(8)} ${q.packets} packets, ${q.bytes} bytes, ${q.destinations} ${name === 'spool' ? 'ingresses' : 'mailboxes'}, oldest ${q.oldestAgeSeconds} s`)
      return EXIT.OK
    }
    case 'keygen': {
      const dir = one(flags, 'data-dir')
      const role = one(flags, 'role')
      if (role !== 'gateway' && role !== 'mix') throw usage('--role must be gateway or mix')
      // A gateway is always layer 0; a mix must say which of 1..3.
      const layer = Number(role === 'gateway' ? optional(flags, 'layer') ?? 0 : one(flags, 'layer'))
      if (!Number.isInteger(layer) || layer < 0 || layer > 3 || (role === 'gateway') !== (layer === 0)) throw usage('--layer must be 0 for a gateway and 1..3 for a mix')
      const address = one(flags, 'address')
      ensureKeys(c, dir)
      const d: RelayDescriptor = { ...publicKeys(loadKeys(c, dir)), role, layer, address }
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
        onlyThese(flags, INIT_ROLES.authority!, 'init --role authority')
        // Every input is checked before the key file is made: a refused command leaves nothing behind.
        const out = one(flags, 'out')
        const dataDir = one(flags, 'data-dir')
        const listen = hostPort(flags, 'listen', '127.0.0.1:8700')
        const network = one(flags, 'network-name')
        const genesis = one(flags, 'genesis-ms')
        // A timestamp (ms since 1970, the same on every authority), not a duration: no unit.
        if (!/^\d+$/.test(genesis)) throw usage(`--genesis-ms must be an integer number of milliseconds since 1970 (got ${genesis})`)
        const epoch = { genesisMs: Number(genesis), epochMs: durationMs(flags, 'epoch', 3_600_000), graceMs: durationMs(flags, 'grace', 300_000) }
        const mixingText = optional(flags, 'mixing')
        const mixing = mixingText === undefined ? {} : JSON.parse(mixingText) as Record<string, unknown>
        const peers = authorities(flags)
        const keyFile = `${dataDir}/authority.key`
        warnIfRoot('init')
        secretDir(dataDir)
        const k = authorityKey(c, keyFile)
        chmodSync(keyFile, 0o600)
        writeSecret(out, toYaml({ version: 1, role: 'authority', signingKeyFile: keyFile, admissionFile: `${dataDir}/admitted.yaml`, stateFile: `${dataDir}/descriptors.json`, listen, network, epoch, mixing, limits: { perSourcePerSecond: 50, perSecond: 500 }, peers }))
        console.log(JSON.stringify({ signer: Buffer.from(k.publicKey).toString('hex') }))
        return EXIT.OK
      }
      if (role !== 'gateway' && role !== 'mix') throw usage(`--role must be gateway, mix, ingress, client or authority (got ${role})`)
      onlyThese(flags, INIT_ROLES[role]!, `init --role ${role}`)
      const listen = hostPort(flags, 'listen', '127.0.0.1:9000')
      const dataDir = one(flags, 'data-dir')
      const metrics = hostPort(flags, 'metrics', '127.0.0.1:9464')
      const out = one(flags, 'out')
      const auths = authorities(flags)
      if (auths.length > 0) {
        // Follows directory authorities: per-epoch mix keys are made at start, no static mix.key.
        const layer = Number(optional(flags, 'layer') ?? (role === 'gateway' ? 0 : NaN))
        if (!Number.isInteger(layer) || layer < 0 || layer > 3 || (role === 'gateway') !== (layer === 0)) throw usage('--layer must be 0 for a gateway and 1..3 for a mix')
        const directory = { authorities: auths, address: optional(flags, 'address') ?? `ws://${listen.host}:${listen.port}`, layer, maxSkewMs: durationMs(flags, 'max-skew', 30_000) }
        warnIfRoot('init')
        secretDir(dataDir)
        ensureKeys(c, dataDir, false)
        secureDataDir(dataDir)
        writeSecret(out, toYaml({ version: 1, role, dataDir, listen, directory, metrics, log: { level: 'info' } }))
        const k = loadIdentity(c, dataDir)
        console.log(JSON.stringify({ id: k.id, identityKey: Buffer.from(k.identity.publicKey).toString('hex') }))
        return EXIT.OK
      }
      const network = { file: one(flags, 'network'), signers: many(flags, 'signer') }
      warnIfRoot('init')
      secretDir(dataDir)
      ensureKeys(c, dataDir)
      secureDataDir(dataDir)
      const config = { version: 1, role, dataDir, listen, network, metrics, log: { level: 'info' } }
      writeSecret(out, toYaml(config))
      console.log(JSON.stringify(publicKeys(loadKeys(c, dataDir))))
      return EXIT.OK
    }
    case 'network': {
      const signer = loadSignerKey(c, one(flags, 'signer-key'))
      const out = one(flags, 'out')
      const read = <T>(f: string): T => { try { return JSON.parse(readFileSync(f, 'utf8')) as T } catch (e) { throw new BadInput(`${f}: ${e instanceof SyntaxError ? 'not a JSON descriptor' : (e as Error).message}`) } }
      const relays = flags.positionals.map(f => read<RelayDescriptor>(f))
      const ingresses = many(flags, 'ingress').map(f => read<IngressDescriptor>(f))
      const mixingText = optional(flags, 'mixing')
      const mixing = mixingText === undefined ? {} : JSON.parse(mixingText) as Record<string, unknown>
      const doc = buildNetworkDocument(c, { network: optional(flags, 'name') ?? 'sealmix', relays, ingresses, mixing, nowMs: Date.now() })
      const refused = writeNetworkFile(c, out, doc, [signer], { relays: flags.positionals })
      if (refused !== null) throw new BadInput(`nothing written: ${refused}`)
      console.log(`signed ${relays.length} relays and ${ingresses.length} ingresses`)
      return EXIT.OK
    }
    case 'devnet': {
      const out = statusOutput(process.stdout)
      // A closed pipe (`sealmix devnet | head`, or tee stopped by the same Ctrl-C) stops the devnet in order.
      const closed = new Promise<void>(resolve => { onStdoutClosed = resolve })
      const { stop, hurry } = stopSignals(closed)
      await runDevnet({ dataDir: optional(flags, 'data-dir'), epochMs: durationMs(flags, 'epoch', 60_000), print: out.print, status: out.status, clearStatus: out.clear, stop, hurry })
      return EXIT.OK
    }
    case 'run': {
      process.umask(0o077)
      const path = one(flags, 'config')
      const config = loadConfig(path)
      const log = createLogger(config.log.level, floodGuard())
      const relay = new Relay({ config, logger: log })
      onHangup(() => reloadConfig(log, config, () => loadConfig(path), 'relay'))
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
  throw new Error(`command '${cmd}' has options in cli/options.ts but no case here`)
}

// A closed stdout (`sealmix devnet | head`) ends the program through the normal exit path, not a crash.
let onStdoutClosed: (() => void) | null = null
process.stdout.on('error', () => { if (onStdoutClosed !== null) onStdoutClosed(); else process.exit(EXIT.OK) })

main(process.argv.slice(2)).then(code => { if (code >= 0) process.exit(code) }, (e: unknown) => {
  if (e instanceof Usage) { console.error(`sealmix: ${e.message} (see sealmix${e.command === undefined || e.command === '' ? '' : ` ${e.command}`} --help)`); process.exit(EXIT.USAGE) }
  if (e instanceof RelayError) { console.error(`sealmix: ${e.message}`); process.exit(EXIT_STATUS[e.code]) }
  if (e instanceof ClientError) { console.error(`sealmix: ${e.message}`); process.exit(CLIENT_EXIT_STATUS[e.code]) }
  if (e instanceof IngressError) { console.error(`sealmix: ${e.message}`); process.exit(INGRESS_EXIT_STATUS[e.code]) }
  if (e instanceof SyntaxError || e instanceof BadInput) { console.error(`sealmix: bad input: ${e.message}`); process.exit(EXIT.DATA) }
  console.error(`sealmix: ${(e as Error).message}`)
  process.exit(EXIT.SOFTWARE)
})

#!/usr/bin/env node
/**
 * sealmix: parses arguments and dispatches. The only reader of process.argv and process.env and
 * the only caller of process.exit. Errors print as one line; exit statuses are documented in
 * `sealmix --help` and docs/OPERATIONS.md.
 */
import { writeFileSync } from 'node:fs'
import { stringify as toYaml } from 'yaml'
import {
  buildNetworkDocument, ensureKeys, runDevnet, EXIT_STATUS, loadConfig, loadCrypto, loadKeys, loadSignerKey, publicKeys, Relay, RelayError,
  writeNetworkFile, type IngressDescriptor, type RelayDescriptor
} from '../daemon/index.ts'
import { readFileSync } from 'node:fs'

const EXIT = { OK: 0, USAGE: 64, DATA: 65, SOFTWARE: 70 } as const

const HELP: Record<string, string> = {
  '': `sealmix: a metadata-hiding mixnet relay

usage: sealmix <command> [options]    (sealmix <command> --help for its options)

commands:
  run              run a relay from its config file
  validate-config  check a config file with the startup parser, print the first error
  keygen           create a relay's keys in its data directory and print its descriptor
  signer-keygen    create a key for signing network files and print its public key
  init             write a config file and keys for a relay
  network          build and sign the network file from relay descriptors
  devnet           run a local network on loopback (separate processes) until Ctrl-C

exit status: 0 ok, 64 usage error, 65 bad input data, 70 internal error, 71 cannot listen,
74 store failure, 75 data directory in use, 78 configuration, keys or network file refused`,
  run: 'usage: sealmix run --config FILE\n\nRuns until SIGTERM or SIGINT (graceful: stop accepting, finish the round, commit, close);\na second signal exits at once with status 130.',
  'validate-config': 'usage: sealmix validate-config --config FILE\n\nPrints "ok" and exits 0, or prints the first error (key, rule, value) and exits 78.',
  keygen: 'usage: sealmix keygen --data-dir DIR --role gateway|mix --layer N --address ws://HOST:PORT\n\nCreates missing key files (never overwrites) and prints the relay descriptor as JSON.',
  'signer-keygen': 'usage: sealmix signer-keygen --out FILE\n\nCreates a signer key file (0600) if absent and prints its public key (hex).',
  init: 'usage: sealmix init --role gateway|mix --data-dir DIR --listen HOST:PORT --network FILE --signer HEX --out FILE\n\nCreates keys and writes a config file with every default spelled out.',
  devnet: 'usage: sealmix devnet [--data-dir DIR]\n\nRuns 2 gateways and 3 mixes as separate processes on 127.0.0.1 with loop and padding cover,\nprints a status line a second, and stops cleanly on Ctrl-C. Data goes to a temporary directory\n(removed on exit) unless --data-dir is given.',
  network: 'usage: sealmix network --signer-key FILE --out FILE [--name NAME] [--mixing JSON] [--ingress FILE]... RELAY.json...\n\nSigns a network file listing the relays (descriptors from keygen) and ingresses.'
}

function parse (argv: string[]): { cmd: string, flags: Map<string, string[]>, rest: string[] } {
  const [cmd = '', ...args] = argv
  const flags = new Map<string, string[]>()
  const rest: string[] = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === '--help' || a === '-h') { flags.set('help', ['']); continue }
    if (a.startsWith('--')) {
      const v = args[i + 1]
      if (v === undefined || v.startsWith('--')) throw usage(`option ${a} needs a value`)
      flags.set(a.slice(2), [...(flags.get(a.slice(2)) ?? []), v])
      i++
    } else rest.push(a)
  }
  return { cmd, flags, rest }
}

class Usage extends Error {}
const usage = (m: string): Usage => new Usage(m)

function one (flags: Map<string, string[]>, name: string): string {
  const v = flags.get(name)
  if (v === undefined || v.length !== 1) throw usage(`--${name} is required (once)`)
  return v[0]!
}

async function main (argv: string[]): Promise<number> {
  const { cmd, flags, rest } = parse(argv)
  if (cmd === '' || cmd === '--help' || cmd === '-h' || cmd === 'help') { console.log(HELP['']); return EXIT.OK }
  if (!(cmd in HELP)) throw usage(`unknown command '${cmd}'`)
  if (flags.has('help')) { console.log(HELP[cmd]); return EXIT.OK }
  const c = await loadCrypto()
  switch (cmd) {
    case 'validate-config':
      loadConfig(one(flags, 'config'))
      console.log('ok')
      return EXIT.OK
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
      const [host, port] = one(flags, 'listen').split(':')
      const dataDir = one(flags, 'data-dir')
      ensureKeys(c, dataDir)
      const config = { version: 1, role, dataDir, listen: { host, port: Number(port) }, network: { file: one(flags, 'network'), signers: flags.get('signer') ?? [] }, metrics: { host: '127.0.0.1', port: 9464 }, log: { level: 'info' } }
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
    case 'devnet': {
      let stop!: () => void
      const stopped = new Promise<void>(resolve => { stop = resolve })
      let signals = 0
      const onSignal = (): void => { signals++; if (signals > 1) process.exit(130); stop() }
      process.on('SIGINT', onSignal)
      process.on('SIGTERM', onSignal)
      await runDevnet({ dataDir: flags.get('data-dir')?.[0], print: line => console.log(line), stop: stopped })
      return EXIT.OK
    }
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

main(process.argv.slice(2)).then(code => { if (code >= 0) process.exit(code) }, (e: unknown) => {
  if (e instanceof Usage) { console.error(`sealmix: ${e.message} (see sealmix --help)`); process.exit(EXIT.USAGE) }
  if (e instanceof RelayError) { console.error(`sealmix: ${e.message}`); process.exit(EXIT_STATUS[e.code]) }
  if (e instanceof SyntaxError) { console.error(`sealmix: bad input: ${e.message}`); process.exit(EXIT.DATA) }
  console.error(`sealmix: ${(e as Error).message}`)
  process.exit(EXIT.SOFTWARE)
})

/** `sealmix network`: sign a static network file from relay and ingress descriptors, refusing any that a relay would refuse. */
import { readFileSync } from 'node:fs'
import { type IngressDescriptor, loadCrypto, type RelayDescriptor } from '../../daemon/index.ts'
import { buildNetworkDocument, loadSignerKey, writeNetworkFile } from '../../tools/index.ts'
import { type Flags, many, one, optional } from '../args.ts'
import { BadInput } from '../bad-input.ts'
import { outFile } from '../files.ts'

export async function networkCommand(flags: Flags): Promise<number> {
  const c = await loadCrypto()
  const signer = loadSignerKey(c, one(flags, 'signer-key'))
  const out = outFile(flags, 'out')
  const read = <T>(f: string): T => {
    try {
      return JSON.parse(readFileSync(f, 'utf8')) as T
    } catch (e) {
      throw new BadInput(`${f}: ${e instanceof SyntaxError ? 'not a JSON descriptor' : (e as Error).message}`)
    }
  }
  const relays = flags.positionals.map(f => read<RelayDescriptor>(f))
  const ingresses = many(flags, 'ingress').map(f => read<IngressDescriptor>(f))
  const mixingText = optional(flags, 'mixing')
  const mixing = mixingText === undefined ? {} : (JSON.parse(mixingText) as Record<string, unknown>)
  const doc = buildNetworkDocument(c, {
    network: optional(flags, 'name') ?? 'sealmix',
    relays,
    ingresses,
    mixing,
    nowMs: Date.now()
  })
  const refused = writeNetworkFile(c, out, doc, [signer], { relays: flags.positionals })
  if (refused !== null) throw new BadInput(`nothing written: ${refused}`)
  console.log(`signed ${relays.length} relays and ${ingresses.length} ingresses`)
  return 0
}

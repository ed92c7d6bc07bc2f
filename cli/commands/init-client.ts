/** `sealmix init --role client`: a client profile (its device keys and secrets) and the contact card to give to peers. */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import type { CryptoSuite } from '../../daemon/index.ts'
import { contactCard, loadProfile, newProfile } from '../../tools/index.ts'
import { authorities, type Flags, many, one, onlyThese, usage } from '../args.ts'
import { outFile, warnIfRoot, writeSecret } from '../files.ts'
import { INIT_ROLES } from '../options.ts'

export function initClient(c: CryptoSuite, flags: Flags): number {
  onlyThese(flags, INIT_ROLES.client!, 'init --role client')
  const trust: Record<string, string[]> = {}
  for (const t of many(flags, 'trust')) {
    const m = /^([^=]+)=([0-9a-f]{64})$/.exec(t)
    if (m === null) throw usage(`--trust must be SERVER=ROOT_HEX (got ${t})`)
    trust[m[1]!] = [...(trust[m[1]!] ?? []), m[2]!]
  }
  const out = outFile(flags, 'out')
  const contactOut = outFile(flags, 'contact-out')
  const profile = newProfile(c, {
    ...(authorities(flags).length > 0
      ? { directory: { authorities: authorities(flags), maxSkewMs: 30_000 } }
      : { network: { file: resolve(one(flags, 'network')), signers: many(flags, 'signer') } }),
    gateway: one(flags, 'gateway'),
    homeserver: { url: one(flags, 'homeserver'), accessToken: readFileSync(one(flags, 'token-file'), 'utf8').trim() },
    ingressApi: one(flags, 'ingress-api'),
    trust,
    userId: one(flags, 'user'),
    deviceId: one(flags, 'device')
  })
  warnIfRoot('init')
  writeSecret(out, JSON.stringify(profile, null, 1) + '\n')
  writeSecret(contactOut, JSON.stringify(contactCard(loadProfile(c, out)), null, 1) + '\n')
  return 0
}

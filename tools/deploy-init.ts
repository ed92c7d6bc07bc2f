/**
 * `sealmix deploy-init`: the configs, keys and signed network file of a complete network for
 * containers (deploy/compose.yaml), one directory per service, mounted at /data in its container.
 * Nothing with a secret is checked in: every key and token is made here, on the operator's machine.
 * Relays listen on 0.0.0.0:9000 and are addressed by service name; metrics on 0.0.0.0:9464.
 */
import { copyFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { stringify as toYaml } from 'yaml'
import { ensureKeys, loadKeys, publicKeys, writeSecretFile } from '../daemon/index.ts'
import type { CryptoSuite, IngressDescriptor, MixingParams, RelayDescriptor } from '../mix/index.ts'
import { RELAY_LAYOUT } from './network/layout.ts'
import { buildNetworkDocument, loadSignerKey, writeNetworkFile } from './network-file.ts'

export const DEPLOY_RELAYS: ReadonlyArray<readonly [string, 'gateway' | 'mix', number]> = RELAY_LAYOUT.map(
  r => [r.name, r.role, r.layer] as const
)
export const RELAY_PORT = 9000
export const METRICS_PORT = 9464

export interface DeployRelays {
  readonly signerPublicKey: string
  readonly relays: RelayDescriptor[]
}

/** Keys and a config per relay, in <dir>/<service>/; the network file each reads is /data/network.json. */
export function initDeployRelays(c: CryptoSuite, dir: string): DeployRelays {
  mkdirSync(dir, { recursive: true })
  const signer = loadSignerKey(c, join(dir, 'network-signer.key'), true)
  const signerPublicKey = Buffer.from(signer.publicKey).toString('hex')
  const relays: RelayDescriptor[] = []
  for (const [name, role, layer] of DEPLOY_RELAYS) {
    const d = join(dir, name)
    ensureKeys(c, d)
    relays.push({ ...publicKeys(loadKeys(c, d)), role, layer, address: `ws://${name}:${RELAY_PORT}` })
    writeSecretFile(
      join(d, 'sealmix.yaml'),
      toYaml({
        version: 1,
        role,
        dataDir: '/data',
        listen: { host: '0.0.0.0', port: RELAY_PORT },
        network: { file: '/data/network.json', signers: [signerPublicKey] },
        metrics: { host: '0.0.0.0', port: METRICS_PORT },
        log: { level: 'info' }
      })
    )
  }
  return { signerPublicKey, relays }
}

/** Sign the network file and put a copy in every service directory that reads it. */
export function finishDeployNetwork(
  c: CryptoSuite,
  dir: string,
  relays: RelayDescriptor[],
  ingresses: IngressDescriptor[],
  services: readonly string[],
  mixing: Partial<MixingParams> = {}
): void {
  const signer = loadSignerKey(c, join(dir, 'network-signer.key'))
  const doc = buildNetworkDocument(c, { network: 'sealmix-compose', relays, ingresses, nowMs: Date.now(), mixing })
  const refused = writeNetworkFile(c, join(dir, 'network.json'), doc, [signer])
  if (refused !== null) throw new Error(`deploy-init: ${refused}`)
  for (const s of services) copyFileSync(join(dir, 'network.json'), join(dir, s, 'network.json'))
}

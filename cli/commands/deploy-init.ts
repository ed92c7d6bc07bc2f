/**
 * `sealmix deploy-init --dir DIR`: everything deploy/compose.yaml mounts, made on the operator's
 * machine (keys, tokens, configs, the signed network file).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify as toYaml } from 'yaml'
import { ingressDescriptor, initIngressKeys, loadCrypto, loadIngressKeys } from '../../daemon/index.ts'
import { DEPLOY_RELAYS, finishDeployNetwork, initDeployRelays } from '../../tools/index.ts'
import { type Flags, one, optional } from '../args.ts'
import { randomToken, secretDir, secureDataDir, warnIfRoot, writeSecret } from '../files.ts'

export async function deployInitCommand(flags: Flags): Promise<number> {
  const c = await loadCrypto()
  const dir = one(flags, 'dir')
  const serverName = optional(flags, 'server-name') ?? 'example.org'
  warnIfRoot('deploy-init')
  const made = initDeployRelays(c, dir)
  const ingressDir = join(dir, 'ingress')
  secretDir(ingressDir)
  const { rootPublicKey } = initIngressKeys(c, ingressDir, serverName, Date.now())
  secureDataDir(ingressDir)
  if (rootPublicKey !== null) writeFileSync(join(dir, 'server-root.pub'), rootPublicKey.toString('hex') + '\n')
  const asToken = randomToken(c)
  writeSecret(
    join(ingressDir, 'sealmix.yaml'),
    toYaml({
      version: 1,
      role: 'ingress',
      dataDir: '/data',
      serverName,
      network: { file: '/data/network.json', signers: [made.signerPublicKey] },
      homeserver: {
        url: optional(flags, 'homeserver') ?? 'http://homeserver:8008',
        asToken,
        hsToken: randomToken(c),
        botLocalpart: 'sealmix'
      },
      api: { host: '0.0.0.0', port: 8090 },
      metrics: { host: '0.0.0.0', port: 9465 },
      log: { level: 'info' }
    })
  )
  mkdirSync(join(dir, 'homeserver'), { recursive: true })
  writeSecret(join(dir, 'homeserver', 'homeserver.json'), JSON.stringify({ serverName, asToken, users: [] }))
  const gateways = made.relays.filter(r => r.role === 'gateway').map(r => r.id)
  const ingress = ingressDescriptor(loadIngressKeys(c, ingressDir, serverName), gateways)
  finishDeployNetwork(c, dir, made.relays, [ingress], [...DEPLOY_RELAYS.map(([name]) => name), 'ingress'])
  console.log(
    `wrote keys, configs and the signed network file for ${made.relays.length} relays and an ingress (${serverName}) under ${dir}`
  )
  return 0
}

/** `sealmix init`: keys and a config for a gateway, mix or authority (the ingress and client roles are in init-ingress.ts and init-client.ts). */

import { chmodSync } from 'node:fs'
import { resolve } from 'node:path'
import { stringify as toYaml } from 'yaml'
import {
  authorityKey,
  ConfigSchema,
  ensureDataFormat,
  ensureKeys,
  loadCrypto,
  loadIdentity,
  loadKeys,
  publicKeys
} from '../../daemon/index.ts'
import { authorities, durationMs, type Flags, hostPort, many, one, onlyThese, optional, usage } from '../args.ts'
import { outFile, secretDir, secureDataDir, warnIfRoot, writeSecret } from '../files.ts'
import { INIT_ROLES } from '../options.ts'
import { initClient } from './init-client.ts'
import { initIngress } from './init-ingress.ts'

/**
 * The relay config `init` writes: what the command line gave, and every other key the schema has
 * a default for, spelled out with that default (taken from ConfigSchema, so the file cannot drift
 * from what `run` uses). limits.maxUnauthenticated has no fixed default (it follows
 * maxConnections) and stays out. Input the schema refuses is written as given, for
 * `validate-config` and `run` to name.
 */
function relayInitConfig(given: Record<string, unknown>): unknown {
  const r = ConfigSchema.safeParse(given)
  return r.success ? JSON.parse(JSON.stringify(r.data)) : given
}

export async function initCommand(flags: Flags): Promise<number> {
  const c = await loadCrypto()
  const role = one(flags, 'role')
  if (role === 'ingress') return initIngress(c, flags)
  if (role === 'client') return initClient(c, flags)
  if (role === 'authority') {
    onlyThese(flags, INIT_ROLES.authority!, 'init --role authority')
    // Every input is checked before the key file is made: a refused command leaves nothing behind.
    const out = outFile(flags, 'out')
    // Absolute in the config: relative paths there are read from the config file's directory.
    const dataDir = resolve(one(flags, 'data-dir'))
    const listen = hostPort(flags, 'listen', '127.0.0.1:8700')
    const network = one(flags, 'network-name')
    const genesis = one(flags, 'genesis-ms')
    // A timestamp (ms since 1970, the same on every authority), not a duration: no unit.
    if (!/^\d+$/.test(genesis))
      throw usage(`--genesis-ms must be an integer number of milliseconds since 1970 (got ${genesis})`)
    const epoch = {
      genesisMs: Number(genesis),
      epochMs: durationMs(flags, 'epoch', 3_600_000),
      graceMs: durationMs(flags, 'grace', 300_000)
    }
    const mixingText = optional(flags, 'mixing')
    const mixing = mixingText === undefined ? {} : (JSON.parse(mixingText) as Record<string, unknown>)
    const peers = authorities(flags)
    const keyFile = `${dataDir}/authority.key`
    warnIfRoot('init')
    secretDir(dataDir)
    const k = authorityKey(c, keyFile)
    chmodSync(keyFile, 0o600)
    writeSecret(
      out,
      toYaml({
        version: 1,
        role: 'authority',
        signingKeyFile: keyFile,
        admissionFile: `${dataDir}/admitted.yaml`,
        stateFile: `${dataDir}/descriptors.json`,
        listen,
        network,
        epoch,
        mixing,
        limits: { perSourcePerSecond: 50, perSecond: 500 },
        peers
      })
    )
    console.log(JSON.stringify({ signer: Buffer.from(k.publicKey).toString('hex') }))
    return 0
  }
  if (role !== 'gateway' && role !== 'mix')
    throw usage(`--role must be gateway, mix, ingress, client or authority (got ${role})`)
  onlyThese(flags, INIT_ROLES[role]!, `init --role ${role}`)
  const listen = hostPort(flags, 'listen', '127.0.0.1:9000')
  const dataDir = resolve(one(flags, 'data-dir'))
  const metrics = hostPort(flags, 'metrics', '127.0.0.1:9464')
  const out = outFile(flags, 'out')
  const auths = authorities(flags)
  if (auths.length > 0) {
    // Follows directory authorities: per-epoch mix keys are made at start, no static mix.key.
    const layer = Number(optional(flags, 'layer') ?? (role === 'gateway' ? 0 : NaN))
    if (!Number.isInteger(layer) || layer < 0 || layer > 3 || (role === 'gateway') !== (layer === 0))
      throw usage('--layer must be 0 for a gateway and 1..3 for a mix')
    const directory = {
      authorities: auths,
      address: optional(flags, 'address') ?? `ws://${listen.host}:${listen.port}`,
      layer,
      maxSkewMs: durationMs(flags, 'max-skew', 30_000)
    }
    warnIfRoot('init')
    secretDir(dataDir)
    // A new data directory records its format; an existing one in another format is refused, before any key is made.
    ensureDataFormat(dataDir)
    ensureKeys(c, dataDir, false)
    secureDataDir(dataDir)
    writeSecret(
      out,
      toYaml(relayInitConfig({ version: 1, role, dataDir, listen, directory, metrics, log: { level: 'info' } }))
    )
    const k = loadIdentity(c, dataDir)
    console.log(JSON.stringify({ id: k.id, identityKey: Buffer.from(k.identity.publicKey).toString('hex') }))
    return 0
  }
  const network = { file: resolve(one(flags, 'network')), signers: many(flags, 'signer') }
  warnIfRoot('init')
  secretDir(dataDir)
  ensureDataFormat(dataDir)
  ensureKeys(c, dataDir)
  secureDataDir(dataDir)
  writeSecret(
    out,
    toYaml(relayInitConfig({ version: 1, role, dataDir, listen, network, metrics, log: { level: 'info' } }))
  )
  console.log(JSON.stringify(publicKeys(loadKeys(c, dataDir))))
  return 0
}

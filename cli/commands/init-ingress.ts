/** `sealmix init --role ingress`: the ingress's keys, its config and the homeserver's application-service registration. */
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import {
  type CryptoSuite,
  ensureDataFormat,
  ingressDescriptor,
  initIngressKeys,
  loadIngressKeys
} from '../../daemon/index.ts'
import { authorities, type Flags, hostPort, many, one, onlyThese } from '../args.ts'
import { outFile, randomToken, secretDir, secureDataDir, warnIfRoot, writeSecret } from '../files.ts'
import { INIT_ROLES } from '../options.ts'

/** The application-service tokens of an ingress config that already exists at `path`, if any. */
function existingTokens(path: string): { asToken: string; hsToken: string } | null {
  if (!existsSync(path)) return null
  try {
    const h = (
      parseYaml(readFileSync(path, 'utf8')) as { homeserver?: { asToken?: unknown; hsToken?: unknown } } | null
    )?.homeserver
    return typeof h?.asToken === 'string' && typeof h.hsToken === 'string'
      ? { asToken: h.asToken, hsToken: h.hsToken }
      : null
  } catch {
    return null
  }
}

export function initIngress(c: CryptoSuite, flags: Flags): number {
  onlyThese(flags, INIT_ROLES.ingress!, 'init --role ingress')
  // Every option is read (and checked) before the keys are made: a refused command leaves nothing behind.
  const dataDir = resolve(one(flags, 'data-dir'))
  const serverName = one(flags, 'server-name')
  const homeserver = one(flags, 'homeserver')
  const out = outFile(flags, 'out')
  const registrationFile = outFile(flags, 'registration')
  const api = hostPort(flags, 'api', '127.0.0.1:8090')
  const metrics = hostPort(flags, 'metrics', '127.0.0.1:9465')
  const gateways = many(flags, 'gateway')
  const auths = authorities(flags)
  const source =
    auths.length > 0
      ? { directory: { authorities: auths, gateways, maxSkewMs: 30_000 } }
      : { network: { file: resolve(one(flags, 'network')), signers: many(flags, 'signer') } }
  warnIfRoot('init')
  secretDir(dataDir)
  // A new data directory records its format; an existing one in another format is refused, before any key is made.
  ensureDataFormat(dataDir, { program: 'ingress' })
  const { rootPublicKey } = initIngressKeys(c, dataDir, serverName, Date.now())
  secureDataDir(dataDir)
  // Run again (to renew the binding, say), init keeps the tokens the homeserver already has:
  // new ones would make it refuse the ingress until its registration is replaced.
  const held = existingTokens(out)
  const asToken = held?.asToken ?? randomToken(c)
  const hsToken = held?.hsToken ?? randomToken(c)
  const config = {
    version: 1,
    role: 'ingress',
    dataDir,
    serverName,
    ...source,
    homeserver: { url: homeserver, asToken, hsToken, botLocalpart: 'sealmix' },
    api,
    metrics,
    log: { level: 'info' }
  }
  writeSecret(out, toYaml(config))
  const registration = {
    id: 'sealmix-ingress',
    url: null,
    as_token: asToken,
    hs_token: hsToken,
    sender_localpart: 'sealmix',
    rate_limited: false,
    namespaces: {
      users: [{ exclusive: true, regex: `@sealmix:${serverName.replace(/\./g, '\\.')}` }],
      rooms: [],
      aliases: []
    }
  }
  writeSecret(registrationFile, toYaml(registration))
  const keys = loadIngressKeys(c, dataDir, serverName)
  console.log(
    JSON.stringify({
      ingress: ingressDescriptor(keys, gateways),
      serverRootKey: rootPublicKey?.toString('hex') ?? null
    })
  )
  return 0
}

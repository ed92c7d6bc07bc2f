/** Dispatch of the client-side commands: ingress, send, listen, standin-homeserver, init for ingress and client. */
import { existsSync, readFileSync } from 'node:fs'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { createLogger, Ingress, ingressDescriptor, initIngressKeys, loadIngressConfig, loadIngressKeys, readIngressConfigFile, type CryptoSuite } from '../daemon/index.ts'
import { contactCard, loadProfile, newProfile, runListen, runSend, StandinHomeserver, type StandinOptions } from '../tools/index.ts'
import { authorities, durationMs, flag, hostPort, many, one, onlyThese, optional, untilSignal, usage, type Flags } from './args.ts'
import { secretDir, secureDataDir, warnIfRoot, writeSecret } from './files.ts'
import { floodGuard } from './log-flood.ts'
import { INIT_ROLES } from './options.ts'
import { onHangup, reloadConfig } from './reload.ts'

const print = (line: string): void => { console.log(line) }

export function randomToken (c: CryptoSuite): string {
  const b = Buffer.alloc(24)
  c.randomFill(b)
  return b.toString('base64url')
}

export async function ingressCommand (flags: Flags): Promise<number> {
  process.umask(0o077)
  const path = one(flags, 'config')
  const config = loadIngressConfig(path)
  const log = createLogger(config.log.level, floodGuard()).child({ role: 'ingress' })
  const ing = new Ingress({ config, logger: log })
  onHangup(() => reloadConfig(log, config, () => loadIngressConfig(path), 'ingress'))
  await ing.start()
  await untilSignal()
  await ing.stop()
  return 0
}

export async function sendCommand (flags: Flags): Promise<number> {
  return await runSend({ profile: one(flags, 'profile'), to: one(flags, 'to'), message: one(flags, 'message'), timeoutMs: durationMs(flags, 'timeout'), print, json: flag(flags, 'json') })
}

export async function listenCommand (flags: Flags): Promise<number> {
  const everyMs = durationMs(flags, 'every')
  // Faster than this the demo is a flood that the mixing delays only queue up.
  if (everyMs !== undefined && everyMs < 100) throw usage(`--every must be at least 100ms (got ${optional(flags, 'every')!})`)
  await runListen({ profile: one(flags, 'profile'), peer: optional(flags, 'peer'), everyMs, print, json: flag(flags, 'json'), stop: untilSignal().then(() => {}) })
  return 0
}

export async function standinCommand (flags: Flags): Promise<number> {
  const o = readIngressConfigFile(one(flags, 'config')) as StandinOptions
  const hs = new StandinHomeserver({ ...o, print })
  const host = optional(flags, 'host') ?? '127.0.0.1'
  const port = await hs.listen(Number(one(flags, 'port')), host)
  print(`stand-in homeserver ${o.serverName} on http://${host}:${port} (a fake: whoami, sendToDevice, to-device sync)`)
  await untilSignal()
  await hs.close()
  return 0
}

/** The application-service tokens of an ingress config that already exists at `path`, if any. */
function existingTokens (path: string): { asToken: string, hsToken: string } | null {
  if (!existsSync(path)) return null
  try {
    const h = (parseYaml(readFileSync(path, 'utf8')) as { homeserver?: { asToken?: unknown, hsToken?: unknown } } | null)?.homeserver
    return typeof h?.asToken === 'string' && typeof h.hsToken === 'string' ? { asToken: h.asToken, hsToken: h.hsToken } : null
  } catch { return null }
}

export function initIngress (c: CryptoSuite, flags: Flags): number {
  onlyThese(flags, INIT_ROLES.ingress!, 'init --role ingress')
  // Every option is read (and checked) before the keys are made: a refused command leaves nothing behind.
  const dataDir = one(flags, 'data-dir')
  const serverName = one(flags, 'server-name')
  const homeserver = one(flags, 'homeserver')
  const out = one(flags, 'out')
  const registrationFile = one(flags, 'registration')
  const api = hostPort(flags, 'api', '127.0.0.1:8090')
  const metrics = hostPort(flags, 'metrics', '127.0.0.1:9465')
  const gateways = many(flags, 'gateway')
  const auths = authorities(flags)
  const source = auths.length > 0
    ? { directory: { authorities: auths, gateways, maxSkewMs: 30_000 } }
    : { network: { file: one(flags, 'network'), signers: many(flags, 'signer') } }
  warnIfRoot('init')
  secretDir(dataDir)
  const { rootPublicKey } = initIngressKeys(c, dataDir, serverName, Date.now())
  secureDataDir(dataDir)
  // Run again (to renew the binding, say), init keeps the tokens the homeserver already has:
  // new ones would make it refuse the ingress until its registration is replaced.
  const held = existingTokens(out)
  const asToken = held?.asToken ?? randomToken(c)
  const hsToken = held?.hsToken ?? randomToken(c)
  const config = { version: 1, role: 'ingress', dataDir, serverName, ...source, homeserver: { url: homeserver, asToken, hsToken, botLocalpart: 'sealmix' }, api, metrics, log: { level: 'info' } }
  writeSecret(out, toYaml(config))
  const registration = {
    id: 'sealmix-ingress', url: null, as_token: asToken, hs_token: hsToken, sender_localpart: 'sealmix', rate_limited: false,
    namespaces: { users: [{ exclusive: true, regex: `@sealmix:${serverName.replace(/\./g, '\\.')}` }], rooms: [], aliases: [] }
  }
  writeSecret(registrationFile, toYaml(registration))
  const keys = loadIngressKeys(c, dataDir, serverName)
  console.log(JSON.stringify({ ingress: ingressDescriptor(keys, gateways), serverRootKey: rootPublicKey?.toString('hex') ?? null }))
  return 0
}

export function initClient (c: CryptoSuite, flags: Flags): number {
  onlyThese(flags, INIT_ROLES.client!, 'init --role client')
  const trust: Record<string, string[]> = {}
  for (const t of many(flags, 'trust')) {
    const m = /^([^=]+)=([0-9a-f]{64})$/.exec(t)
    if (m === null) throw usage(`--trust must be SERVER=ROOT_HEX (got ${t})`)
    trust[m[1]!] = [...(trust[m[1]!] ?? []), m[2]!]
  }
  const out = one(flags, 'out')
  const contactOut = one(flags, 'contact-out')
  const profile = newProfile(c, {
    ...(authorities(flags).length > 0 ? { directory: { authorities: authorities(flags), maxSkewMs: 30_000 } } : { network: { file: one(flags, 'network'), signers: many(flags, 'signer') } }),
    gateway: one(flags, 'gateway'),
    homeserver: { url: one(flags, 'homeserver'), accessToken: readFileSync(one(flags, 'token-file'), 'utf8').trim() },
    ingressApi: one(flags, 'ingress-api'), trust, userId: one(flags, 'user'), deviceId: one(flags, 'device')
  })
  warnIfRoot('init')
  writeSecret(out, JSON.stringify(profile, null, 1) + '\n')
  writeSecret(contactOut, JSON.stringify(contactCard(loadProfile(c, out)), null, 1) + '\n')
  return 0
}


/**
 * The options each command takes, as node:util parseArgs declarations (plus `-h`/`--help`, which
 * every command gets). cli/help.ts documents each one; test/cli/commands.test.ts holds the two
 * together. Durations are strings here and read with a unit by `durationMs`.
 */
import type { Options } from './args.ts'

const value = { type: 'string' } as const
const values = { type: 'string', multiple: true } as const
const bool = { type: 'boolean' } as const

/** `init` takes the union; `INIT_ROLES` says which of them each role reads. */
const INIT: Options = {
  role: value,
  'data-dir': value,
  out: value,
  listen: value,
  metrics: value,
  layer: value,
  address: value,
  'max-skew': value,
  authority: values,
  network: value,
  signer: values,
  'server-name': value,
  homeserver: value,
  registration: value,
  api: value,
  gateway: values,
  'network-name': value,
  'genesis-ms': value,
  epoch: value,
  grace: value,
  mixing: value,
  user: value,
  device: value,
  'token-file': value,
  'ingress-api': value,
  trust: values,
  'contact-out': value
}

const RELAY_INIT = [
  'role',
  'data-dir',
  'listen',
  'metrics',
  'out',
  'authority',
  'layer',
  'address',
  'max-skew',
  'network',
  'signer'
] as const
export const INIT_ROLES: Readonly<Record<string, readonly string[]>> = {
  gateway: RELAY_INIT,
  mix: RELAY_INIT,
  ingress: [
    'role',
    'data-dir',
    'server-name',
    'homeserver',
    'authority',
    'network',
    'signer',
    'out',
    'registration',
    'api',
    'metrics',
    'gateway'
  ],
  authority: [
    'role',
    'data-dir',
    'listen',
    'network-name',
    'genesis-ms',
    'epoch',
    'grace',
    'mixing',
    'authority',
    'out'
  ],
  client: [
    'role',
    'user',
    'device',
    'token-file',
    'homeserver',
    'ingress-api',
    'gateway',
    'authority',
    'network',
    'signer',
    'trust',
    'out',
    'contact-out'
  ]
}

export const COMMAND_OPTIONS = {
  run: { config: value, 'log-format': value },
  authority: { config: value, relay: values, server: values, 'identity-key': values, 'log-format': value },
  ingress: { config: value, 'log-format': value },
  send: { profile: value, to: value, message: value, timeout: value, state: value, json: bool },
  listen: { profile: value, peer: values, every: value, state: value, json: bool },
  'rotate-capability': { profile: value, 'contact-out': value, now: bool },
  'room-demo': { profile: values, contact: values, every: value, 'block-after': value, json: bool },
  devnet: { 'data-dir': value, epoch: value },
  init: INIT,
  keygen: { 'data-dir': value, role: value, layer: value, address: value },
  'signer-keygen': { out: value },
  network: { 'signer-key': value, out: value, name: value, mixing: value, ingress: values },
  inspect: { config: value, json: bool },
  repair: { config: value, json: bool },
  keys: { config: value, 'data-dir': value, out: value, in: value, 'passphrase-file': value, force: bool },
  migrate: { config: value, role: value },
  'validate-config': { config: value, role: value },
  'standin-homeserver': { config: value, port: value, host: value },
  'deploy-init': {
    dir: value,
    'server-name': value,
    homeserver: value,
    'max-replicas': value,
    'network-name': value,
    epoch: value,
    grace: value,
    'genesis-ms': value,
    mixing: value,
    loopback: value,
    kubernetes: value
  },
  audit: { quick: bool, json: value, svg: value, only: value },
  version: {}
} as const satisfies Readonly<Record<string, Options>>

export type CommandName = keyof typeof COMMAND_OPTIONS

/** The commands that take positional arguments: `network RELAY.json...`, `authority admit|remove`, `keys backup|restore`. */
export const TAKES_POSITIONALS: ReadonlySet<CommandName> = new Set<CommandName>(['network', 'authority', 'keys'])

/**
 * Ingress keys in <dataDir>/keys/ (directory 0700, files 0600, never logged):
 * - identity.key: Ed25519 seed; the ingress id (in the network document) is BLAKE2b-256 of its public key;
 * - box.key: X25519 secret; clients seal their submissions to its public key;
 * - issuing.key: Ed25519 seed that signs SenderCerts;
 * - store.key: keys the hash under which destinations are stored (no user id at rest in clear);
 * - server-cert.bin: the ServerCert for the issuing key, signed by the homeserver's root key.
 * `initIngressKeys` also makes a root key (server-root.key) when there is no ServerCert yet: move
 * it offline after init; the ingress never reads it.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseServerCert, relayId, signServerCert, type CryptoSuite, type ServerCert } from '../../mix/index.ts'
import { ClientError } from '../errors.ts'

export interface IngressKeys {
  readonly id: string
  readonly identity: { readonly publicKey: Uint8Array, readonly secretKey: Uint8Array }
  readonly box: { readonly publicKey: Buffer, readonly secretKey: Buffer }
  readonly issuing: { readonly publicKey: Uint8Array, readonly secretKey: Uint8Array }
  readonly storeKey: Buffer
  readonly serverCert: ServerCert
}

const SERVER_CERT_DAYS = 60
const DAY = 24 * 3600_000

function write (path: string, b: Uint8Array): void {
  writeFileSync(path, b, { mode: 0o600, flag: 'wx' })
}

function random32 (c: CryptoSuite): Buffer {
  const b = Buffer.alloc(32)
  c.randomFill(b)
  return b
}

/** Create whatever is missing; never overwrite. Returns the root public key when it made one. */
export function initIngressKeys (c: CryptoSuite, dataDir: string, serverName: string, nowMs: number): { rootPublicKey: Buffer | null } {
  const dir = join(dataDir, 'keys')
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, 0o700)
  for (const f of ['identity.key', 'box.key', 'issuing.key', 'store.key']) if (!existsSync(join(dir, f))) write(join(dir, f), random32(c))
  const rootPath = join(dir, 'server-root.key')
  // Already initialised: the root key's public half again (for a profile's trust), unless the operator moved the root key offline.
  if (existsSync(join(dir, 'server-cert.bin'))) return { rootPublicKey: existsSync(rootPath) ? Buffer.from(c.signSeedKeypair(readFileSync(rootPath)).publicKey) : null }
  if (!existsSync(rootPath)) write(rootPath, random32(c))
  const root = c.signSeedKeypair(readFileSync(rootPath))
  const issuing = c.signSeedKeypair(readFileSync(join(dir, 'issuing.key')))
  const cert = signServerCert(c, { keyId: 1, notBeforeMs: nowMs - DAY, notAfterMs: nowMs + SERVER_CERT_DAYS * DAY, issuingKey: issuing.publicKey, serverName }, root.secretKey)
  write(join(dir, 'server-cert.bin'), cert.encoded)
  return { rootPublicKey: Buffer.from(root.publicKey) }
}

function read32 (dir: string, name: string): Buffer {
  const p = join(dir, name)
  if (!existsSync(p)) throw new ClientError('CLIENT_CONFIG_INVALID', `missing key file keys/${name} in the data directory (run 'sealmix init --role ingress')`)
  const b = readFileSync(p)
  if (b.length !== 32) throw new ClientError('CLIENT_CONFIG_INVALID', `keys/${name} must hold exactly 32 bytes (it holds ${b.length})`)
  return b
}

export function loadIngressKeys (c: CryptoSuite, dataDir: string, serverName: string): IngressKeys {
  const dir = join(dataDir, 'keys')
  const identity = c.signSeedKeypair(read32(dir, 'identity.key'))
  const boxSecret = read32(dir, 'box.key')
  const boxPublic = Buffer.alloc(32)
  c.x25519Base(boxPublic, boxSecret)
  const issuing = c.signSeedKeypair(read32(dir, 'issuing.key'))
  const certPath = join(dir, 'server-cert.bin')
  if (!existsSync(certPath)) throw new ClientError('CLIENT_CONFIG_INVALID', 'missing keys/server-cert.bin in the data directory (run \'sealmix init --role ingress\')')
  const cert = parseServerCert(readFileSync(certPath))
  if (!cert.ok) throw new ClientError('CLIENT_CONFIG_INVALID', `keys/server-cert.bin is not a ServerCert (${cert.code})`)
  if (!c.equal(cert.value.issuingKey, issuing.publicKey)) throw new ClientError('CLIENT_CONFIG_INVALID', 'keys/server-cert.bin certifies another issuing key than keys/issuing.key')
  if (cert.value.serverName !== serverName) throw new ClientError('CLIENT_CONFIG_INVALID', `keys/server-cert.bin is for another server than serverName (got ${JSON.stringify(serverName)})`)
  return { id: relayId(c, identity.publicKey), identity, box: { publicKey: boxPublic, secretKey: boxSecret }, issuing, storeKey: read32(dir, 'store.key'), serverCert: cert.value }
}

/** The ingress entry of the network document (its gateways are chosen by whoever builds the document). */
export function ingressDescriptor (k: IngressKeys, gateways: string[]): { id: string, serverName: string, identityKey: string, boxKey: string, gateways: string[] } {
  return { id: k.id, serverName: k.serverCert.serverName, identityKey: Buffer.from(k.identity.publicKey).toString('hex'), boxKey: k.box.publicKey.toString('hex'), gateways }
}

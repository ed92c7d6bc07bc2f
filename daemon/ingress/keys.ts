/**
 * Ingress keys in <dataDir>/keys/ (directory 0700, files 0600, never logged):
 * - identity.key: Ed25519 seed; the ingress id (in the network document) is BLAKE2b-256 of its public key;
 * - box.key: X25519 secret; clients seal their submissions to its public key;
 * - issuing.key: Ed25519 seed that signs SenderCerts;
 * - store.key: keys the hash under which destinations are stored (no user id at rest in clear);
 * - server-cert.bin: the ServerCert for the issuing key, signed by the homeserver's root key;
 * - binding.json: the homeserver's binding of this ingress (its server name, identity and box
 *   keys, an expiry), signed by the same root key: without it nobody routes to this ingress.
 * `initIngressKeys` also makes a root key (server-root.key) when there is no ServerCert yet: move
 * it offline after init; the ingress never reads it. Run init again where the root key is to
 * renew the binding before it expires (it is renewed when less than BINDING_RENEW_DAYS are left).
 * Every file here is written by daemon/io/secret-file.ts (atomically, 0600; a key is never
 * replaced), and each key is read there with its size checked.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  type CryptoSuite,
  type IngressBinding,
  type IngressDescriptor,
  parseServerCert,
  relayId,
  type ServerCert,
  signIngressBinding,
  signServerCert,
  verifyIngressBinding
} from '../../mix/index.ts'
import { createSecretKey, readSecretFile, secretDir, writeSecretFile } from '../io/index.ts'
import { IngressError } from './errors.ts'

export interface IngressKeys {
  readonly id: string
  readonly identity: { readonly publicKey: Uint8Array; readonly secretKey: Uint8Array }
  readonly box: { readonly publicKey: Buffer; readonly secretKey: Buffer }
  readonly issuing: { readonly publicKey: Uint8Array; readonly secretKey: Uint8Array }
  readonly storeKey: Buffer
  readonly serverCert: ServerCert
  readonly binding: IngressBinding
}

const SERVER_CERT_DAYS = 60
/** A binding's lifetime, and how long before its end init renews it. */
const BINDING_DAYS = 90
const BINDING_RENEW_DAYS = 30
const DAY = 24 * 3600_000

const KEY_BYTES = 32

/** Make the 32-byte key `name` in `dir` unless it exists. */
function makeKey(c: CryptoSuite, dir: string, name: string): void {
  createSecretKey(join(dir, name), KEY_BYTES, b => c.randomFill(b))
}

/** Create whatever is missing; never overwrite. Returns the root public key when it made one. */
export function initIngressKeys(
  c: CryptoSuite,
  dataDir: string,
  serverName: string,
  nowMs: number
): { rootPublicKey: Buffer | null } {
  const dir = join(dataDir, 'keys')
  secretDir(dir)
  for (const f of ['identity.key', 'box.key', 'issuing.key', 'store.key']) makeKey(c, dir, f)
  const rootPath = join(dir, 'server-root.key')
  // Already initialised: the root key's public half again (for a profile's trust), unless the operator moved the root key offline.
  if (existsSync(join(dir, 'server-cert.bin'))) {
    if (!existsSync(rootPath)) return { rootPublicKey: null }
    const root = c.signSeedKeypair(read32(dir, 'server-root.key'))
    renewBinding(c, dir, serverName, root, nowMs)
    return { rootPublicKey: Buffer.from(root.publicKey) }
  }
  makeKey(c, dir, 'server-root.key')
  const root = c.signSeedKeypair(read32(dir, 'server-root.key'))
  const issuing = c.signSeedKeypair(read32(dir, 'issuing.key'))
  const cert = signServerCert(
    c,
    {
      keyId: 1,
      notBeforeMs: nowMs - DAY,
      notAfterMs: nowMs + SERVER_CERT_DAYS * DAY,
      issuingKey: issuing.publicKey,
      serverName
    },
    root.secretKey
  )
  // Exclusive: a cert another init wrote meanwhile is kept, and checked against issuing.key at start.
  writeSecretFile(join(dir, 'server-cert.bin'), cert.encoded, { exclusive: true })
  renewBinding(c, dir, serverName, root, nowMs)
  return { rootPublicKey: Buffer.from(root.publicKey) }
}

/** Sign binding.json with the root key when it is missing, for other keys, or has less than BINDING_RENEW_DAYS left. */
function renewBinding(
  c: CryptoSuite,
  dir: string,
  serverName: string,
  root: { publicKey: Uint8Array; secretKey: Uint8Array },
  nowMs: number
): void {
  const identityKey = Buffer.from(c.signSeedKeypair(read32(dir, 'identity.key')).publicKey).toString('hex')
  const box = Buffer.alloc(32)
  const boxSecret = read32(dir, 'box.key')
  c.x25519Base(box, boxSecret)
  boxSecret.fill(0)
  const subject = { serverName, identityKey, boxKey: box.toString('hex') }
  const path = join(dir, 'binding.json')
  const held = readBinding(path)
  if (
    held !== null &&
    held.rootKey === Buffer.from(root.publicKey).toString('hex') &&
    held.serverName === serverName &&
    held.identityKey === subject.identityKey &&
    held.boxKey === subject.boxKey &&
    held.notAfterMs - nowMs > BINDING_RENEW_DAYS * DAY
  )
    return
  const b = signIngressBinding(c, subject, nowMs + BINDING_DAYS * DAY, root.secretKey)
  // The root's public half goes with it, so that the ingress can check its binding at start.
  writeSecretFile(
    path,
    JSON.stringify({ ...subject, ...b, rootKey: Buffer.from(root.publicKey).toString('hex') }) + '\n'
  )
}

interface BindingFile {
  serverName: string
  identityKey: string
  boxKey: string
  notAfterMs: number
  signature: string
  rootKey?: string
}

function readBinding(path: string): BindingFile | null {
  if (!existsSync(path)) return null
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as BindingFile
  } catch {
    return null
  }
}

/** A 32-byte key of `dir`, or the error that names it (a file that cannot be read: the file system's own error). */
function read32(dir: string, name: string): Buffer {
  const r = readSecretFile(join(dir, name), KEY_BYTES)
  if (r.kind === 'read') return r.bytes
  if (r.kind === 'missing')
    throw new IngressError(
      'INGRESS_CONFIG_INVALID',
      `missing key file keys/${name} in the data directory (run 'sealmix init --role ingress')`
    )
  if (r.kind === 'wrong-size')
    throw new IngressError(
      'INGRESS_CONFIG_INVALID',
      `keys/${name} must hold exactly ${KEY_BYTES} bytes (it holds ${r.size})`
    )
  throw r.cause
}

export function loadIngressKeys(c: CryptoSuite, dataDir: string, serverName: string): IngressKeys {
  const dir = join(dataDir, 'keys')
  const identity = c.signSeedKeypair(read32(dir, 'identity.key'))
  const boxSecret = read32(dir, 'box.key')
  const boxPublic = Buffer.alloc(32)
  c.x25519Base(boxPublic, boxSecret)
  const issuing = c.signSeedKeypair(read32(dir, 'issuing.key'))
  const certPath = join(dir, 'server-cert.bin')
  if (!existsSync(certPath))
    throw new IngressError(
      'INGRESS_CONFIG_INVALID',
      "missing keys/server-cert.bin in the data directory (run 'sealmix init --role ingress')"
    )
  const cert = parseServerCert(readFileSync(certPath))
  if (!cert.ok)
    throw new IngressError('INGRESS_CONFIG_INVALID', `keys/server-cert.bin is not a ServerCert (${cert.code})`)
  if (!c.equal(cert.value.issuingKey, issuing.publicKey))
    throw new IngressError(
      'INGRESS_CONFIG_INVALID',
      'keys/server-cert.bin certifies another issuing key than keys/issuing.key'
    )
  if (cert.value.serverName !== serverName)
    throw new IngressError(
      'INGRESS_CONFIG_INVALID',
      `keys/server-cert.bin is for another server than serverName (got ${JSON.stringify(serverName)})`
    )
  const b = readBinding(join(dir, 'binding.json'))
  const identityKey = Buffer.from(identity.publicKey).toString('hex')
  if (b === null)
    throw new IngressError(
      'INGRESS_CONFIG_INVALID',
      "missing keys/binding.json, the homeserver's binding of this ingress (run 'sealmix init --role ingress' where the server root key is)"
    )
  if (b.serverName !== serverName || b.identityKey !== identityKey || b.boxKey !== boxPublic.toString('hex'))
    throw new IngressError(
      'INGRESS_CONFIG_INVALID',
      "keys/binding.json binds another server or other keys than this ingress's (run 'sealmix init --role ingress' again where the server root key is)"
    )
  if (
    !Number.isInteger(b.notAfterMs) ||
    typeof b.signature !== 'string' ||
    typeof b.rootKey !== 'string' ||
    !/^[0-9a-f]{64}$/.test(b.rootKey)
  )
    throw new IngressError(
      'INGRESS_CONFIG_INVALID',
      "keys/binding.json is malformed (run 'sealmix init --role ingress' again where the server root key is)"
    )
  // The same check authorities and clients make: an ingress with a bad or expired binding would be listed by nobody, silently.
  const check = verifyIngressBinding(
    c,
    {
      id: relayId(c, identity.publicKey),
      serverName,
      identityKey,
      boxKey: boxPublic.toString('hex'),
      gateways: [],
      binding: { notAfterMs: b.notAfterMs, signature: b.signature }
    },
    [Buffer.from(b.rootKey, 'hex')],
    Date.now()
  )
  if (!check.ok)
    throw new IngressError(
      'INGRESS_CONFIG_INVALID',
      check.code === 'BINDING_EXPIRED'
        ? `keys/binding.json expired on ${new Date(b.notAfterMs).toISOString().slice(0, 10)}: renew it with 'sealmix init --role ingress' where the server root key is`
        : "keys/binding.json does not verify under its root key (run 'sealmix init --role ingress' again where the server root key is)"
    )
  return {
    id: relayId(c, identity.publicKey),
    identity,
    box: { publicKey: boxPublic, secretKey: boxSecret },
    issuing,
    storeKey: read32(dir, 'store.key'),
    serverCert: cert.value,
    binding: { notAfterMs: b.notAfterMs, signature: b.signature }
  }
}

/** The ingress entry of the network document (its gateways are chosen by whoever builds the document). */
export function ingressDescriptor(k: IngressKeys, gateways: string[]): IngressDescriptor & { gateways: string[] } {
  return {
    id: k.id,
    serverName: k.serverCert.serverName,
    identityKey: Buffer.from(k.identity.publicKey).toString('hex'),
    boxKey: k.box.publicKey.toString('hex'),
    gateways,
    binding: k.binding
  }
}

/** Fixtures for sealed-sender tests: a homeserver root, a ServerCert, devices and SenderCerts. */
import {
  type CryptoSuite,
  type Rng,
  type SenderCert,
  type ServerCert,
  signSenderCert,
  signServerCert,
  type TrustStore,
  type X25519KeyPair
} from '../../mix/index.ts'

export const T0 = Date.UTC(2026, 10, 27, 12, 0, 0)
export const DAY = 24 * 3600 * 1000

export interface Device {
  userId: string
  deviceId: string
  x: X25519KeyPair
  ed: { publicKey: Uint8Array; secretKey: Uint8Array }
}
export interface Server {
  name: string
  root: { publicKey: Uint8Array; secretKey: Uint8Array }
  issuing: { publicKey: Uint8Array; secretKey: Uint8Array }
  cert: ServerCert
}

export function xKeyPair(c: CryptoSuite, rng: Rng): X25519KeyPair {
  const secretKey = rng.bytes(32)
  const publicKey = Buffer.alloc(32)
  c.x25519Base(publicKey, secretKey)
  return { publicKey, secretKey }
}

export function makeServer(
  c: CryptoSuite,
  rng: Rng,
  name: string,
  keyId = 7,
  opts: { notBeforeMs?: number; notAfterMs?: number } = {}
): Server {
  const root = c.signSeedKeypair(rng.bytes(32))
  const issuing = c.signSeedKeypair(rng.bytes(32))
  const cert = signServerCert(
    c,
    {
      keyId,
      notBeforeMs: opts.notBeforeMs ?? T0 - 10 * DAY,
      notAfterMs: opts.notAfterMs ?? T0 + 60 * DAY,
      issuingKey: issuing.publicKey,
      serverName: name
    },
    root.secretKey
  )
  return { name, root, issuing, cert }
}

export function makeDevice(c: CryptoSuite, rng: Rng, userId: string, deviceId: string): Device {
  return { userId, deviceId, x: xKeyPair(c, rng), ed: c.signSeedKeypair(rng.bytes(32)) }
}

export function senderCert(
  c: CryptoSuite,
  server: Server,
  d: Device,
  opts: { issuedMs?: number; expiresMs?: number; x25519?: Uint8Array; userId?: string; signerKeyId?: number } = {}
): SenderCert {
  const issuedMs = opts.issuedMs ?? T0 - 3600_000
  return signSenderCert(
    c,
    {
      signerKeyId: opts.signerKeyId ?? server.cert.keyId,
      issuedMs,
      expiresMs: opts.expiresMs ?? issuedMs + DAY,
      senderX25519: opts.x25519 ?? d.x.publicKey,
      senderEd25519: d.ed.publicKey,
      userId: opts.userId ?? d.userId,
      deviceId: d.deviceId
    },
    server.issuing.secretKey
  )
}

export function trustOf(servers: Server[], revoked: Array<[string, number]> = []): TrustStore {
  return {
    roots: name => servers.filter(s => s.name === name).map(s => s.root.publicKey),
    serverCert: (name, keyId) => servers.find(s => s.name === name && s.cert.keyId === keyId)?.cert,
    isRevoked: (name, keyId) => revoked.some(([n, k]) => n === name && k === keyId)
  }
}

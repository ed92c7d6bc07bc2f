/**
 * The ingress's client API handlers: SenderCert issuance and capability registration. Both
 * authenticate the caller with their Matrix access token through the homeserver's whoami; the
 * token is passed on and forgotten, never stored or logged.
 */
import { type CryptoSuite, SENDER_CERT_LIFETIME_MS, signSenderCert, userIdDomain } from '../../mix/index.ts'
import type { ApiAnswer, ApiHandlers } from './http.ts'
import type { IngressKeys } from './keys.ts'
import { whoami } from './matrix.ts'
import type { IngressMetrics } from './metrics.ts'
import type { IngressStore } from './store.ts'

const HEX32 = /^[0-9a-f]{64}$/

export interface IssuerOptions {
  readonly crypto: CryptoSuite
  readonly keys: IngressKeys
  readonly store: IngressStore
  readonly metrics: IngressMetrics
  readonly homeserver: { readonly url: string; readonly timeoutMs: number }
  readonly serverName: string
  readonly now: () => number
}

const err = (status: number, errcode: string, error: string): ApiAnswer => ({ status, body: { errcode, error } })

export class IssuerApi implements ApiHandlers {
  constructor(private readonly o: IssuerOptions) {}

  /** whoami, then the checks both endpoints share; returns the caller or an error answer. */
  async #caller(
    endpoint: 'sender_cert' | 'capability',
    token: string,
    deviceId: unknown
  ): Promise<{ userId: string; deviceId: string } | ApiAnswer> {
    const count = (result: string): void => this.o.metrics.api.inc({ endpoint, result })
    if (deviceId !== undefined && (typeof deviceId !== 'string' || deviceId.length === 0 || deviceId.length > 255)) {
      count('bad_request')
      return err(400, 'M_INVALID_PARAM', 'device_id must be a non-empty string')
    }
    let who: Awaited<ReturnType<typeof whoami>>
    try {
      who = await whoami({ url: this.o.homeserver.url, token, timeoutMs: this.o.homeserver.timeoutMs })
    } catch {
      count('homeserver_error')
      return err(502, 'SEALMIX_HOMESERVER', 'the homeserver did not confirm the access token')
    }
    if (who === null) {
      count('unknown_token')
      return err(401, 'M_UNKNOWN_TOKEN', 'Unknown access token')
    }
    if (userIdDomain(who.userId) !== this.o.serverName) {
      count('foreign_user')
      return err(403, 'SEALMIX_FOREIGN_USER', 'the user is not on this server')
    }
    const device = (deviceId as string | undefined) ?? who.deviceId
    if (device === undefined) {
      count('bad_request')
      return err(400, 'M_MISSING_PARAM', 'device_id is required')
    }
    if (who.deviceId !== undefined && who.deviceId !== device) {
      count('device_mismatch')
      return err(403, 'SEALMIX_DEVICE_MISMATCH', 'the access token belongs to another device')
    }
    return { userId: who.userId, deviceId: device }
  }

  async senderCert(token: string, body: Record<string, unknown>): Promise<ApiAnswer> {
    const { x25519, ed25519 } = body
    if (typeof x25519 !== 'string' || !HEX32.test(x25519) || typeof ed25519 !== 'string' || !HEX32.test(ed25519)) {
      this.o.metrics.api.inc({ endpoint: 'sender_cert', result: 'bad_request' })
      return err(400, 'M_INVALID_PARAM', 'x25519 and ed25519 must be 64 lowercase hex characters')
    }
    const who = await this.#caller('sender_cert', token, body.device_id)
    if ('status' in who) return who
    const now = this.o.now()
    const cert = signSenderCert(
      this.o.crypto,
      {
        signerKeyId: this.o.keys.serverCert.keyId,
        issuedMs: now,
        expiresMs: now + SENDER_CERT_LIFETIME_MS,
        senderX25519: Buffer.from(x25519, 'hex'),
        senderEd25519: Buffer.from(ed25519, 'hex'),
        userId: who.userId,
        deviceId: who.deviceId
      },
      this.o.keys.issuing.secretKey
    )
    this.o.metrics.api.inc({ endpoint: 'sender_cert', result: 'ok' })
    return {
      status: 200,
      body: {
        sender_cert: cert.encoded.toString('base64'),
        server_cert: this.o.keys.serverCert.encoded.toString('base64'),
        expires_ms: cert.expiresMs
      }
    }
  }

  async capability(token: string, body: Record<string, unknown>): Promise<ApiAnswer> {
    const { key_id: keyId, public_key: publicKey } = body
    if (
      typeof keyId !== 'number' ||
      !Number.isInteger(keyId) ||
      keyId < 0 ||
      keyId > 0xffffffff ||
      typeof publicKey !== 'string' ||
      !HEX32.test(publicKey)
    ) {
      this.o.metrics.api.inc({ endpoint: 'capability', result: 'bad_request' })
      return err(400, 'M_INVALID_PARAM', 'key_id must be a u32 and public_key 64 lowercase hex characters')
    }
    const who = await this.#caller('capability', token, body.device_id)
    if ('status' in who) return who
    await this.o.store.setCapability(
      `${who.userId}/${who.deviceId}`,
      keyId,
      Buffer.from(publicKey, 'hex'),
      this.o.now()
    )
    this.o.metrics.api.inc({ endpoint: 'capability', result: 'ok' })
    return { status: 200, body: {} }
  }
}

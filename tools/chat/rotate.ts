/**
 * `sealmix rotate-capability`: give a device a new capability key, so that only the contacts who
 * get the new contact card can deliver to it. A normal rotation leaves the old key valid for its
 * 24-hour grace (contacts have time to get the new card); `--now` is a block: the old key stops at
 * once, cutting off whoever held it.
 */
import { ClientError, registerCapability } from '../../client/index.ts'
import { writeSecretFile } from '../../daemon/index.ts'
import type { CryptoSuite } from '../../mix/index.ts'
import { contactCard, loadProfile } from './profile.ts'

export interface RotateOptions {
  readonly profile: string
  readonly contactOut: string
  /** A block: no grace for the old key. */
  readonly now: boolean
  readonly print: (line: string) => void
}

export async function rotateCapability(c: CryptoSuite, o: RotateOptions): Promise<void> {
  const before = loadProfile(c, o.profile)
  const seed = Buffer.alloc(32)
  c.randomFill(seed)
  const keyId = (before.capability.keyId + 1) >>> 0
  const p = { ...before.profile, capability: { keyId, seed: seed.toString('hex') } }
  // The profile first: a registration that fails is made again by the next `listen` or `send`
  // (without the block), while a registered key missing from the profile would lock the device out.
  writeSecretFile(o.profile, JSON.stringify(p, null, 1) + '\n')
  const after = loadProfile(c, o.profile)
  try {
    await registerCapability(
      p.ingressApi,
      p.homeserver.accessToken,
      after.device.deviceId,
      keyId,
      after.capability.publicKey,
      { block: o.now }
    )
  } catch (e) {
    const code = e instanceof ClientError ? e.code : 'CLIENT_HOMESERVER'
    throw new ClientError(
      code,
      `the profile holds the new key ${keyId}, but the ingress API did not take it${o.now ? ': the block did not happen' : ''}; run rotate-capability again (${(e as Error).message})`,
      { cause: e }
    )
  }
  writeSecretFile(o.contactOut, JSON.stringify(contactCard(after), null, 1) + '\n')
  o.print(
    o.now
      ? `capability key ${keyId} registered; key ${before.capability.keyId} no longer works (a block). Give ${o.contactOut} to the contacts who may still write.`
      : `capability key ${keyId} registered; key ${before.capability.keyId} works for 24 hours more. Give ${o.contactOut} to your contacts.`
  )
}

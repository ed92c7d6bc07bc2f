/**
 * Client profiles and contact cards as files: what `sealmix send` and `sealmix listen` run from
 * (the schemas and what a profile makes are the SDK's, client/profile.ts). A profile file is
 * 0600: it holds the device's secrets.
 */
import { dirname, resolve } from 'node:path'
import type { z } from 'zod'
import {
  ClientError,
  type Contact,
  ContactSchema,
  contactOf,
  type Profile,
  type ProfileKeys,
  ProfileSchema,
  profileKeys,
  validateWith
} from '../../client/index.ts'
import { readConfigFile } from '../../daemon/index.ts'
import type { CryptoSuite } from '../../mix/index.ts'

export { ContactSchema, type Profile, ProfileSchema }

export interface LoadedProfile extends ProfileKeys {
  readonly profile: Profile
  /** The static network file (absent when the profile follows directory authorities). */
  readonly networkFile?: string
}

export function loadProfile(c: CryptoSuite, path: string): LoadedProfile {
  const k = profileKeys(c, readProfileFile(path), path)
  const p = k.profile
  return { ...k, networkFile: p.network === undefined ? undefined : resolve(dirname(resolve(path)), p.network.file) }
}

export function loadContact(path: string): Contact {
  return contactOf(readProfileFile(path), path)
}

/** The contact card of a loaded profile (it carries the capability secret: share it only with contacts). */
export function contactCard(p: LoadedProfile): z.infer<typeof ContactSchema> {
  return {
    userId: p.device.userId,
    deviceId: p.device.deviceId,
    x25519: Buffer.from(p.device.x25519.publicKey).toString('hex'),
    capability: { keyId: p.capability.keyId, secret: Buffer.from(p.capability.secretKey).toString('hex') }
  }
}

/** A fresh profile for a device: new keys, mailbox id and capability key. */
export function newProfile(
  c: CryptoSuite,
  o: Omit<Profile, 'version' | 'device' | 'mailboxId' | 'capability'> & { userId: string; deviceId: string }
): Profile {
  const r = (): string => {
    const b = Buffer.alloc(32)
    c.randomFill(b)
    return b.toString('hex')
  }
  return validateWith(
    ProfileSchema,
    {
      version: 1,
      network: o.network,
      directory: o.directory,
      gateway: o.gateway,
      homeserver: o.homeserver,
      ingressApi: o.ingressApi,
      trust: o.trust,
      device: { userId: o.userId, deviceId: o.deviceId, x25519Secret: r(), ed25519Seed: r() },
      mailboxId: r(),
      capability: { keyId: 1, seed: r() }
    },
    'profile'
  )
}

function readProfileFile(path: string): unknown {
  const file = readConfigFile(path)
  if (file.kind !== 'parsed')
    throw new ClientError('CLIENT_CONFIG_UNREADABLE', file.problem, {
      cause: file.kind === 'refused' ? file.cause : undefined
    })
  return file.value
}

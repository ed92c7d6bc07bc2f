/**
 * Relay keys in <dataDir>/keys/ (directory 0700, files 0600, never logged):
 * - identity.key: 32-byte Ed25519 seed; the relay id is BLAKE2b-256 of its public key;
 * - mix.key: 32-byte X25519 secret of the mix key a static network file lists (a relay that
 *   follows directory authorities has per-epoch keys instead, daemon/relay/keys/keyring.ts);
 * - mailbox.key: 32-byte secret that keys the hash under which mailboxes are stored.
 * Each is written atomically (store/atomic-file.ts): a crash or a full disk leaves no file, never
 * an empty or partial one. A damaged one (left by an older version) is never replaced here: each
 * says who the relay is or where its data is, so the error names the file and what to do.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { relayId, type CryptoSuite } from '../../../mix/index.ts'
import { RelayError } from '../../io/index.ts'
import { writeFileAtomic } from '../../io/index.ts'

export interface RelayIdentity {
  readonly identity: { readonly publicKey: Uint8Array, readonly secretKey: Uint8Array }
  readonly id: string
  readonly mailboxKey: Buffer
}

export interface RelayKeys extends RelayIdentity {
  readonly mix: { readonly publicKey: Buffer, readonly secretKey: Buffer }
}

const FILES = ['identity.key', 'mix.key', 'mailbox.key'] as const
const IDENTITY_FILES = ['identity.key', 'mailbox.key'] as const

/** What to do about each damaged key file: none of them can be remade without consequences. */
const DAMAGED: Record<string, string> = {
  'identity.key': 'it is this relay\'s identity and cannot be remade: restore keys/identity.key from a backup. Without one, delete it and run \'sealmix keygen\' (or \'sealmix init\'): the relay gets a new id, which the network file or the authorities\' admission must then list',
  'mailbox.key': 'restore keys/mailbox.key from a backup. Without one, delete it and run \'sealmix keygen\' (or \'sealmix init\'): replies already in mailboxes can then no longer be found',
  'mix.key': 'restore keys/mix.key from a backup. Without one, delete it, run \'sealmix keygen\' and sign a new network file that lists the new mix key'
}

function readKey (dir: string, name: string): Buffer {
  const b = readFileSync(join(dir, name))
  if (b.length !== 32) {
    b.fill(0)
    throw RelayError.KEYS_INVALID(`keys/${name} must hold exactly 32 bytes but holds ${b.length} (damaged: an interrupted write by an older version, or a failing disk); ${DAMAGED[name] ?? 'restore it from a backup'}`)
  }
  return b
}

/**
 * Create any missing key file with fresh randomness. Existing files are never overwritten.
 * `staticMix` false (a relay that follows directory authorities) makes no mix.key.
 */
export function ensureKeys (c: CryptoSuite, dataDir: string, staticMix = true): void {
  const dir = join(dataDir, 'keys')
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, 0o700)
  for (const f of staticMix ? FILES : IDENTITY_FILES) {
    const p = join(dir, f)
    if (existsSync(p)) continue
    const b = Buffer.alloc(32)
    c.randomFill(b)
    try { writeFileAtomic(p, b, { mode: 0o600, exclusive: true }) } finally { b.fill(0) }
  }
}

/** The identity and mailbox keys, without a static mix key. */
export function loadIdentity (c: CryptoSuite, dataDir: string): RelayIdentity {
  const dir = join(dataDir, 'keys')
  for (const f of IDENTITY_FILES) if (!existsSync(join(dir, f))) throw RelayError.KEYS_INVALID(`missing key file keys/${f} in the data directory (run 'sealmix keygen' or 'sealmix init')`)
  const seed = readKey(dir, 'identity.key')
  const identity = c.signSeedKeypair(seed)
  seed.fill(0)
  return { identity, id: relayId(c, identity.publicKey), mailboxKey: readKey(dir, 'mailbox.key') }
}

export function loadKeys (c: CryptoSuite, dataDir: string): RelayKeys {
  const dir = join(dataDir, 'keys')
  if (!existsSync(join(dir, 'mix.key'))) throw RelayError.KEYS_INVALID('missing key file keys/mix.key in the data directory (run \'sealmix keygen\' or \'sealmix init\')')
  const base = loadIdentity(c, dataDir)
  const secretKey = readKey(dir, 'mix.key')
  const publicKey = Buffer.alloc(32)
  c.x25519Base(publicKey, secretKey)
  return { ...base, mix: { publicKey, secretKey } }
}

/** The public half, as the network file lists it. */
export function publicKeys (k: RelayKeys): { id: string, identityKey: string, mixKey: string } {
  return { id: k.id, identityKey: Buffer.from(k.identity.publicKey).toString('hex'), mixKey: k.mix.publicKey.toString('hex') }
}

/**
 * Relay keys in <dataDir>/keys/ (directory 0700, files 0600, never logged):
 * - identity.key: 32-byte Ed25519 seed; the relay id is BLAKE2b-256 of its public key;
 * - mix.key: 32-byte X25519 secret of the mix key a static network file lists (a relay that
 *   follows directory authorities has per-epoch keys instead, daemon/relay/keys/keyring.ts);
 * - mailbox.key: 32-byte secret that keys the hash under which mailboxes are stored.
 * Each is made, read and checked by daemon/io/secret-file.ts: written atomically, so that a crash
 * or a full disk leaves no file, never an empty or partial one. A damaged one (left by an older
 * version) is never replaced here: each says who the relay is or where its data is, so the error
 * names the file and what to do.
 */
import { join } from 'node:path'
import { type CryptoSuite, relayId } from '../../../mix/index.ts'
import { createSecretKey, RelayError, readSecretFile, type SecretFileRead, secretDir } from '../../io/index.ts'

export interface RelayIdentity {
  readonly identity: { readonly publicKey: Uint8Array; readonly secretKey: Uint8Array }
  readonly id: string
  readonly mailboxKey: Buffer
}

export interface RelayKeys extends RelayIdentity {
  readonly mix: { readonly publicKey: Buffer; readonly secretKey: Buffer }
}

const FILES = ['identity.key', 'mix.key', 'mailbox.key'] as const
const IDENTITY_FILES = ['identity.key', 'mailbox.key'] as const

/** What to do about each damaged key file: none of them can be remade without consequences. */
const DAMAGED: Record<string, string> = {
  'identity.key':
    "it is this relay's identity and cannot be remade: restore keys/identity.key from a backup. Without one, delete it and run 'sealmix keygen' (or 'sealmix init'): the relay gets a new id, which the network file or the authorities' admission must then list",
  'mailbox.key':
    "restore keys/mailbox.key from a backup. Without one, delete it and run 'sealmix keygen' (or 'sealmix init'): replies already in mailboxes can then no longer be found",
  'mix.key':
    "restore keys/mix.key from a backup. Without one, delete it, run 'sealmix keygen' and sign a new network file that lists the new mix key"
}

const KEY_BYTES = 32

/** The key's bytes, or the error that names the file and what to do (a file that cannot be read: the file system's own error). */
function keyOf(name: string, r: SecretFileRead): Buffer {
  if (r.kind === 'read') return r.bytes
  if (r.kind === 'missing')
    throw RelayError.KEYS_INVALID(
      `missing key file keys/${name} in the data directory (run 'sealmix keygen' or 'sealmix init')`
    )
  if (r.kind === 'wrong-size')
    throw RelayError.KEYS_INVALID(
      `keys/${name} must hold exactly ${KEY_BYTES} bytes but holds ${r.size} (damaged: an interrupted write by an older version, or a failing disk); ${DAMAGED[name] ?? 'restore it from a backup'}`
    )
  throw r.cause
}

/** Read each of `names`, then judge them: a missing file is named before a damaged one. */
function readKeys(dir: string, names: readonly string[]): Buffer[] {
  const read = names.map(f => readSecretFile(join(dir, f), KEY_BYTES))
  try {
    for (const [i, r] of read.entries()) if (r.kind === 'missing') keyOf(names[i]!, r)
    return read.map((r, i) => keyOf(names[i]!, r))
  } catch (e) {
    for (const r of read) if (r.kind === 'read') r.bytes.fill(0)
    throw e
  }
}

/**
 * Create any missing key file with fresh randomness. Existing files are never overwritten.
 * `staticMix` false (a relay that follows directory authorities) makes no mix.key.
 */
export function ensureKeys(c: CryptoSuite, dataDir: string, staticMix = true): void {
  const dir = join(dataDir, 'keys')
  secretDir(dir)
  for (const f of staticMix ? FILES : IDENTITY_FILES) createSecretKey(join(dir, f), KEY_BYTES, b => c.randomFill(b))
}

/** The identity and mailbox keys, without a static mix key. */
export function loadIdentity(c: CryptoSuite, dataDir: string): RelayIdentity {
  const [seed, mailboxKey] = readKeys(join(dataDir, 'keys'), IDENTITY_FILES) as [Buffer, Buffer]
  const identity = c.signSeedKeypair(seed)
  seed.fill(0)
  return { identity, id: relayId(c, identity.publicKey), mailboxKey }
}

export function loadKeys(c: CryptoSuite, dataDir: string): RelayKeys {
  // mix.key is named first when it is missing, as the identity files are.
  const mix = readSecretFile(join(dataDir, 'keys', 'mix.key'), KEY_BYTES)
  let base: RelayIdentity
  let secretKey: Buffer
  try {
    if (mix.kind === 'missing') keyOf('mix.key', mix)
    base = loadIdentity(c, dataDir)
    secretKey = keyOf('mix.key', mix)
  } catch (e) {
    if (mix.kind === 'read') mix.bytes.fill(0)
    throw e
  }
  const publicKey = Buffer.alloc(KEY_BYTES)
  c.x25519Base(publicKey, secretKey)
  return { ...base, mix: { publicKey, secretKey } }
}

/** The public half, as the network file lists it. */
export function publicKeys(k: RelayKeys): { id: string; identityKey: string; mixKey: string } {
  return {
    id: k.id,
    identityKey: Buffer.from(k.identity.publicKey).toString('hex'),
    mixKey: k.mix.publicKey.toString('hex')
  }
}

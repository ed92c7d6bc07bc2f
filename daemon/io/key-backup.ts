/**
 * Encrypted key backups (`sealmix keys backup|restore`): a relay's identity key, mailbox key and,
 * with a static network file, its mix key, in one file sealed with a passphrase.
 *
 * Per-epoch mix keys (keys/mix-<e>.key) are never put in a backup: they exist to be erased, and
 * a copy in a backup would open, for as long as the backup lives, the traffic they carried
 * (docs/OPERATIONS.md, "Key erasure"). A relay restored from a backup makes fresh ones. A static
 * network file's mix key is in the signed file, so it is backed up; restored without the replay
 * tags of its packets (they are in db/, which a backup of keys does not hold), it is recorded as
 * refused in keys/store.state, exactly as `sealmix repair` records a key whose replay tags were
 * lost: the relay never forwards with a replay filter that lost tags.
 *
 * The file:  header (56 bytes) ‖ BLAKE2b-128(header) ‖ secretstream header (24) ‖ one message (TAG_FINAL)
 * header:    'sealmix-keys' ‖ u16 format version ‖ u8 KDF (libsodium's ALG_ARGON2ID13) ‖ u8 0 ‖
 *            u32 opslimit ‖ u32 memlimit (bytes) ‖ salt (16) ‖ passphrase check (16)
 * key:       crypto_pwhash (Argon2id) of the passphrase gives 64 bytes: the first 32 are the
 *            crypto_secretstream_xchacha20poly1305 key; the other 32 key a BLAKE2b of a fixed
 *            string, the passphrase check. The header is the message's additional data.
 * message:   u16 length ‖ meta (JSON, public keys only) ‖ u8 count ‖ count × (u8 length ‖ name ‖ u16 size ‖ bytes)
 *
 * The header's hash tells a damaged header from a wrong passphrase before the KDF runs; anyone can
 * recompute it, but a forged header only changes the key derived, and the file then opens for no
 * passphrase. The check tells a wrong passphrase (KEYS_BACKUP_WRONG_PASSPHRASE) from a damaged or
 * altered body (KEYS_BACKUP_CORRUPT); it lets nobody test a passphrase faster than the ciphertext
 * does, since both need the Argon2id run.
 *
 * KDF limits: OPSLIMIT_MODERATE and MEMLIMIT_MODERATE (3 passes over 256 MiB, about a second). A
 * backup is meant to be copied off the machine, where whoever holds it can guess passphrases
 * offline at one Argon2id run a guess: INTERACTIVE (64 MiB) would make each guess about four
 * times cheaper, and a backup is made and restored by hand, rarely, so a second is nothing.
 * SENSITIVE (1 GiB) would not fit beside a running relay on a small machine. The limits are in the
 * header; a restore accepts up to SENSITIVE (a later version may raise them) and no more: the
 * header is read before anything is authenticated, and a crafted one must not make the restore
 * take any amount of memory or time.
 *
 * Key bytes and the passphrase are zeroed once used, and never logged or put in a message.
 */
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import sodiumNative from 'sodium-native'
import { type CryptoSuite, relayId } from '../../mix/index.ts'
import { syncDir } from './atomic-file.ts'
import { DataError, ensureDataFormat } from './data-format.ts'
import { openDatabase } from './db.ts'
import { RelayError } from './errors.ts'
import { checkSecretFile, readSecretFile, secretDir, writeSecretFile } from './secret-file.ts'
import { keyFingerprint, STATE_FILE, StoreStateFile } from './state-file.ts'

/** The parts of sodium-native 5 used here (types/sodium-native.d.ts declares only what mix/crypto/ calls). */
interface BackupSodium {
  crypto_pwhash(out: Buffer, passwd: Buffer, salt: Buffer, opslimit: number, memlimit: number, alg: number): void
  crypto_pwhash_ALG_ARGON2ID13: number
  crypto_pwhash_OPSLIMIT_MODERATE: number
  crypto_pwhash_MEMLIMIT_MODERATE: number
  crypto_pwhash_OPSLIMIT_SENSITIVE: number
  crypto_pwhash_MEMLIMIT_SENSITIVE: number
  crypto_pwhash_OPSLIMIT_MIN: number
  crypto_pwhash_MEMLIMIT_MIN: number
  crypto_secretstream_xchacha20poly1305_STATEBYTES: number
  crypto_secretstream_xchacha20poly1305_TAG_FINAL: number
  crypto_secretstream_xchacha20poly1305_init_push(state: Buffer, header: Buffer, key: Buffer): void
  crypto_secretstream_xchacha20poly1305_push(state: Buffer, c: Buffer, m: Buffer, ad: Buffer, tag: number): number
  crypto_secretstream_xchacha20poly1305_init_pull(state: Buffer, header: Buffer, key: Buffer): void
  crypto_secretstream_xchacha20poly1305_pull(state: Buffer, m: Buffer, tag: Buffer, c: Buffer, ad: Buffer): number
  crypto_generichash(out: Buffer, input: Buffer, key?: Buffer): void
  randombytes_buf(b: Buffer): void
  sodium_memzero(b: Buffer): void
}
const sodium = sodiumNative as unknown as BackupSodium

const MAGIC = Buffer.from('sealmix-keys', 'ascii')
/** The backup file's own format (not the data directory's). */
export const BACKUP_VERSION = 1
const HEADER = 56
const DIGEST = 16
const STREAM_HEADER = 24
const ABYTES = 17
const SALT = 16
const CHECK = 16
const CHECK_CONTEXT = Buffer.from('sealmix-keys passphrase check')
const KEY = 32

export interface KdfLimits {
  readonly opslimit: number
  readonly memlimit: number
}
export const BACKUP_KDF: KdfLimits = {
  opslimit: sodium.crypto_pwhash_OPSLIMIT_MODERATE,
  memlimit: sodium.crypto_pwhash_MEMLIMIT_MODERATE
}

/** What a backup says about itself: public keys only, to check what it holds once opened. */
export interface BackupMeta {
  readonly program: 'relay'
  /** Ed25519 public key, hex. */
  readonly identityKey: string
  /** X25519 public key of a static network file's mix key, hex; null without one. */
  readonly mixKey: string | null
}

/** A key file, named as in keys/. */
export interface BackupEntry {
  readonly name: string
  readonly bytes: Buffer
}

export interface BackupContents {
  readonly meta: BackupMeta
  readonly entries: readonly BackupEntry[]
}

/** A backup's header, judged before a passphrase is asked for. */
export type KeyBackupHeader =
  | { readonly kind: 'sound' }
  | { readonly kind: 'corrupt'; readonly why: string }
  | { readonly kind: 'unsupported'; readonly version: number }

export type KeyBackupOpen =
  | ({ readonly kind: 'opened' } & BackupContents)
  | { readonly kind: 'wrong-passphrase' }
  | Exclude<KeyBackupHeader, { kind: 'sound' }>

function header(kdf: KdfLimits, salt: Buffer, check: Buffer): Buffer {
  const h = Buffer.alloc(HEADER)
  MAGIC.copy(h, 0)
  h.writeUInt16BE(BACKUP_VERSION, 12)
  h[14] = sodium.crypto_pwhash_ALG_ARGON2ID13
  h.writeUInt32BE(kdf.opslimit, 16)
  h.writeUInt32BE(kdf.memlimit, 20)
  salt.copy(h, 24)
  check.copy(h, 24 + SALT)
  return h
}

function digest(h: Buffer): Buffer {
  const d = Buffer.alloc(DIGEST)
  sodium.crypto_generichash(d, h)
  return d
}

/** The secretstream key and the passphrase check; the caller zeroes the key. */
function derive(passphrase: Buffer, salt: Buffer, kdf: KdfLimits): { key: Buffer; check: Buffer } {
  const out = Buffer.alloc(2 * KEY)
  sodium.crypto_pwhash(out, passphrase, salt, kdf.opslimit, kdf.memlimit, sodium.crypto_pwhash_ALG_ARGON2ID13)
  const key = Buffer.from(out.subarray(0, KEY))
  const check = Buffer.alloc(CHECK)
  sodium.crypto_generichash(check, CHECK_CONTEXT, out.subarray(KEY))
  sodium.sodium_memzero(out)
  return { key, check }
}

function encodeContents(c: BackupContents): Buffer {
  const meta = Buffer.from(JSON.stringify(c.meta))
  const parts: Buffer[] = [Buffer.alloc(2), meta, Buffer.from([c.entries.length])]
  parts[0]!.writeUInt16BE(meta.length)
  for (const e of c.entries) {
    const name = Buffer.from(e.name)
    const size = Buffer.alloc(2)
    size.writeUInt16BE(e.bytes.length)
    parts.push(Buffer.from([name.length]), name, size, e.bytes)
  }
  return Buffer.concat(parts)
}

/** The contents, or why they do not parse (an authenticated message that does not parse was not made by sealmix). */
function decodeContents(b: Buffer): BackupContents | string {
  let o = 0
  const take = (n: number): Buffer | null => {
    if (o + n > b.length) return null
    const s = b.subarray(o, o + n)
    o += n
    return s
  }
  const metaLen = take(2)?.readUInt16BE(0)
  const metaBytes = metaLen === undefined ? null : take(metaLen)
  if (metaBytes === null) return 'the contents end early'
  let meta: BackupMeta
  try {
    meta = JSON.parse(metaBytes.toString('utf8')) as BackupMeta
  } catch {
    return 'its description does not parse'
  }
  const count = take(1)?.[0]
  if (count === undefined) return 'the contents end early'
  const entries: BackupEntry[] = []
  for (let i = 0; i < count; i++) {
    const nameLen = take(1)?.[0]
    const name = nameLen === undefined ? null : take(nameLen)
    const size = take(2)?.readUInt16BE(0)
    const bytes = size === undefined ? null : take(size)
    if (name === null || bytes === null) return 'the contents end early'
    entries.push({ name: name.toString('utf8'), bytes: Buffer.from(bytes) })
  }
  if (o !== b.length) return 'bytes follow the contents'
  return { meta, entries }
}

/** Seal `contents` with `passphrase`; the caller zeroes its own copies. */
export function sealKeyBackup(contents: BackupContents, passphrase: Buffer, kdf: KdfLimits = BACKUP_KDF): Buffer {
  const salt = Buffer.alloc(SALT)
  sodium.randombytes_buf(salt)
  const { key, check } = derive(passphrase, salt, kdf)
  const h = header(kdf, salt, check)
  const state = Buffer.alloc(sodium.crypto_secretstream_xchacha20poly1305_STATEBYTES)
  const streamHeader = Buffer.alloc(STREAM_HEADER)
  const plain = encodeContents(contents)
  try {
    sodium.crypto_secretstream_xchacha20poly1305_init_push(state, streamHeader, key)
    const c = Buffer.alloc(plain.length + ABYTES)
    sodium.crypto_secretstream_xchacha20poly1305_push(
      state,
      c,
      plain,
      h,
      sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
    )
    return Buffer.concat([h, digest(h), streamHeader, c])
  } finally {
    sodium.sodium_memzero(key)
    sodium.sodium_memzero(state)
    sodium.sodium_memzero(plain)
  }
}

/** The header's KDF limits, or why they are refused. */
function limitsOf(h: Buffer): KdfLimits | string {
  if (h[14] !== sodium.crypto_pwhash_ALG_ARGON2ID13 || h[15] !== 0) return 'an unknown key derivation'
  const kdf = { opslimit: h.readUInt32BE(16), memlimit: h.readUInt32BE(20) }
  if (
    kdf.opslimit < sodium.crypto_pwhash_OPSLIMIT_MIN ||
    kdf.opslimit > sodium.crypto_pwhash_OPSLIMIT_SENSITIVE ||
    kdf.memlimit < sodium.crypto_pwhash_MEMLIMIT_MIN ||
    kdf.memlimit > sodium.crypto_pwhash_MEMLIMIT_SENSITIVE
  )
    return 'key derivation limits beyond what sealmix accepts'
  return kdf
}

/** Whether `file` is a backup this sealmix can open, without a passphrase. */
export function checkKeyBackup(file: Buffer): KeyBackupHeader {
  if (!file.subarray(0, MAGIC.length).equals(MAGIC)) return { kind: 'corrupt', why: 'it is not a sealmix key backup' }
  const version = file.length >= 14 ? file.readUInt16BE(12) : BACKUP_VERSION
  if (version !== BACKUP_VERSION) return { kind: 'unsupported', version }
  if (file.length < HEADER + DIGEST + STREAM_HEADER + ABYTES) return { kind: 'corrupt', why: 'it is cut short' }
  const h = file.subarray(0, HEADER)
  if (!digest(h).equals(file.subarray(HEADER, HEADER + DIGEST)))
    return { kind: 'corrupt', why: 'its header is damaged' }
  const kdf = limitsOf(h)
  if (typeof kdf === 'string') return { kind: 'corrupt', why: `its header asks for ${kdf}` }
  return { kind: 'sound' }
}

/** Open `file` with `passphrase` (which the caller zeroes). */
export function openKeyBackup(file: Buffer, passphrase: Buffer): KeyBackupOpen {
  const judged = checkKeyBackup(file)
  if (judged.kind !== 'sound') return judged
  const h = file.subarray(0, HEADER)
  const { key, check } = derive(passphrase, h.subarray(24, 24 + SALT), limitsOf(h) as KdfLimits)
  const state = Buffer.alloc(sodium.crypto_secretstream_xchacha20poly1305_STATEBYTES)
  const body = file.subarray(HEADER + DIGEST + STREAM_HEADER)
  const plain = Buffer.alloc(body.length - ABYTES)
  try {
    if (!check.equals(h.subarray(24 + SALT, HEADER))) return { kind: 'wrong-passphrase' }
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(
      state,
      file.subarray(HEADER + DIGEST, HEADER + DIGEST + STREAM_HEADER),
      key
    )
    const tag = Buffer.alloc(1)
    try {
      sodium.crypto_secretstream_xchacha20poly1305_pull(state, plain, tag, body, h)
    } catch {
      return { kind: 'corrupt', why: 'its contents do not authenticate (damaged or altered)' }
    }
    if (tag[0] !== sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL)
      return { kind: 'corrupt', why: 'it does not end where its contents say they end' }
    const contents = decodeContents(plain)
    if (typeof contents === 'string') return { kind: 'corrupt', why: contents }
    return { kind: 'opened', ...contents }
  } finally {
    sodium.sodium_memzero(key)
    sodium.sodium_memzero(state)
    sodium.sodium_memzero(plain)
  }
}

/** The refusal of a backup that did not open. */
export function backupRefusal(path: string, r: Exclude<KeyBackupOpen, { kind: 'opened' }>): DataError {
  if (r.kind === 'wrong-passphrase')
    return new DataError('KEYS_BACKUP_WRONG_PASSPHRASE', `the passphrase does not open ${path}; nothing was written`)
  if (r.kind === 'unsupported')
    return new DataError(
      'KEYS_BACKUP_UNSUPPORTED',
      `${path} is a key backup of format ${r.version}, which this sealmix cannot read (it reads format ${BACKUP_VERSION}): restore it with the sealmix that made it, or a newer one; nothing was written`
    )
  return new DataError('KEYS_BACKUP_CORRUPT', `${path} is refused: ${r.why}; nothing was written`)
}

// ---- A relay's keys ----

const KEY_BYTES = 32
const RELAY_FILES = ['identity.key', 'mailbox.key'] as const
const STATIC_MIX = 'mix.key'

function readKey(dir: string, name: string): Buffer {
  const r = readSecretFile(join(dir, name), KEY_BYTES)
  if (r.kind === 'read') return r.bytes
  if (r.kind === 'unreadable') throw r.cause
  throw RelayError.KEYS_INVALID(
    r.kind === 'missing'
      ? `keys/${name} is missing in the data directory: there is nothing to back up`
      : `keys/${name} must hold exactly ${KEY_BYTES} bytes but holds ${r.size}: a damaged key is not backed up`
  )
}

/**
 * What a backup of the relay in `dataDir` holds. `staticMix`: true when its config names a static
 * network file (mix.key must be there), false when it follows authorities (no mix.key is taken),
 * null when unknown (mix.key is taken if there). The caller zeroes the entries' bytes.
 */
export function relayBackupContents(c: CryptoSuite, dataDir: string, staticMix: boolean | null): BackupContents {
  const dir = join(dataDir, 'keys')
  const withMix = staticMix ?? checkSecretFile(join(dir, STATIC_MIX), KEY_BYTES).kind !== 'missing'
  const names = withMix ? [...RELAY_FILES, STATIC_MIX] : [...RELAY_FILES]
  const entries: BackupEntry[] = []
  try {
    for (const name of names) entries.push({ name, bytes: readKey(dir, name) })
  } catch (e) {
    for (const x of entries) x.bytes.fill(0)
    throw e
  }
  const identityKey = identityPublic(c, entries[0]!.bytes)
  return { meta: { program: 'relay', identityKey, mixKey: withMix ? mixPublic(c, entries[2]!.bytes) : null }, entries }
}

/** The Ed25519 public key of a seed, hex; the expanded secret key made on the way is zeroed. */
function identityPublic(c: CryptoSuite, seed: Buffer): string {
  const pair = c.signSeedKeypair(seed)
  pair.secretKey.fill(0)
  return Buffer.from(pair.publicKey).toString('hex')
}

function mixPublic(c: CryptoSuite, secret: Buffer): string {
  const pub = Buffer.alloc(KEY_BYTES)
  c.x25519Base(pub, secret)
  return pub.toString('hex')
}

/** What is in the way of a restore into `dataDir`: keys or a database; null when there is none. */
export function restoreObstacle(dataDir: string): string | null {
  const keys = join(dataDir, 'keys')
  if (existsSync(keys)) {
    const held = readdirSync(keys).sort()
    if (held.length > 0)
      return `${keys} is not empty (${held.slice(0, 3).join(', ')}${held.length > 3 ? ` and ${held.length - 3} more` : ''})`
  }
  if (existsSync(join(dataDir, 'db'))) return `${join(dataDir, 'db')} exists`
  return null
}

/** Refuse (KEYS_RESTORE_NOT_EMPTY) a data directory that holds keys or a database. */
export function assertRestorable(dataDir: string): void {
  const obstacle = restoreObstacle(dataDir)
  if (obstacle !== null)
    throw new DataError(
      'KEYS_RESTORE_NOT_EMPTY',
      `a backup is restored only into an empty data directory, and ${obstacle}. Restore into a new directory (other files, such as a config, may be there); nothing was written`
    )
}

/** The relay's keys of an opened backup, each checked against the public keys it says it holds. */
function relayKeysOf(c: CryptoSuite, b: BackupContents): { identity: Buffer; mailbox: Buffer; mix: Buffer | null } {
  const corrupt = (why: string): DataError =>
    new DataError('KEYS_BACKUP_CORRUPT', `the backup opened but ${why}: it was not made by 'sealmix keys backup'`)
  if (b.meta?.program !== 'relay') throw corrupt("it is not a relay's")
  const byName = new Map<string, Buffer>()
  for (const e of b.entries) {
    if (![...RELAY_FILES, STATIC_MIX].includes(e.name) || byName.has(e.name)) throw corrupt(`it holds '${e.name}'`)
    if (e.bytes.length !== KEY_BYTES) throw corrupt(`its ${e.name} is not ${KEY_BYTES} bytes`)
    byName.set(e.name, e.bytes)
  }
  const identity = byName.get('identity.key')
  const mailbox = byName.get('mailbox.key')
  const mix = byName.get(STATIC_MIX) ?? null
  if (identity === undefined || mailbox === undefined) throw corrupt('it lacks identity.key or mailbox.key')
  if (identityPublic(c, identity) !== b.meta.identityKey) throw corrupt('its identity key is not the one it names')
  if ((mix === null ? null : mixPublic(c, mix)) !== b.meta.mixKey) throw corrupt('its mix key is not the one it names')
  return { identity, mailbox, mix }
}

export interface RelayRestore {
  readonly dataDir: string
  /** As for relayBackupContents: true a static network file (its mix key is needed), false authorities, null unknown. */
  readonly staticMix: boolean | null
}

export interface RelayRestoreReport {
  readonly id: string
  readonly identityKey: string
  /** The key files written in keys/. */
  readonly files: readonly string[]
  /** restored-refused: mix.key written and recorded as refused; left-out: in the backup, not wanted by the config; none: not in the backup. */
  readonly staticMix: 'restored-refused' | 'left-out' | 'none'
}

/**
 * Write the keys of an opened backup (whose bytes the caller zeroes) into `o.dataDir`, laid out as init and the relay make them
 * (keys/ 0700, each key 0600, written atomically): first in a directory beside keys/, renamed to
 * keys/ once whole, so that an interrupted restore leaves no half-restored relay. Every check
 * (an empty directory, what the backup holds against the config) comes before anything is
 * written. A static mix key is recorded as refused in keys/store.state, with the empty database
 * that file then needs (see above).
 */
export async function restoreRelayKeys(
  c: CryptoSuite,
  o: RelayRestore,
  b: BackupContents
): Promise<RelayRestoreReport> {
  assertRestorable(o.dataDir)
  const k = relayKeysOf(c, b)
  if (o.staticMix === true && k.mix === null)
    throw new DataError(
      'KEYS_RESTORE_MISMATCH',
      'the config names a static network file, which lists a mix key, but the backup holds none (it is of a relay that follows directory authorities); nothing was written'
    )
  const writeMix = k.mix !== null && o.staticMix !== false
  const files: Array<[string, Buffer]> = [
    ['identity.key', k.identity],
    ['mailbox.key', k.mailbox]
  ]
  if (writeMix) files.push([STATIC_MIX, k.mix!])
  const stage = join(o.dataDir, '.keys.restore')
  const db = join(o.dataDir, 'db')
  secretDir(o.dataDir)
  // Refuses a directory of another format before anything is written (a new one is given this sealmix's).
  ensureDataFormat(o.dataDir)
  rmSync(stage, { recursive: true, force: true })
  let madeDb = false
  try {
    secretDir(stage)
    for (const [name, bytes] of files) writeSecretFile(join(stage, name), bytes, { exclusive: true })
    if (writeMix) {
      StoreStateFile.create(join(stage, STATE_FILE), {
        commits: 0,
        counts: new Map(),
        refused: [keyFingerprint(Buffer.from(mixPublic(c, k.mix!), 'hex'))]
      })
      madeDb = true
      await (await openDatabase(db, { createIfMissing: true })).close()
    }
    renameSync(stage, join(o.dataDir, 'keys'))
    syncDir(o.dataDir)
  } catch (e) {
    rmSync(stage, { recursive: true, force: true })
    if (madeDb) rmSync(db, { recursive: true, force: true })
    throw e
  }
  return {
    id: relayId(c, Buffer.from(b.meta.identityKey, 'hex')),
    identityKey: b.meta.identityKey,
    files: files.map(([name]) => name),
    staticMix: writeMix ? 'restored-refused' : k.mix !== null ? 'left-out' : 'none'
  }
}

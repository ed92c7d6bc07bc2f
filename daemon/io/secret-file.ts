/**
 * Secret files: key seeds and secrets of a fixed size, and configs that hold tokens. Every program
 * makes, reads and erases them here, so that each gets the same care:
 * - written atomically (atomic-file.ts), mode 0600 whatever the umask, and a key that exists is
 *   never replaced unless the caller says so (a damaged epoch key; never an identity);
 * - read with a size check that says what is wrong in a named result, so that each caller keeps
 *   its own error code and its own advice (what a damaged identity key means differs from what a
 *   damaged epoch key means); a file of the wrong size is never read into memory;
 * - erased by overwriting what the file holds with zeros, syncing, unlinking, and syncing the
 *   directory. Overwriting cannot reach copies that a copy-on-write or journaling file system, or
 *   a disk's wear levelling, keeps: docs/OPERATIONS.md says to put data directories on encrypted
 *   storage.
 * Secret bytes are never logged and never put in an error message.
 */
import {
  chmodSync,
  closeSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  statSync,
  unlinkSync,
  writeSync
} from 'node:fs'
import { dirname } from 'node:path'
import { errorCode, syncDir, writeFileAtomic } from './atomic-file.ts'

/** A secret file that is not there, or not of the size its kind has, or cannot be read. */
export type SecretFileFault =
  | { readonly kind: 'missing' }
  | { readonly kind: 'wrong-size'; readonly size: number }
  /** `errno` as errorCode() names it (EACCES, EIO, EISDIR, ...); `cause` the error itself. */
  | { readonly kind: 'unreadable'; readonly errno: string; readonly cause: unknown }

export type SecretFileRead = { readonly kind: 'read'; readonly bytes: Buffer } | SecretFileFault
export type SecretFileCheck = { readonly kind: 'sound' } | SecretFileFault
export type SecretFileWrite = { readonly kind: 'written' } | { readonly kind: 'exists' }
export type SecretFileErase = { readonly kind: 'erased'; readonly size: number } | { readonly kind: 'missing' }

const SECRET_MODE = 0o600
/** Zeros written per call when a file is erased (a key is 32 or 64 bytes; a damaged file may be longer). */
const ERASE_CHUNK = 4096

function fault(e: unknown): SecretFileFault {
  if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' }
  return { kind: 'unreadable', errno: errorCode(e), cause: e }
}

function notAFile(): SecretFileFault {
  const e = Object.assign(new Error('not a regular file'), { code: 'EISDIR' })
  return { kind: 'unreadable', errno: 'EISDIR', cause: e }
}

/** A directory of secrets: made 0700 if missing, and narrowed to 0700 if it was wider. */
export function secretDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, 0o700)
}

/** Whether `path` holds a secret of exactly `size` bytes, without reading it. */
export function checkSecretFile(path: string, size: number): SecretFileCheck {
  try {
    const s = statSync(path)
    if (!s.isFile()) return notAFile()
    return s.size === size ? { kind: 'sound' } : { kind: 'wrong-size', size: s.size }
  } catch (e) {
    return fault(e)
  }
}

/** The `size` bytes of the secret in `path`; the caller zeroes them once used. */
export function readSecretFile(path: string, size: number): SecretFileRead {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (e) {
    return fault(e)
  }
  try {
    const s = fstatSync(fd)
    if (!s.isFile()) return notAFile()
    if (s.size !== size) return { kind: 'wrong-size', size: s.size }
    const bytes = Buffer.alloc(size)
    let off = 0
    while (off < size) {
      const n = readSync(fd, bytes, off, size - off, off)
      if (n === 0) break
      off += n
    }
    if (off !== size) {
      // Shortened while being read: as damaged as if it had been short before.
      bytes.fill(0)
      return { kind: 'wrong-size', size: off }
    }
    return { kind: 'read', bytes }
  } catch (e) {
    return fault(e)
  } finally {
    closeSync(fd)
  }
}

/**
 * Write `data` to `path` atomically, mode 0600. `exclusive`: an existing file is left as it is
 * ('exists'); otherwise it is replaced whole (a new file, so a wider mode it had goes with it).
 */
export function writeSecretFile(
  path: string,
  data: string | Uint8Array,
  o: { exclusive?: boolean } = {}
): SecretFileWrite {
  try {
    writeFileAtomic(path, data, { mode: SECRET_MODE, exclusive: o.exclusive === true })
  } catch (e) {
    if (o.exclusive === true && (e as NodeJS.ErrnoException).code === 'EEXIST') return { kind: 'exists' }
    throw e
  }
  return { kind: 'written' }
}

/**
 * Make a secret of `size` fresh random bytes in `path` (0600, atomic); the bytes are zeroed in
 * memory once written. An existing file is left as it is ('exists', and nothing is written, so
 * that a full disk does not fail for a key that is already there) unless `replace` is set.
 * Throws what the file system throws (ENOSPC, EACCES, ...): each caller names the file its way.
 */
export function createSecretKey(
  path: string,
  size: number,
  randomFill: (b: Buffer) => void,
  o: { replace?: boolean } = {}
): SecretFileWrite {
  if (o.replace !== true && exists(path)) return { kind: 'exists' }
  const b = Buffer.alloc(size)
  randomFill(b)
  try {
    return writeSecretFile(path, b, { exclusive: o.replace !== true })
  } finally {
    b.fill(0)
  }
}

/** A name is taken, even by a dangling link (an exclusive write would fail on it). */
function exists(path: string): boolean {
  try {
    lstatSync(path)
    return true
  } catch {
    return false
  }
}

/**
 * Overwrite what `path` holds with zeros (no further than its size: erasing a damaged file must
 * not need a new block on a full disk), sync it, unlink it, and sync its directory.
 */
export function eraseSecretFile(path: string): SecretFileErase {
  let fd: number
  try {
    fd = openSync(path, 'r+')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' }
    throw e
  }
  let size: number
  try {
    size = fstatSync(fd).size
    const zeros = Buffer.alloc(Math.min(size, ERASE_CHUNK))
    for (let off = 0; off < size; ) off += writeSync(fd, zeros, 0, Math.min(zeros.length, size - off), off)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  unlinkSync(path)
  syncDir(dirname(path))
  return { kind: 'erased', size }
}

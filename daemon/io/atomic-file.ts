/**
 * Key and state files are written whole or not at all: the bytes go to a temporary file beside the
 * target (same directory, so the same file system), which is synced, then renamed over the target
 * (or, for a file that must not be replaced, linked to it: that fails if it exists), and the
 * directory is synced so that the new name survives a power cut. A crash or a full disk leaves the
 * old file or no file, never an empty or partial one (a key file left at 0 bytes by a full disk
 * would keep the relay from starting again).
 */
import { closeSync, fchmodSync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'

export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/**
 * Write `data` to `path` atomically, file mode `mode` (default 0600). `exclusive`: fail with
 * EEXIST if `path` exists (an existing key is never replaced) instead of replacing it.
 */
export function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  o: { mode?: number; exclusive?: boolean } = {}
): void {
  const dir = dirname(path)
  const tmp = join(dir, `.${basename(path)}.tmp`)
  const bytes = typeof data === 'string' ? Buffer.from(data) : data
  let fd = -1
  try {
    // A temporary file left by a crash, or a link put in its place, is removed first: the bytes
    // go to a new file of this process's making, never through a link.
    rmSync(tmp, { force: true })
    fd = openSync(tmp, 'wx', o.mode ?? 0o600)
    fchmodSync(fd, o.mode ?? 0o600)
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off)
    fsyncSync(fd)
    closeSync(fd)
    fd = -1
    if (o.exclusive === true) {
      linkSync(tmp, path)
      rmSync(tmp)
    } else {
      renameSync(tmp, path)
    }
    syncDir(dir)
  } catch (e) {
    if (fd >= 0) closeSync(fd)
    rmSync(tmp, { force: true })
    throw e
  }
}

/** The errno code of a file-system error (ENOSPC, EIO, ...), or a name for anything else: what logs may say. */
export function errorCode(e: unknown): string {
  const x = e as { code?: unknown; message?: unknown; name?: unknown } | null
  const msg = typeof x?.message === 'string' ? x.message : ''
  // LevelDB reports I/O errors as LEVEL_IO_ERROR with the OS text in the message.
  if (/No space left on device/i.test(msg)) return 'ENOSPC'
  if (/Disk quota exceeded/i.test(msg)) return 'EDQUOT'
  if (/Input\/output error/i.test(msg)) return 'EIO'
  if (/Read-only file system/i.test(msg)) return 'EROFS'
  if (typeof x?.code === 'string') return x.code
  return typeof x?.name === 'string' ? x.name : 'Error'
}

/**
 * What `sealmix init` and `deploy-init` write holds secrets (tokens, keys, capability secrets):
 * files are 0600 and directories 0700 whether they existed before or not. A file that existed
 * with a wider mode is emptied and narrowed before the secret goes in; a data directory made
 * beforehand (0755, say) is narrowed too, with the key files already in it.
 */
import { chmodSync, closeSync, existsSync, fchmodSync, mkdirSync, openSync, readdirSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'

export function writeSecret (path: string, data: string | Uint8Array): void {
  const fd = openSync(path, 'w', 0o600)
  try {
    fchmodSync(fd, 0o600)
    const b = typeof data === 'string' ? Buffer.from(data) : data
    for (let off = 0; off < b.length;) off += writeSync(fd, b, off, b.length - off)
  } finally {
    closeSync(fd)
  }
}

/** A directory of secrets, 0700, made if missing. */
export function secretDir (dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, 0o700)
}

/** A data directory: itself and its keys/ 0700, every file in keys/ 0600. */
export function secureDataDir (dir: string): void {
  secretDir(dir)
  const keys = join(dir, 'keys')
  if (!existsSync(keys)) return
  chmodSync(keys, 0o700)
  for (const f of readdirSync(keys)) {
    const p = join(keys, f)
    if (statSync(p).isFile()) chmodSync(p, 0o600)
  }
}

/**
 * init run as root writes files that belong to root: a sealmix that runs as its own user (the
 * image's uid 10001, systemd's dynamic user) cannot read them, and a daemon run as root to read
 * them runs with more than it needs. Said once, on stderr, when init is about to write.
 */
export function warnIfRoot (what: string): void {
  if (typeof process.getuid === 'function' && process.getuid() === 0) {
    console.error(`sealmix: warning: ${what} runs as root: what it writes belongs to root (mode 0600, directories 0700); run it as the user that runs sealmix, or chown what it wrote to that user`)
  }
}

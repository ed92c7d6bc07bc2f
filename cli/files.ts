/**
 * What `sealmix init` and `deploy-init` write holds secrets (tokens, keys, capability secrets):
 * files are 0600 and directories 0700 whether they existed before or not. A file that existed is
 * replaced whole by a new 0600 one (atomically: a crash leaves the old file or the new, never a
 * part); a data directory made beforehand (0755, say) is narrowed too, with the key files already
 * in it.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { secretDir, writeSecretFile } from '../daemon/index.ts'
import { type Flags, one, usage } from './args.ts'

export { secretDir }

export function writeSecret(path: string, data: string | Uint8Array): void {
  writeSecretFile(path, data)
}

/**
 * The absolute path of a file an option names for writing, its directory made (0700) if missing:
 * checked before any key is made, so that a command refused here leaves nothing behind, and a
 * config written elsewhere than the working directory still finds what it names.
 */
export function outFile(flags: Flags, name: string): string {
  const path = resolve(one(flags, name))
  const dir = dirname(path)
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
  } catch (e) {
    throw usage(`--${name}: cannot create the directory ${dir} (${(e as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  return path
}

/** A data directory: itself and its keys/ 0700, every file in keys/ 0600. */
export function secureDataDir(dir: string): void {
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
export function warnIfRoot(what: string): void {
  if (typeof process.getuid === 'function' && process.getuid() === 0) {
    console.error(
      `sealmix: warning: ${what} runs as root: what it writes belongs to root (mode 0600, directories 0700); run it as the user that runs sealmix, or chown what it wrote to that user`
    )
  }
}

/** A random token for an application-service registration (as_token, hs_token): 24 bytes, base64url. */
export function randomToken(c: { randomFill: (b: Buffer) => void }): string {
  const b = Buffer.alloc(24)
  c.randomFill(b)
  return b.toString('base64url')
}

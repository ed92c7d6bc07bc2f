/**
 * `sealmix keys backup` and `sealmix keys restore`: a relay's keys in one file sealed with a
 * passphrase (daemon/io/key-backup.ts says what goes in it, and why per-epoch mix keys do not).
 * The passphrase comes from a file, the environment or the terminal (not echoed), never from the
 * command line, where `ps` and shell histories would show it. Neither it nor a key is printed.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import {
  assertRestorable,
  backupRefusal,
  checkDataFormat,
  checkKeyBackup,
  DataError,
  errorCode,
  formatRefusal,
  loadConfig,
  loadCrypto,
  openKeyBackup,
  type RelayRestoreReport,
  relayBackupContents,
  restoreRelayKeys,
  sealKeyBackup,
  writeSecretFile
} from '../../daemon/index.ts'
import { relayId } from '../../mix/index.ts'
import { type Flags, flag, one, onlyThese, optional, usage } from '../args.ts'
import { outFile } from '../files.ts'

export const PASSPHRASE_ENV = 'SEALMIX_BACKUP_PASSPHRASE'
const MIN_CHARACTERS = 12
const MAX_BYTES = 1024

/** Characters (code points) in UTF-8 bytes, counted without making a string of a secret: every byte but a continuation byte starts one. */
function characters(b: Buffer): number {
  let n = 0
  for (const x of b) if ((x & 0xc0) !== 0x80) n++
  return n
}

/** The first line of `path`, without its line end. */
function fromFile(path: string): Buffer {
  let raw: Buffer
  try {
    raw = readFileSync(path)
  } catch (e) {
    throw usage(`cannot read --passphrase-file ${path} (${errorCode(e)})`)
  }
  if ((statSync(path).mode & 0o077) !== 0)
    console.error(`sealmix: warning: --passphrase-file ${path} can be read by other users; make it 0600`)
  let end = raw.indexOf(0x0a)
  if (end < 0) end = raw.length
  if (end > 0 && raw[end - 1] === 0x0d) end--
  const line = Buffer.from(raw.subarray(0, end))
  raw.fill(0)
  return line
}

/** A line typed on the terminal, not echoed (raw mode: the bytes are taken one by one, so none reaches the screen). */
function fromTerminal(prompt: string): Promise<Buffer> {
  const input = process.stdin
  return new Promise((resolvePass, reject) => {
    const buf = Buffer.alloc(MAX_BYTES)
    let n = 0
    const finish = (err: Error | null): void => {
      input.off('data', onData)
      input.setRawMode(false)
      input.pause()
      process.stderr.write('\n')
      if (err === null) resolvePass(Buffer.from(buf.subarray(0, n)))
      else reject(err)
      buf.fill(0)
    }
    const onData = (d: Buffer): void => {
      for (const b of d) {
        // Enter ends the line; Ctrl-D at its end too. Ctrl-C stops (raw mode turns it into a byte, not a signal).
        if (b === 0x0d || b === 0x0a || b === 0x04) {
          finish(null)
          break
        }
        if (b === 0x03) {
          finish(usage('stopped at the passphrase prompt; nothing was written'))
          break
        }
        if (b === 0x7f || b === 0x08) {
          // Backspace takes back a whole character: its continuation bytes, then its first byte.
          while (n > 0 && (buf[n - 1]! & 0xc0) === 0x80) n--
          if (n > 0) n--
          continue
        }
        if (n === MAX_BYTES) {
          finish(usage(`a passphrase longer than ${MAX_BYTES} bytes`))
          break
        }
        buf[n++] = b
      }
      d.fill(0)
    }
    process.stderr.write(prompt)
    input.setRawMode(true)
    input.resume()
    input.on('data', onData)
  })
}

/**
 * The passphrase: --passphrase-file, else $SEALMIX_BACKUP_PASSPHRASE (removed from the
 * environment once read, so that no child inherits it), else the terminal. `making`: a new backup,
 * whose passphrase must have MIN_CHARACTERS and, typed, is asked twice. The caller zeroes it.
 */
async function passphrase(flags: Flags, making: boolean): Promise<Buffer> {
  const file = optional(flags, 'passphrase-file')
  const env = process.env[PASSPHRASE_ENV]
  delete process.env[PASSPHRASE_ENV]
  let pass: Buffer
  if (file !== undefined) pass = fromFile(file)
  else if (env !== undefined) pass = Buffer.from(env)
  else if (process.stdin.isTTY === true) {
    pass = await fromTerminal(making ? 'passphrase for the backup: ' : 'passphrase of the backup: ')
    if (making) {
      const again = await fromTerminal('the same passphrase again: ')
      const same = again.equals(pass)
      again.fill(0)
      if (!same) {
        pass.fill(0)
        throw usage('the two passphrases differ; nothing was written')
      }
    }
  } else
    throw usage(
      `give the passphrase in --passphrase-file FILE (its first line) or in $${PASSPHRASE_ENV}, or run on a terminal; it is never taken as an argument, which ps would show`
    )
  if (making && characters(pass) < MIN_CHARACTERS) {
    pass.fill(0)
    throw usage(`the passphrase must have at least ${MIN_CHARACTERS} characters`)
  }
  return pass
}

/** The relay's data directory, and whether its config names a static network file (null: not known, from --data-dir). */
function target(flags: Flags): { dataDir: string; staticMix: boolean | null } {
  const config = optional(flags, 'config')
  const dir = optional(flags, 'data-dir')
  if ((config === undefined) === (dir === undefined)) throw usage('give the relay as --config FILE or --data-dir DIR')
  if (config === undefined) return { dataDir: resolve(dir!), staticMix: null }
  const cfg = loadConfig(config)
  return { dataDir: cfg.dataDir, staticMix: cfg.network !== undefined }
}

const exists = (out: string): DataError =>
  new DataError('KEYS_BACKUP_EXISTS', `${out} exists; give --force to replace it (nothing was written)`)

async function backup(flags: Flags): Promise<number> {
  onlyThese(flags, ['config', 'data-dir', 'out', 'passphrase-file', 'force'], 'keys backup')
  const out = outFile(flags, 'out')
  const force = flag(flags, 'force')
  const t = target(flags)
  // Refused before the passphrase is asked for: an existing file, a data directory whose layout this sealmix does not know.
  if (!force && existsSync(out)) throw exists(out)
  const f = checkDataFormat(t.dataDir)
  if (f.kind === 'newer' || f.kind === 'unreadable') throw formatRefusal(t.dataDir, f, 'relay')!
  const c = await loadCrypto()
  const contents = relayBackupContents(c, t.dataDir, t.staticMix)
  try {
    const pass = await passphrase(flags, true)
    let sealed: Buffer
    try {
      sealed = sealKeyBackup(contents, pass)
    } finally {
      pass.fill(0)
    }
    if (writeSecretFile(out, sealed, { exclusive: !force }).kind === 'exists') throw exists(out)
  } finally {
    for (const e of contents.entries) e.bytes.fill(0)
  }
  const id = relayId(c, Buffer.from(contents.meta.identityKey, 'hex'))
  const files = contents.entries.map(e => `keys/${e.name}`).join(', ')
  console.log(`backed up the keys of relay ${id} (${files}) to ${out}, mode 0600, sealed with the passphrase`)
  console.log(
    'mix keys of epochs (keys/mix-<e>.key) are never backed up: they exist to be erased; a restored relay makes new ones'
  )
  return 0
}

function restoredLines(r: RelayRestoreReport, dataDir: string): string[] {
  const lines = [`restored relay ${r.id} into ${dataDir}: ${r.files.map(f => `keys/${f}`).join(', ')}`]
  if (r.staticMix === 'restored-refused')
    return [
      ...lines,
      "keys/mix.key is the static network file's mix key, restored without the replay tags of the packets it opened (they were in the old db/). So that no packet is forwarded twice, the relay refuses every packet for that key (dropped as replay_full; /readyz: replay protection is incomplete). It starts as the same relay; to carry traffic again it needs a new mix key: stop it, delete keys/mix.key, run 'sealmix keygen', sign a network file that lists the new key and give it to every relay, ingress and client of the network (docs/OPERATIONS.md, \"Repair\")."
    ]
  if (r.staticMix === 'left-out')
    lines.push("the backup's static mix key was not restored: this config follows directory authorities")
  lines.push(
    'the relay makes new mix keys when it starts and publishes them; the authorities list it with them from the first document whose deadline comes after that (within two epochs). Never run the old relay beside it'
  )
  return lines
}

async function restore(flags: Flags): Promise<number> {
  onlyThese(flags, ['in', 'config', 'data-dir', 'passphrase-file'], 'keys restore')
  const path = one(flags, 'in')
  const t = target(flags)
  // Everything that can be refused without the passphrase is, before it is asked for.
  assertRestorable(t.dataDir)
  let file: Buffer
  try {
    file = readFileSync(path)
  } catch (e) {
    throw usage(`cannot read --in ${path} (${errorCode(e)})`)
  }
  const head = checkKeyBackup(file)
  if (head.kind !== 'sound') throw backupRefusal(path, head)
  const c = await loadCrypto()
  const pass = await passphrase(flags, false)
  let opened: ReturnType<typeof openKeyBackup>
  try {
    opened = openKeyBackup(file, pass)
  } finally {
    pass.fill(0)
  }
  if (opened.kind !== 'opened') throw backupRefusal(path, opened)
  let report: RelayRestoreReport
  try {
    report = await restoreRelayKeys(c, t, opened)
  } finally {
    for (const e of opened.entries) e.bytes.fill(0)
  }
  for (const l of restoredLines(report, t.dataDir)) console.log(l)
  return 0
}

export async function keysCommand(flags: Flags): Promise<number> {
  // What restore makes beside the keys (the database) is private, as `sealmix run` makes it.
  process.umask(0o077)
  const action = flags.positionals[0]
  if (flags.positionals.length !== 1 || (action !== 'backup' && action !== 'restore'))
    throw usage(`'keys' takes backup or restore (got '${flags.positionals.join(' ')}')`, 'keys')
  return action === 'backup' ? await backup(flags) : await restore(flags)
}

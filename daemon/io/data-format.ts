/**
 * The format of a program's data directory (a relay's or an ingress's: keys/, db/ and what they
 * hold), recorded in <dataDir>/FORMAT as one line, `sealmix-data N`. It is checked before a
 * program opens its database (db.ts; the ingress at its start), so that no version of sealmix
 * runs on data laid out for another: an older directory is refused with the command that
 * upgrades it (`sealmix migrate`), a newer one because this sealmix is older than its data.
 *
 * A directory without the file is
 * - new when nothing was ever written there by a running program (no db/CURRENT and no
 *   keys/store.state; keys alone, from init or keygen, are laid out alike in every format): it is
 *   given the current format when a program first opens it, or when init makes it;
 * - otherwise format 1, the layout of every version before the file existed.
 *
 * `sealmix migrate` walks MIGRATIONS one step at a time. Each step checks that the directory is
 * in the layout it upgrades before it changes anything, and the step's `to` is recorded only once
 * its change is done: an interrupted migration resumes at the step it stopped in, and a second
 * run finds nothing to do.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { CodedError } from '../../mix/index.ts'
import { writeFileAtomic } from './atomic-file.ts'
import type { Db } from './db.ts'
import { checkSecretFile } from './secret-file.ts'

/** The format this version of sealmix reads and writes. */
export const DATA_FORMAT = 2
export const FORMAT_FILE = 'FORMAT'
const FORMAT_LINE = /^sealmix-data ([1-9]\d{0,5})\n?$/

/** The programs that keep a data directory (an authority keeps single files, wherever its config names them). */
export type DataProgram = 'relay' | 'ingress'

export type DataErrorCode =
  | 'DATA_FORMAT_OLDER'
  | 'DATA_FORMAT_NEWER'
  | 'DATA_FORMAT_UNREADABLE'
  | 'DATA_LAYOUT_UNKNOWN'
  | 'KEYS_BACKUP_EXISTS'
  | 'KEYS_BACKUP_WRONG_PASSPHRASE'
  | 'KEYS_BACKUP_CORRUPT'
  | 'KEYS_BACKUP_UNSUPPORTED'
  | 'KEYS_RESTORE_NOT_EMPTY'
  | 'KEYS_RESTORE_MISMATCH'

/** Process exit status per code (sysexits, as EXIT_STATUS in errors.ts; docs/OPERATIONS.md lists them). */
export const DATA_EXIT_STATUS: Record<DataErrorCode, number> = {
  // A data directory in another format does not change by itself: a supervisor must not restart in a loop.
  DATA_FORMAT_OLDER: 78,
  DATA_FORMAT_NEWER: 78,
  DATA_FORMAT_UNREADABLE: 78,
  DATA_LAYOUT_UNKNOWN: 78,
  // EX_CANTCREAT: what would be written is there already, and is never overwritten unasked.
  KEYS_BACKUP_EXISTS: 73,
  KEYS_RESTORE_NOT_EMPTY: 73,
  // EX_NOPERM: told apart from a damaged file, so that an operator retries the passphrase rather than the file.
  KEYS_BACKUP_WRONG_PASSPHRASE: 77,
  KEYS_BACKUP_CORRUPT: 65,
  KEYS_BACKUP_UNSUPPORTED: 65,
  KEYS_RESTORE_MISMATCH: 78
}

/** Errors about a data directory's format, its migration, and key backups. Messages never carry key material. */
export class DataError extends CodedError<DataErrorCode> {
  override readonly name = 'DataError'
}

/** What a data directory's format is, against the one this sealmix runs on. */
export type DataFormatCheck =
  | { readonly kind: 'current' }
  /** Nothing written by a running program yet, and no FORMAT file. */
  | { readonly kind: 'new' }
  /** `recorded` false: no FORMAT file, but data (format 1). */
  | { readonly kind: 'older'; readonly version: number; readonly recorded: boolean }
  | { readonly kind: 'newer'; readonly version: number }
  | { readonly kind: 'unreadable'; readonly problem: string }

/** Whether a running program has written to `dir`: its database, or the relay's record of what it committed. */
function hasData(dir: string): boolean {
  return existsSync(join(dir, 'db', 'CURRENT')) || existsSync(join(dir, 'keys', 'store.state'))
}

/** The version FORMAT records; null without the file. */
function recordedVersion(dir: string): number | { problem: string } | null {
  let text: string
  try {
    text = readFileSync(join(dir, FORMAT_FILE), 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    return { problem: `${FORMAT_FILE} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})` }
  }
  const m = FORMAT_LINE.exec(text)
  if (m === null) return { problem: `${FORMAT_FILE} must hold one line 'sealmix-data N' (damaged, or not sealmix's)` }
  return Number(m[1])
}

export function checkDataFormat(dir: string): DataFormatCheck {
  const v = recordedVersion(dir)
  if (v === null) return hasData(dir) ? { kind: 'older', version: 1, recorded: false } : { kind: 'new' }
  if (typeof v === 'object') return { kind: 'unreadable', problem: v.problem }
  if (v < DATA_FORMAT) return { kind: 'older', version: v, recorded: true }
  if (v > DATA_FORMAT) return { kind: 'newer', version: v }
  return { kind: 'current' }
}

/** The command that upgrades a data directory of `program`. */
export function migrateCommandLine(program: DataProgram): string {
  return program === 'relay' ? 'sealmix migrate --config FILE' : 'sealmix migrate --config FILE --role ingress'
}

/** The error that refuses a data directory this sealmix cannot run on; null when it can. */
export function formatRefusal(dir: string, f: DataFormatCheck, program: DataProgram): DataError | null {
  if (f.kind === 'older')
    return new DataError(
      'DATA_FORMAT_OLDER',
      `the data directory ${dir} is in format ${f.version}${f.recorded ? '' : ` (it has no ${FORMAT_FILE} file: made by an older sealmix)`} and this sealmix needs format ${DATA_FORMAT}. Stop every program that uses it, back it up, then run '${migrateCommandLine(program)}' (docs/OPERATIONS.md, "Upgrades")`
    )
  if (f.kind === 'newer')
    return new DataError(
      'DATA_FORMAT_NEWER',
      `the data directory ${dir} is in format ${f.version}, newer than this sealmix (format ${DATA_FORMAT}): it was used by a newer sealmix. Run that version, or one newer; an older one cannot read the data`
    )
  if (f.kind === 'unreadable') return new DataError('DATA_FORMAT_UNREADABLE', `the data directory ${dir}: ${f.problem}`)
  return null
}

function recordFormat(dir: string, version: number): void {
  writeFileAtomic(join(dir, FORMAT_FILE), `sealmix-data ${version}\n`)
}

/**
 * Refuse (DataError) a data directory in a format other than this sealmix's. A new one is given
 * the current format when `create` (the caller is about to make its database or keys), and made
 * if missing (0700; an existing directory's mode is the operator's).
 */
export function ensureDataFormat(
  dir: string,
  o: { create?: boolean; program?: DataProgram } = {}
): 'current' | 'created' | 'new' {
  const f = checkDataFormat(dir)
  const refused = formatRefusal(dir, f, o.program ?? 'relay')
  if (refused !== null) throw refused
  if (f.kind === 'current') return 'current'
  if (o.create === false) return 'new'
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  recordFormat(dir, DATA_FORMAT)
  return 'created'
}

/** What a migration step is given: the directory, whose program it is, and the database (held open, so that no program runs meanwhile), if there is one. */
export interface MigrationContext {
  readonly dir: string
  readonly program: DataProgram
  readonly db: Db | null
}

export interface Migration {
  readonly from: number
  readonly to: number
  /** What the step changes, for the operator. */
  readonly what: string
  /** Why the directory is not in the layout of `from`, or null when it is. Runs before anything changes. */
  readonly check: (x: MigrationContext) => string | null
  /** The change. Until it returns, FORMAT still says `from`: after an interruption it runs again, so it must be safe to repeat. */
  readonly apply: (x: MigrationContext) => Promise<void>
}

/** The key files every data directory of `program` holds, in every format so far. */
const KEY_FILES: Record<DataProgram, readonly string[]> = {
  relay: ['identity.key', 'mailbox.key'],
  ingress: ['identity.key', 'box.key', 'issuing.key', 'store.key']
}

/** Format 1: keys/ with the program's 32-byte keys, and db/ (when there) a LevelDB. Other files (a config, a network file) are left alone. */
function formatOneLayout(x: MigrationContext): string | null {
  const keys = join(x.dir, 'keys')
  for (const f of KEY_FILES[x.program]) {
    const c = checkSecretFile(join(keys, f), 32)
    if (c.kind === 'missing') return `keys/${f} is missing (is this a ${x.program}'s data directory?)`
    if (c.kind === 'wrong-size') return `keys/${f} holds ${c.size} bytes, not 32`
    if (c.kind === 'unreadable') return `keys/${f} cannot be read (${c.errno})`
  }
  const db = join(x.dir, 'db')
  if (existsSync(db) && (!statSync(db).isDirectory() || !existsSync(join(db, 'CURRENT'))))
    return 'db/ is not a LevelDB database'
  return null
}

/** Every step from format 1 to DATA_FORMAT, in order; a new format adds its step here. */
export const MIGRATIONS: readonly Migration[] = [
  {
    from: 1,
    to: 2,
    what: `records the format in ${FORMAT_FILE}; keys and database stay as they are`,
    check: formatOneLayout,
    apply: async () => {}
  }
]

export type MigrationResult =
  | { readonly kind: 'up-to-date' }
  /** No data yet: the current format is recorded, nothing else was there to change. */
  | { readonly kind: 'new' }
  | { readonly kind: 'migrated'; readonly steps: ReadonlyArray<{ from: number; to: number; what: string }> }

/**
 * Bring `dir` to DATA_FORMAT, step by step. Refuses (DataError) a newer or unreadable format, and
 * a directory that is not in the layout its format says, before that step changes anything.
 */
export async function migrateDataFormat(
  dir: string,
  program: DataProgram,
  db: Db | null,
  migrations: readonly Migration[] = MIGRATIONS
): Promise<MigrationResult> {
  const steps: Array<{ from: number; to: number; what: string }> = []
  for (;;) {
    const f = checkDataFormat(dir)
    if (f.kind === 'current') return steps.length === 0 ? { kind: 'up-to-date' } : { kind: 'migrated', steps }
    if (f.kind === 'new') {
      ensureDataFormat(dir, { program })
      return { kind: 'new' }
    }
    if (f.kind !== 'older') throw formatRefusal(dir, f, program)!
    const step = migrations.find(m => m.from === f.version)
    if (step === undefined)
      throw new DataError('DATA_LAYOUT_UNKNOWN', `no migration leads from format ${f.version} of ${dir}`)
    const x = { dir, program, db }
    const wrong = step.check(x)
    if (wrong !== null)
      throw new DataError(
        'DATA_LAYOUT_UNKNOWN',
        `the data directory ${dir} is not in the layout of format ${f.version}, so it is not migrated (nothing was changed): ${wrong}`
      )
    await step.apply(x)
    recordFormat(dir, step.to)
    steps.push({ from: step.from, to: step.to, what: step.what })
  }
}

/**
 * SIGHUP never ends a sealmix program. Node's default for it is to exit at once, without a log
 * line, which systemd counts as a clean stop. The long-running daemons (run, ingress, authority)
 * reload on it: they read and validate their whole config file again, then apply what can change
 * while running (each daemon's reconfigure says what: limits, tokens, authorities, the log level)
 * and log which changed keys were applied and which keep their running value until a restart. A
 * refused file changes nothing: the daemon keeps running on its config and says why. Every other
 * program says on stderr that it has nothing to reload, and goes on.
 */
import type { Logger } from '../daemon/index.ts'

let handler: (() => void) | null = null

/** Installed once, before the command runs. */
export function installHangup(command: string): void {
  process.on('SIGHUP', () => {
    if (handler !== null) {
      handler()
      return
    }
    console.error(`sealmix: SIGHUP: '${command}' has nothing to reload; it keeps running`)
  })
}

/** What SIGHUP does for this command, from now on. */
export function onHangup(f: () => void): void {
  handler = f
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']

type LogConfig = { readonly log: { readonly level: string } }

/** A daemon that a reload reconfigures. */
export interface Reconfigurable<C> {
  /** The config in force: the file's at start, with what reloads applied since. */
  readonly config: C
  /**
   * Apply from `next` (validated already) what can change while running; returns the config now
   * in force, whose other keys keep their running values. May throw, having changed nothing,
   * when `next` names a file that cannot be loaded (a TLS certificate).
   */
  reconfigure(next: C): C
}

/**
 * Reload: validate `load()`, hand it to `target`, set the new level on `log`, and log the
 * outcome: the changed keys applied and those kept until a restart (names only, never values).
 */
export function reloadConfig<C extends LogConfig>(
  log: Logger,
  target: Reconfigurable<C>,
  load: () => C,
  what: string
): void {
  const before = target.config
  let next: C
  let after: C
  try {
    next = load()
    after = target.reconfigure(next)
  } catch (e) {
    // The loaders' messages name the key and rule and never a secret's value.
    log.error(
      { event: 'reload_refused', err: (e as Error).message },
      `SIGHUP: the config file is refused; the ${what} keeps running on its current config`
    )
    return
  }
  const kept = changedKeys(after, next)
  const applied = changedKeys(before, next).filter(k => !kept.includes(k))
  const level = log.level
  // The outcome is said at info, shown whichever of the two levels is the more verbose (or info).
  const shown = LEVELS[Math.min(LEVELS.indexOf(level), LEVELS.indexOf(next.log.level), LEVELS.indexOf('info'))]!
  log.level = level === 'silent' && next.log.level === 'silent' ? 'silent' : shown
  const list = (label: string, keys: string[]): string => (keys.length > 0 ? `; ${label}: ${keys.join(', ')}` : '')
  log.info(
    { event: 'config_reloaded', logLevel: next.log.level, previousLogLevel: level, applied, kept },
    `SIGHUP: config reloaded; log level ${next.log.level}${list('applied', applied)}${list('kept until a restart', kept)}`
  )
  log.level = next.log.level
}

/** The dotted keys whose values differ between two parsed configs (leaves; lists compared whole). */
export function changedKeys(a: unknown, b: unknown, prefix = ''): string[] {
  const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
  if (isMap(a) && isMap(b)) {
    const out: string[] = []
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)]))
      out.push(...changedKeys(a[k], b[k], prefix === '' ? k : `${prefix}.${k}`))
    return out
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix === '' ? '(the whole config)' : prefix]
}

/**
 * SIGHUP never ends a sealmix program. Node's default for it is to exit at once, without a log
 * line, which systemd counts as a clean stop. The long-running daemons (run, ingress, authority)
 * reload on it: they read and validate their config file again, apply what applies while running
 * (the log level), log the keys that changed but keep their running value until a restart, and
 * keep running on the old config, saying why, when the file is refused. Every other program says
 * on stderr that it has nothing to reload, and goes on.
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

/**
 * Reload for a daemon whose config has `log.level`: validate `load()`, set the new level on
 * `log`, and log the outcome. `running` is the config the daemon started with: the keys that
 * differ from it, other than the log level, are listed as kept (values never logged).
 */
export function reloadConfig(
  log: Logger,
  running: { readonly log: { readonly level: string } },
  load: () => { readonly log: { readonly level: string } },
  what: string
): void {
  let next: { readonly log: { readonly level: string } }
  try {
    next = load()
  } catch (e) {
    // The loaders' messages name the key and rule and never a secret's value.
    log.error(
      { event: 'reload_refused', err: (e as Error).message },
      `SIGHUP: the config file is refused; the ${what} keeps running on its current config`
    )
    return
  }
  const kept = changedKeys(running, next).filter(k => k !== 'log.level')
  const before = log.level
  // The outcome is said at info, shown whichever of the two levels is the more verbose (or info).
  const shown = LEVELS[Math.min(LEVELS.indexOf(before), LEVELS.indexOf(next.log.level), LEVELS.indexOf('info'))]!
  log.level = before === 'silent' && next.log.level === 'silent' ? 'silent' : shown
  log.info(
    { event: 'config_reloaded', logLevel: next.log.level, previousLogLevel: before, kept },
    `SIGHUP: config reloaded; log level ${next.log.level}${kept.length > 0 ? `; kept until a restart: ${kept.join(', ')}` : ''}`
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

/**
 * Structured logs (pino). Log lines name events and counts, never addresses, relay or client ids,
 * mailbox ids, tokens, keys or packet bytes; the redact list is a second line of defence for
 * fields that must never appear even if a call site gets it wrong.
 */
import { type Logger, pino } from 'pino'

export type { Logger }

export const REDACT = [
  'ip',
  'address',
  'remoteAddress',
  'id',
  'peer',
  'token',
  'key',
  'secret',
  'mailbox',
  'recipient',
  'headers',
  '*.ip',
  '*.address',
  '*.id',
  '*.token',
  '*.key'
]

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const opts = { level, base: { app: 'sealmix' }, redact: { paths: REDACT, censor: '[redacted]' } }
  return destination === undefined ? pino(opts) : pino(opts, destination)
}

/** Writes one line of a periodic task; see infoOnChange. */
export type ChangeLine = (log: Logger, key: string, fields: Record<string, unknown>, msg: string) => void

/**
 * For a line that a periodic task writes each time it runs (the network document in use, which a
 * relay re-checks every eighth of an epoch): at info when `key` (what the line reports: an epoch,
 * a listing) differs from the last one written, at debug when it is the same. A steady state no
 * longer fills the log at info every second, and a change is still seen at once.
 */
export function infoOnChange(): ChangeLine {
  let last: string | null = null
  return (log, key, fields, msg) => {
    const same = key === last
    last = key
    if (same) log.debug(fields, msg)
    else log.info(fields, msg)
  }
}

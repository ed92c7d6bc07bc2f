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

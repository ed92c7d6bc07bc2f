/**
 * The log destination of the long-running commands (run, ingress, authority): JSON lines to
 * standard output (or, with `--log-format pretty`, the same lines made readable), with repeats of
 * one failure held back. A warning or error that repeats (same level, message and fields; digits
 * in its `err` text do not count, so "EMFILE ... mix-12.key" and "... mix-13.key" are one
 * failure) is written at most `burst` times at once and then once per `refillMs`; what was held
 * back is counted and said in one line per failure (`event: log_suppressed`, `suppressed: N`)
 * when the period ends. A relay out of file descriptors had logged the same EMFILE from its epoch
 * tick 232 times in 25 s. Lines below warn, and lines that are not JSON, pass as they are.
 *
 * Pretty printing is the last step, after pino has redacted and the guard has counted: what a
 * terminal shows is what the JSON would have said, redactions included.
 */
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { createLogger, type Logger } from '../daemon/index.ts'
import { type Flags, type LogFormat, logFormat } from './args.ts'

export interface FloodOptions {
  readonly now?: () => number
  readonly write?: (line: string) => void
  /** Lines of one failure written at once. @default 5 */
  readonly burst?: number
  /** One more line of it per this long; also how often held-back counts are said. @default 10000 */
  readonly refillMs?: number
  /** Failures tracked at once (the oldest forgotten first). @default 1000 */
  readonly maxKeys?: number
}

interface Bucket {
  tokens: number
  lastMs: number
  suppressed: number
  sample: Record<string, unknown>
}

const WARN = 40
const VOLATILE = new Set(['time', 'pid', 'hostname'])

/** Standard output through pino's own synchronous destination (sonic-boom): a full pipe is waited for, not an error. */
function stdoutLines(): (line: string) => void {
  const dest = pino.destination({ dest: 1, sync: true })
  return line => {
    dest.write(line)
  }
}

export function floodGuard(o: FloodOptions = {}): Writable {
  const now = o.now ?? Date.now
  const write = o.write ?? stdoutLines()
  const burst = o.burst ?? 5
  const refillMs = o.refillMs ?? 10_000
  const maxKeys = o.maxKeys ?? 1000
  const buckets = new Map<string, Bucket>()
  let timer: NodeJS.Timeout | null = null

  const flush = (): void => {
    timer = null
    for (const b of buckets.values()) {
      if (b.suppressed === 0) continue
      const { level, app, role, msg, event } = b.sample
      write(
        JSON.stringify({
          level,
          time: now(),
          ...(app !== undefined ? { app } : {}),
          ...(role !== undefined ? { role } : {}),
          event: 'log_suppressed',
          of: event,
          suppressed: b.suppressed,
          msg: `${String(msg)} (repeated ${b.suppressed} more times, not logged)`
        }) + '\n'
      )
      b.suppressed = 0
    }
  }

  const line = (text: string): void => {
    let obj: Record<string, unknown>
    try {
      obj = JSON.parse(text) as Record<string, unknown>
    } catch {
      write(text + '\n')
      return
    }
    if (obj === null || typeof obj !== 'object' || typeof obj.level !== 'number' || obj.level < WARN) {
      write(text + '\n')
      return
    }
    const fields = Object.entries(obj)
      .filter(([k]) => !VOLATILE.has(k))
      .map(([k, v]) => [k, k === 'err' && typeof v === 'string' ? v.replace(/\d+/g, '#') : v])
    const key = JSON.stringify(fields)
    const t = now()
    let b = buckets.get(key)
    if (b === undefined) {
      if (buckets.size >= maxKeys) buckets.delete(buckets.keys().next().value as string)
      b = { tokens: burst, lastMs: t, suppressed: 0, sample: obj }
      buckets.set(key, b)
    }
    b.tokens = Math.min(burst, b.tokens + (t - b.lastMs) / refillMs)
    b.lastMs = t
    if (b.tokens >= 1) {
      b.tokens -= 1
      write(text + '\n')
      return
    }
    b.suppressed++
    b.sample = obj
    if (timer === null) {
      timer = setTimeout(flush, refillMs)
      timer.unref()
    }
  }

  return new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l !== '') line(l)
      cb()
    },
    final(cb) {
      if (timer !== null) clearTimeout(timer)
      flush()
      cb()
    }
  })
}

/**
 * A JSON log line made readable: `[2025-06-01T12:00:00.000Z] INFO: network document in use
 * {"epoch":5,...}`, one line per event, ISO times in UTC, level names. pino-pretty, pino's own
 * prettifier, loaded only when asked for (it is a few dozen milliseconds of every command's
 * start otherwise). Colours where the terminal takes them (NO_COLOR and FORCE_COLOR are heeded).
 */
export async function prettyLines(o: { colorize?: boolean } = {}): Promise<(line: string) => string> {
  const { prettyFactory } = await import('pino-pretty')
  const pretty = prettyFactory({
    ...(o.colorize === undefined ? {} : { colorize: o.colorize }),
    translateTime: "UTC:yyyy-mm-dd'T'HH:MM:ss.l'Z'",
    // Every line says app: sealmix; a terminal needs it no more than once.
    ignore: 'app',
    singleLine: true,
    // Our `err` fields are short codes and messages: on the event's own line, like the other fields.
    errorLikeObjectKeys: []
  })
  return line => pretty(line.endsWith('\n') ? line.slice(0, -1) : line)
}

/** The flood guard over standard output in `format` (FloodOptions as for floodGuard; `write` is given the final text). */
export async function logDestination(format: LogFormat, o: FloodOptions = {}): Promise<Writable> {
  if (format === 'json') return floodGuard(o)
  const pretty = await prettyLines()
  const write = o.write ?? stdoutLines()
  return floodGuard({ ...o, write: line => write(pretty(line)) })
}

/**
 * The logger of a long-running command: `level` from its config, the format from `--log-format`
 * (else SEALMIX_LOG_FORMAT, else pretty on a terminal and JSON lines otherwise), repeats held back.
 */
export async function programLog(flags: Flags, level: string): Promise<Logger> {
  return createLogger(level, await logDestination(logFormat(flags)))
}

/**
 * What keeps a running relay from doing its job, for /readyz and the log. A failure of the store
 * or of a timer is caught where it happens and reported here: the relay answers /readyz 503 with
 * the reason, logs it at once and then at most every LOG_EVERY_MS while it lasts (a full disk made
 * 296 failed rounds in a few seconds), and logs once when it is over. Never an uncaught exception,
 * and no log line carries a path's secret, an address or an id: only an error code and counts.
 */

import { errorCode } from './atomic-file.ts'
import { buildInfo } from './build-info.ts'
import { RelayError } from './errors.ts'
import type { Logger } from './log.ts'

/** Closed set, in the order /readyz names them. */
export const PROBLEMS = {
  replay: "replay protection is incomplete for a live mix key (see 'sealmix repair'): its packets are refused",
  store: 'mixing rounds cannot be committed to the database (disk full or failing; see the log)',
  rounds: 'mixing rounds fail (see the log)',
  epochs: 'the epoch tick fails: mix keys cannot be made or loaded (disk full or failing; see the log)',
  timer: 'the metrics refresh timer fails (see the log)',
  loops: 'the loop cover timer fails (see the log)'
} as const
export type Problem = keyof typeof PROBLEMS

const LOG_EVERY_MS = 30_000

interface Failing {
  since: number
  failures: number
  unlogged: number
  loggedAt: number
  code: string
}

export class Health {
  readonly #log: () => Logger
  readonly #now: () => number
  readonly #failing = new Map<Problem, Failing>()

  /** `log` is read when a line is written (the relay's logger is made after this). */
  constructor(log: () => Logger, now: () => number = Date.now) {
    this.#log = log
    this.#now = now
  }

  get log(): Logger {
    return this.#log()
  }

  fail(p: Problem, err: unknown): void {
    const now = this.#now()
    const code = errorCode(err)
    // A RelayError's message is written for operators (no address, id or key); other errors give only their code.
    const detail = err instanceof RelayError ? { err: err.message } : {}
    const f = this.#failing.get(p)
    if (f === undefined) {
      this.#failing.set(p, { since: now, failures: 1, unlogged: 0, loggedAt: now, code })
      this.#log().error({ event: `${p}_failing`, code, ...detail }, PROBLEMS[p])
      return
    }
    f.failures++
    f.unlogged++
    if (now - f.loggedAt >= LOG_EVERY_MS || code !== f.code) {
      this.#log().error(
        { event: `${p}_failing`, code, failures: f.unlogged, seconds: Math.round((now - f.since) / 1000), ...detail },
        `${PROBLEMS[p]} (still)`
      )
      f.loggedAt = now
      f.unlogged = 0
      f.code = code
    }
  }

  ok(p: Problem): void {
    const f = this.#failing.get(p)
    if (f === undefined) return
    this.#failing.delete(p)
    this.#log().warn(
      { event: `${p}_recovered`, failures: f.failures, seconds: Math.round((this.#now() - f.since) / 1000) },
      `recovered after ${f.failures} failure(s): ${p} work succeeds again`
    )
  }

  failing(p: Problem): boolean {
    return this.#failing.has(p)
  }

  /** Why the relay is not ready, or null. */
  reason(): string | null {
    for (const p of Object.keys(PROBLEMS) as Problem[]) if (this.#failing.has(p)) return PROBLEMS[p]
    return null
  }

  /** `f` for a timer: an exception is reported as `p` failing, a run that returns as `p` fine again. */
  guard<A extends unknown[]>(p: Problem, f: (...a: A) => void): (...a: A) => void {
    return (...a: A) => {
      try {
        f(...a)
        this.ok(p)
      } catch (e) {
        this.fail(p, e)
      }
    }
  }
}

/**
 * The /healthz body (daemon/io/ops-server.ts): the process runs, and which build it is, so that
 * `curl -s 127.0.0.1:9464/healthz` answers "what runs there" without a metrics scrape. The status
 * code alone is what probes read.
 */
export function healthzBody(): string {
  const b = buildInfo()
  return `${JSON.stringify({ status: 'ok', version: b.version, commit: b.commit })}\n`
}

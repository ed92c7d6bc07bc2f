/**
 * Log lines for refusals and forced closes, at most one per kind every `everyMs` (10 s): the first
 * of a kind is logged at once, later ones are counted and the count rides on the next line. A
 * flood therefore costs a few lines a minute, never one per socket. Lines carry the kind and
 * counts only, never an address, port or id.
 *
 * Bound: one entry per kind; kinds come from closed sets (the metric labels), so at most a few
 * dozen entries whatever the traffic.
 */
import type { Logger } from '../../io/index.ts'

export class Notices {
  readonly #log: Logger | undefined
  readonly #everyMs: number
  readonly #now: () => number
  readonly #last = new Map<string, { at: number; suppressed: number }>()

  constructor(log: Logger | undefined, o: { everyMs?: number; now?: () => number } = {}) {
    this.#log = log
    this.#everyMs = o.everyMs ?? 10_000
    this.#now = o.now ?? Date.now
  }

  /** One occurrence of `msg` with these (closed-set) fields; logged unless one was logged within `everyMs`. */
  note(msg: string, fields: Readonly<Record<string, string>>): void {
    if (this.#log === undefined) return
    const key = msg + '\0' + Object.values(fields).join('\0')
    const now = this.#now()
    const s = this.#last.get(key)
    if (s !== undefined && now - s.at < this.#everyMs) {
      s.suppressed++
      return
    }
    this.#log.warn({ ...fields, alsoSinceLastLine: s?.suppressed ?? 0 }, msg)
    this.#last.set(key, { at: now, suppressed: 0 })
  }
}

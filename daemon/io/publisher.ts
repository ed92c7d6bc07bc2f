/**
 * Publishing a signed descriptor to the directory authorities: each authority is sent this epoch's
 * descriptor until it has taken it; a new epoch starts over. The same for relays and ingresses.
 */
import type { AuthorityRef, PostResult } from '../../mix/index.ts'
import { postDescriptor } from './directory-http.ts'

export class DescriptorPublisher {
  /** The authorities that took this epoch's descriptor; only the newest epoch is kept. */
  readonly #taken = new Map<number, Set<string>>()
  readonly #authorities: readonly AuthorityRef[]
  readonly #post: (url: string, body: string) => Promise<PostResult>

  constructor(
    authorities: readonly AuthorityRef[],
    post: (url: string, body: string) => Promise<PostResult> = postDescriptor
  ) {
    this.#authorities = authorities
    this.#post = post
  }

  /**
   * Send `sign()`'s descriptor to each authority that has not taken one this epoch; `sign` is only
   * called when one is left. Returns the reasons of those that refused it.
   */
  async publish(epoch: number, sign: () => string): Promise<string[]> {
    const done = this.#taken.get(epoch) ?? new Set<string>()
    this.#taken.clear()
    this.#taken.set(epoch, done)
    const todo = this.#authorities.filter(a => !done.has(a.url))
    if (todo.length === 0) return []
    const body = sign()
    const refused: string[] = []
    await Promise.all(
      todo.map(async a => {
        const r = await this.#post(a.url, body)
        if (r.ok) done.add(a.url)
        else refused.push(r.reason)
      })
    )
    return refused
  }
}

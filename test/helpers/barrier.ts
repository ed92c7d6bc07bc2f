/**
 * A barrier for "nothing more comes out" (a duplicate, a replay forwarded late): sentinels sent one
 * at a time through the same path as the packets in question, each only after the one before it
 * came out. Waiting for it, unlike a sleep, does not merely hope the late event has come by then.
 *
 * Why it holds in the testnets (one unwrap worker per relay, so each relay routes packets in the
 * order they arrived; node delays 0; rounds that never overlap; one connection per link, and an
 * exit gateway sends its spool in order): a round shuffles its batch, so a sentinel can overtake an
 * earlier packet of its own round at one hop, but sentinel k+1 enters that hop only after sentinel
 * k came out of the whole path, so in a later round than anything that left with sentinel k. A
 * packet that entered the path before sentinel 1 is therefore ahead of sentinel k at hop k-1
 * (counting the first relay as hop 0 and the receiving ingress as the hop after the last relay).
 * Once sentinel `count` came out, such a packet has been received and handled at hop `count - 1`
 * (or dropped before it): for gwA, mix1, mix2, mix3, gwB and the ingress, 6 sentinels; for what
 * mix1 does with it, 2.
 */

export interface SentinelPath {
  /** How many sentinels: the hop the barrier must pass, plus one (see above). */
  readonly count: number
  /** The i-th sentinel's payload, recognizable and distinct from every real one. */
  readonly make: (i: number) => Buffer
  /** Send one payload through the path (wrapped as the real packets are). */
  readonly send: (payload: Buffer) => void
  /** What came out at the far end so far. */
  readonly out: () => readonly Buffer[]
  /** Deadline for each sentinel. */
  readonly ms?: number
}

/** Sends the sentinels one after another; resolves with their payloads once the last came out. */
export async function sentinelBarrier(p: SentinelPath): Promise<Buffer[]> {
  const sent: Buffer[] = []
  for (let i = 0; i < p.count; i++) {
    const s = p.make(i)
    sent.push(s)
    p.send(s)
    const end = Date.now() + (p.ms ?? 10_000)
    while (!p.out().some(b => b.equals(s))) {
      if (Date.now() > end) throw new Error(`timed out waiting for sentinel ${i + 1} of ${p.count}`)
      await new Promise(resolve => setTimeout(resolve, 10))
    }
  }
  return sent
}

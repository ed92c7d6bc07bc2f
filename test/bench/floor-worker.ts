/**
 * Unwrap thread of the latency floor (floor-relay.ts): with a ring (workerData.ring), the relay's
 * shared-memory ring and its serve() loop, each slot's packet unwrapped in place (forwarded packet
 * at 0, tag at P, 1 at P + 32 when it forwards); without, batches in and out by message.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { ResultBell, Ring, type RingShared, serve } from '../../daemon/relay/unwrap/ring.ts'
import { NETWORK_GEOMETRY as G, loadCrypto, Sphinx } from '../../mix/index.ts'

const data = workerData as { mixSk: string; ring?: RingShared; bell?: SharedArrayBuffer }
const sphinx = new Sphinx(await loadCrypto('sodium-native'), G)
const keys = [Buffer.from(data.mixSk, 'hex')]
const P = G.packetBytes
if (data.ring !== undefined) {
  serve(new Ring(data.ring), new ResultBell(data.bell), {
    each: slot => {
      const r = sphinx.unwrap(slot.subarray(0, P), { keys })
      slot[P + 32] = r.type === 'forward' ? 1 : 0
      if (r.type !== 'forward') return
      r.packet.copy(slot, 0)
      r.replayTag.copy(slot, P)
    }
  })
}
parentPort!.on('message', (m: { count: number; data: ArrayBuffer }) => {
  const input = Buffer.from(m.data)
  const out = Buffer.alloc(m.count * P)
  const tags = Buffer.alloc(m.count * 32)
  const ok: number[] = []
  for (let i = 0; i < m.count; i++) {
    const r = sphinx.unwrap(input.subarray(i * P, (i + 1) * P), { keys })
    if (r.type !== 'forward') {
      ok.push(0)
      continue
    }
    r.packet.copy(out, i * P)
    r.replayTag.copy(tags, i * 32)
    ok.push(1)
  }
  parentPort!.postMessage({ out: out.buffer, tags: tags.buffer, ok }, [out.buffer, tags.buffer])
})

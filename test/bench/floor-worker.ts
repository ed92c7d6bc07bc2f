/** Unwrap thread of the latency floor (floor-relay.ts): batches in, forwarded packets and tags out. */
import { parentPort, workerData } from 'node:worker_threads'
import { NETWORK_GEOMETRY as G, loadCrypto, Sphinx } from '../../mix/index.ts'

const sphinx = new Sphinx(await loadCrypto('sodium-native'), G)
const keys = [Buffer.from((workerData as { mixSk: string }).mixSk, 'hex')]
const P = G.packetBytes
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

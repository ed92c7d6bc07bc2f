/** Bench helper thread: builds packets for the relay benchmark off the load loop's thread. */
import { parentPort } from 'node:worker_threads'
import { loadCrypto, NETWORK_GEOMETRY, type PathHop, Sphinx, systemRng } from '../../mix/index.ts'

const c = await loadCrypto('sodium-native')
const s = new Sphinx(c, NETWORK_GEOMETRY)
const rng = systemRng(c)
parentPort!.on(
  'message',
  (m: {
    count: number
    path: Array<{ id: string; key: string }>
    relaySk: string
    sampleEvery: number
    first: number
  }) => {
    const P = NETWORK_GEOMETRY.packetBytes
    const out = Buffer.alloc(m.count * P)
    const samples: Array<[number, string]> = []
    const path: PathHop[] = m.path.map((h, i) => ({
      id: Buffer.from(h.id, 'hex'),
      publicKey: Buffer.from(h.key, 'hex'),
      commands:
        i < m.path.length - 1
          ? [{ type: 'node_delay', delayMs: 0 }]
          : [
              { type: 'node_delay', delayMs: 0 },
              { type: 'recipient', id: Buffer.alloc(32, 1) }
            ]
    }))
    const sk = Buffer.from(m.relaySk, 'hex')
    for (let i = 0; i < m.count; i++) {
      const p = s.createPacket(path, rng.bytes(NETWORK_GEOMETRY.userPayloadBytes), rng)
      p.copy(out, i * P)
      const n = m.first + i
      if (n % m.sampleEvery === 0) {
        // What the relay under test will forward: its α' identifies the packet at the sink.
        const r = s.unwrap(p, { keys: [sk] })
        if (r.type === 'forward') samples.push([n, r.packet.subarray(2, 34).toString('hex')])
      }
    }
    parentPort!.postMessage({ out: out.buffer, samples }, [out.buffer])
  }
)

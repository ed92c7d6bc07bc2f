/**
 * Worker thread: unwraps batches of packets and builds cover packets, so that the main thread only
 * does I/O. Messages are batches with one transferred ArrayBuffer each way.
 */
import { parentPort } from 'node:worker_threads'
import { type BindingName, loadCrypto, makeGeometry, type Rng, Sphinx, systemRng } from '../../../mix/index.ts'
import { replaceKeys } from '../keys/worker-keys.ts'
import type { WorkerRequest, WorkerResult } from './protocol.ts'

let sphinx: Sphinx | undefined
let keys: Buffer[] = []
let epochs: number[] = []
let maxDelayMs = 0
let rng: Rng | undefined
const ZERO32 = Buffer.alloc(32)

const port = parentPort
if (port === null) throw new Error('unwrap-worker must run in a worker thread')

port.on('message', (m: WorkerRequest) => {
  void handle(m)
})

async function handle(m: WorkerRequest): Promise<void> {
  if (m.type === 'init') {
    const c = await loadCrypto(m.binding as BindingName)
    sphinx = new Sphinx(c, makeGeometry({ hops: m.hops, userPayloadBytes: m.userPayloadBytes }))
    keys = replaceKeys(keys, m.keys)
    epochs = m.epochs
    maxDelayMs = m.maxDelayMs
    rng = systemRng(c)
    port!.postMessage({ type: 'ready' })
    return
  }
  if (m.type === 'keys') {
    keys = replaceKeys(keys, m.keys)
    epochs = m.epochs
    return
  }
  const s = sphinx!
  const P = s.geometry.packetBytes
  if (m.type === 'batch') {
    const input = Buffer.from(m.data)
    const out = Buffer.alloc(m.count * P)
    const tags = Buffer.alloc(m.count * 32)
    const results: WorkerResult[] = []
    for (let i = 0; i < m.count; i++) {
      const r = s.unwrap(input.subarray(i * P, (i + 1) * P), { keys, maxDelayMs })
      if (r.type === 'drop') {
        results.push({ kind: 'drop', reason: r.reason, detail: r.detail })
        continue
      }
      r.replayTag.copy(tags, i * 32)
      const epoch = epochs[r.keyIndex]!
      switch (r.type) {
        case 'forward':
          r.packet.copy(out, i * P)
          results.push({ kind: 'forward', nextHop: r.nextHop.toString('hex'), delayMs: r.delayMs, epoch })
          break
        case 'deliver':
          r.payload.copy(out, i * P)
          results.push({ kind: 'deliver', recipient: r.recipient.toString('hex'), delayMs: r.delayMs, epoch })
          break
        case 'surb_reply':
          r.body.copy(out, i * P)
          results.push({
            kind: 'surb_reply',
            recipient: r.recipient.toString('hex'),
            surbId: r.surbId.toString('hex'),
            epoch
          })
          break
        default: {
          const unknown: never = r
          throw new Error(`unwrap result ${String(unknown)}`)
        }
      }
    }
    port!.postMessage({ type: 'batch', id: m.id, results, out: out.buffer, tags: tags.buffer }, [
      out.buffer,
      tags.buffer
    ])
    return
  }
  if (m.type === 'cover') {
    // One-hop packets to a neighbour whose final command names the all-zero recipient: the
    // neighbour unwraps them like any packet and discards them as cover.
    const out = Buffer.alloc(m.count * P)
    const hop = {
      id: Buffer.from(m.neighborId, 'hex'),
      publicKey: Buffer.from(m.neighborKey, 'hex'),
      commands: [
        { type: 'node_delay' as const, delayMs: 0 },
        { type: 'recipient' as const, id: ZERO32 }
      ]
    }
    for (let i = 0; i < m.count; i++)
      s.createPacket([hop], rng!.bytes(s.geometry.userPayloadBytes), rng!).copy(out, i * P)
    port!.postMessage({ type: 'cover', id: m.id, out: out.buffer }, [out.buffer])
  }
}

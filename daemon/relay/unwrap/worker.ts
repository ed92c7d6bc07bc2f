/**
 * Worker thread: unwraps the packets of its ring (ring.ts) and builds cover packets, so that the
 * main thread only does I/O. After its start message it never returns to its event loop: per
 * wake-up it unwraps every packet waiting in its ring, writing each result into the packet's slot,
 * then blocks on the ring's bell (Atomics.wait: a worker may block). Its other messages (key
 * hand-over, cover requests) come on a port it reads between packets when the ring says one was
 * posted; a blocked thread cannot run a 'message' listener.
 */
import { parentPort, receiveMessageOnPort } from 'node:worker_threads'
import { type BindingName, loadCrypto, makeGeometry, type Rng, Sphinx, systemRng } from '../../../mix/index.ts'
import { replaceKeys } from '../keys/worker-keys.ts'
import { slotLayout, type WorkerRequest, writeResult } from './protocol.ts'
import { ResultBell, Ring, serve } from './ring.ts'

const ZERO32 = Buffer.alloc(32)

type Init = Extract<WorkerRequest, { type: 'init' }>
type Keys = Extract<WorkerRequest, { type: 'keys' }>
type Cover = Extract<WorkerRequest, { type: 'cover' }>

const port = parentPort
if (port === null) throw new Error('unwrap-worker must run in a worker thread')

port.once('message', (m: Init) => {
  void start(m)
})

async function start(m: Init): Promise<never> {
  const c = await loadCrypto(m.binding as BindingName)
  const s = new Sphinx(c, makeGeometry({ hops: m.hops, userPayloadBytes: m.userPayloadBytes }))
  const rng = systemRng(c)
  const P = s.geometry.packetBytes
  const L = slotLayout(P)
  const ring = new Ring(m.ring)
  const bell = new ResultBell(m.bell)
  const { maxDelayMs } = m
  let keys = replaceKeys([], m.keys)
  let epochs = m.epochs
  let gen = 0
  /**
   * Key sets posted ahead of the packets still in the ring, each applied from its first packet on
   * (or when the ring is empty): the rotations posted while older packets wait, one in practice.
   */
  const held: Keys[] = []
  let controls = 0

  const readControl = (): void => {
    controls = ring.controls()
    for (let x = receiveMessageOnPort(m.control); x !== undefined; x = receiveMessageOnPort(m.control)) {
      const r = x.message as Keys | Cover
      if (r.type === 'keys') held.push(r)
      else cover(s, rng, r)
    }
  }
  /** Take on every held key set up to generation `upTo`: the keys it replaces are zeroed (replaceKeys). */
  const apply = (upTo: number): void => {
    while (held.length > 0 && held[0]!.gen <= upTo) {
      const k = held.shift()!
      keys = replaceKeys(keys, k.keys)
      epochs = k.epochs
      gen = k.gen
    }
  }

  port!.postMessage({ type: 'ready' })
  return serve(ring, bell, {
    poll: () => {
      // Key sets and cover requests, between packets as they were between batches.
      if (ring.controls() !== controls) readControl()
    },
    // Nothing of an older key set is left in the ring: a retired key is zeroed now, not at the next packet.
    idle: () => apply(Number.POSITIVE_INFINITY),
    each: slot => {
      const g = slot.readUInt32LE(L.gen)
      if (g !== gen) {
        if (!held.some(k => k.gen >= g)) readControl()
        apply(g)
        if (g !== gen) throw new Error(`unwrap worker: a packet of key set ${g}, which was never posted`)
      }
      const r = s.unwrap(slot.subarray(0, P), { keys, maxDelayMs })
      if (r.type === 'forward') r.packet.copy(slot, 0)
      else if (r.type === 'deliver') r.payload.copy(slot, 0)
      else if (r.type === 'surb_reply') r.body.copy(slot, 0)
      writeResult(slot, L, r, r.type === 'drop' ? 0 : epochs[r.keyIndex]!)
    }
  })
}

/**
 * One-hop packets to a neighbour whose final command names the all-zero recipient: the neighbour
 * unwraps them like any packet and discards them as cover.
 */
function cover(s: Sphinx, rng: Rng, m: Cover): void {
  const P = s.geometry.packetBytes
  const out = Buffer.alloc(m.count * P)
  const hop = {
    id: Buffer.from(m.neighborId, 'hex'),
    publicKey: Buffer.from(m.neighborKey, 'hex'),
    commands: [
      { type: 'node_delay' as const, delayMs: 0 },
      { type: 'recipient' as const, id: ZERO32 }
    ]
  }
  for (let i = 0; i < m.count; i++) s.createPacket([hop], rng.bytes(s.geometry.userPayloadBytes), rng).copy(out, i * P)
  port!.postMessage({ type: 'cover', id: m.id, out: out.buffer }, [out.buffer])
}

/**
 * Padding schemes compared by padding.bench.ts, as length functions: the length of the padded
 * inner (docs/PROTOCOL.md §12) for an unpadded inner of `raw` bytes. Every scheme pads the same way
 * (0x80, then zeros, at least one byte), so only the length differs, and the inner is sealed and
 * fragmented by the real code. Today's buckets are the protocol's own (BUCKETS from mix/), not a copy.
 *
 * Two of them are aligned to the Sphinx payload: a padded inner of PACKET_ALIGNED(k) bytes makes a
 * SubmitRequest that fills k packets exactly, for a destination ("@user:server/DEVICE") of up to
 * ALIGN_DEST_BYTES bytes. The envelope layer cannot know the destination's length (it is outside
 * the envelope), so it reserves room for one.
 */
import { BUCKETS, messageBytesPerPacket, NETWORK_GEOMETRY, V1_OVERHEAD } from '../../mix/index.ts'

/** SubmitRequest bytes one packet carries with its SURB attached (docs/PROTOCOL.md §16): 1402. */
export const PACKET_MESSAGE_BYTES = messageBytesPerPacket(NETWORK_GEOMETRY, true)
/** A SubmitRequest without its envelope: version, kind, lp16(dest), lp16(auth of scheme 1, 73 B). */
export const SUBMIT_HEADER_BYTES = 1 + 1 + 2 + 2 + 1 + 4 + 4 + 64
/** The destination length the packet-aligned schemes leave room for. */
export const ALIGN_DEST_BYTES = 64
const ALIGN_RESERVE = V1_OVERHEAD + SUBMIT_HEADER_BYTES + ALIGN_DEST_BYTES

/**
 * Padmé (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files and Communication with
 * PURBs", PETS 2019, Algorithm 1), exactly: E = ⌊log2 L⌋, S = ⌊log2 E⌋ + 1, lastBits = E − S,
 * bitMask = 2^lastBits − 1, padded = (L + bitMask) & ~bitMask. Defined for L ≥ 2 (at L = 1,
 * E = 0 has no logarithm). Integer arithmetic only: Math.log2 of a float can round across a power of two.
 */
export function padme(L: number): number {
  if (!Number.isSafeInteger(L) || L < 2) throw new RangeError(`Padmé is defined for whole lengths >= 2 (got ${L})`)
  const E = floorLog2(L)
  const S = floorLog2(E) + 1
  const step = 2 ** (E - S)
  // (L + bitMask) & ~bitMask, without JavaScript's 32-bit bitwise operators.
  return Math.floor((L + step - 1) / step) * step
}

/** ⌊log2 n⌋ for a whole n ≥ 1, exact up to 2^53 (Math.clz32 takes 32 bits at a time). */
export function floorLog2(n: number): number {
  return n < 2 ** 32 ? 31 - Math.clz32(n) : 32 + floorLog2(Math.floor(n / 2 ** 32))
}

function bucket(raw: number): number {
  const b = BUCKETS.find(n => n > raw)
  if (b === undefined) throw new RangeError(`an inner of ${raw} bytes fits no bucket`)
  return b
}

/** The padded inner that fills `k` packets exactly (for a destination of ALIGN_DEST_BYTES). */
export function packetAligned(k: number): number {
  return k * PACKET_MESSAGE_BYTES - ALIGN_RESERVE
}

/** The fewest packets whose aligned inner holds `raw` bytes and the 0x80 marker. */
function packetsFor(raw: number): number {
  return Math.max(1, Math.ceil((raw + 1 + ALIGN_RESERVE) / PACKET_MESSAGE_BYTES))
}

export interface Scheme {
  readonly id: string
  /** The row label of docs/BENCHMARKS.md. */
  readonly label: string
  /** Padded inner length for an unpadded inner of `raw` bytes; `raw` itself for the unpadded reference. */
  readonly length: (raw: number) => number
}

export const UNPADDED: Scheme = { id: 'unpadded', label: '(d) unpadded (reference)', length: raw => raw }
export const BUCKETS_TODAY: Scheme = {
  id: 'buckets',
  label: '(a) buckets 256 B-64 KiB (today)',
  length: raw => bucket(raw)
}

export const SCHEMES: readonly Scheme[] = [
  UNPADDED,
  BUCKETS_TODAY,
  { id: 'padme-inner', label: '(b) Padmé of the inner', length: raw => padme(raw + 1) },
  // The envelope is the inner plus a fixed 97 bytes, so this pads the sealed size to a Padmé length.
  {
    id: 'padme-sealed',
    label: '(b′) Padmé of the sealed envelope',
    length: raw => padme(raw + 1 + V1_OVERHEAD) - V1_OVERHEAD
  },
  {
    id: 'pow2',
    label: '(c1) powers of two from 256 B',
    length: raw => {
      let n = 256
      while (n <= raw) n *= 2
      return n
    }
  },
  { id: 'packets', label: '(c2) whole packets', length: raw => packetAligned(packetsFor(raw)) },
  {
    id: 'padme-packets',
    label: '(c3) Padmé of whole packets',
    length: raw => {
      const k = packetsFor(raw)
      return packetAligned(k < 2 ? k : padme(k))
    }
  }
]

/** The padded inner: raw ‖ 0x80 ‖ zeros up to `length` (the unpadded reference is raw itself). */
export function padTo(raw: Uint8Array, length: number): Buffer {
  if (length === raw.length) return Buffer.from(raw)
  if (length <= raw.length) throw new RangeError(`cannot pad ${raw.length} bytes to ${length}`)
  const out = Buffer.alloc(length)
  out.set(raw)
  out[raw.length] = 0x80
  return out
}

/** The largest (padded − L) / L over the given lengths: Padmé promises at most 0.12. */
export function maxOverhead(f: (L: number) => number, lengths: Iterable<number>): { overhead: number; at: number } {
  let worst = { overhead: 0, at: 0 }
  for (const L of lengths) {
    const o = (f(L) - L) / L
    if (o > worst.overhead) worst = { overhead: o, at: L }
  }
  return worst
}

/**
 * Sealed sender for rooms: one room batch (envelope v2, a key wrap per member device) against the
 * one-device envelope v1, for rooms of 2, 10, 50 and 200 member devices (the sender's among them).
 * The message is a chat message of 200 bytes of content (content type 8, as the SDK sends it) with
 * a real SenderCert and its ServerCert embedded, as `SealmixClient.send` and `sendToRoom` seal it.
 *
 * Timed, each beside the same message sealed or opened as envelope v1 in the same run
 * (interleaved rounds, median of each, runPair):
 * - seal: sealRoomMessage for n devices (floor: sealMessage to one device); per device = seal / n,
 *   which over the v1 floor is also the batch's CPU over n separate v1 envelopes;
 * - open: openRoomMessage for one member (parse, find its wrap, open, every verification step)
 *   (floor: openMessage of the v1 envelope);
 * - the cost of a wrap: (seal(200) - seal(50)) / 150, from the same run, and a wrap's primitive
 *   calls alone (2 X25519 + 3 BLAKE2b on preallocated buffers) beside a v1 seal;
 * - the v1 seal and open on their own rows: each the median of the run's four floors.
 * Counted (exact, the same in every run):
 * - the batch's bytes, the encoded SubmitRequest's bytes (room send key, scheme 2) and the Sphinx
 *   packets it takes (fragmentMessage at fragmentBytes(G, true), as the SDK queues it), each with
 *   floor = n separate v1 envelopes (n x the v1 figure), so ratio < 1 is what one batch saves;
 * - the largest batch: MAX_ROOM_DEVICES devices with this message, and with an inner padded to 16 KiB.
 */

import {
  deterministicRng,
  encodeSubmit,
  FRAGMENT_HEADER_BYTES,
  fragmentBytes,
  fragmentMessage,
  KIND_ROOM,
  KIND_TO_DEVICE_V1,
  loadCrypto,
  MAX_ROOM_BATCH,
  MAX_ROOM_DEVICES,
  NETWORK_GEOMETRY,
  type OutgoingMessage,
  openMessage,
  openRoomMessage,
  parseRoomBatch,
  type Rng,
  sealMessage,
  sealRoomMessage,
  signDelivery
} from '../../mix/index.ts'
import { makeDevice, makeServer, senderCert, T0, trustOf, xKeyPair } from '../helpers/seal.ts'
import { type BenchResult, median, runPair } from './harness.ts'

const SIZES = [2, 10, 50, 200] as const
const CONTENT_BYTES = 200
const ROOM_ID = '!WfGnKqLzPbRtYhVcXs:example.org'
const FRAGMENT = fragmentBytes(NETWORK_GEOMETRY, true)

/** harness.ts's unit list names only times and rates; these results are sizes. */
function sizeUnit(u: 'bytes' | 'packets'): BenchResult['unit'] {
  return u as string as BenchResult['unit']
}

function packets(rng: Rng, request: Uint8Array): number {
  return fragmentMessage(request, rng.bytes(16), FRAGMENT).length
}

function sized(name: string, unit: 'bytes' | 'packets', value: number, floor: number, note: string): BenchResult {
  return {
    name,
    unit: sizeUnit(unit),
    value,
    floor,
    ratio: Math.round((value / floor) * 1000) / 1000,
    note
  }
}

export async function benchRooms(): Promise<BenchResult[]> {
  const c = await loadCrypto('sodium-native')
  const rng = deterministicRng(c, 'rooms-bench')
  const server = makeServer(c, rng, 'example.org')
  const alice = makeDevice(c, rng, '@alice:example.org', 'ALICEDEVIC')
  const bob = makeDevice(c, rng, '@bob:example.org', 'BOBDEVICE1')
  const trust = trustOf([server])
  const verify = { nowMs: T0, self: { userId: bob.userId, deviceId: bob.deviceId } }
  const message: OutgoingMessage = {
    contentType: 8,
    content: rng.bytes(CONTENT_BYTES),
    senderCert: senderCert(c, server, alice),
    serverCert: server.cert
  }
  const capability = c.signSeedKeypair(rng.bytes(32))
  const roomKey = c.signSeedKeypair(rng.bytes(32))

  // The baseline: the same message as one v1 envelope to Bob's device, and its SubmitRequest.
  const v1 = sealMessage(c, message, alice.x, bob.x.publicKey, rng)
  const v1Open = openMessage(c, v1, bob.x, trust, verify)
  if (!v1Open.ok) throw new Error(`rooms bench: the v1 envelope does not open (${v1Open.code})`)
  const v1Dest = `${bob.userId}/${bob.deviceId}`
  const v1Request = encodeSubmit({
    kind: KIND_TO_DEVICE_V1,
    dest: v1Dest,
    envelope: v1,
    auth: signDelivery(c, capability.secretKey, 1, v1Dest, T0, v1)
  })
  const v1Packets = packets(rng, v1Request)
  const roomRequest = (batch: Buffer): Buffer =>
    encodeSubmit({
      kind: KIND_ROOM,
      dest: ROOM_ID,
      envelope: batch,
      auth: signDelivery(c, roomKey.secretKey, 1, ROOM_ID, T0, batch, 'group')
    })

  const what = `${CONTENT_BYTES} B of content, SenderCert + embedded ServerCert`
  const head: BenchResult[] = [
    sized('rooms/v1: envelope bytes', 'bytes', v1.length, v1.length, `one device, ${what}`),
    sized('rooms/v1: SubmitRequest bytes', 'bytes', v1Request.length, v1Request.length, 'kind 1, capability auth'),
    sized('rooms/v1: Sphinx packets', 'packets', v1Packets, v1Packets, `fragments of ${FRAGMENT} B (with a SURB)`)
  ]
  const out: BenchResult[] = []
  const sealUs = new Map<number, { room: number; v1: number }>()
  const v1Seals: number[] = []
  const v1Opens: number[] = []

  for (const n of SIZES) {
    // The sender's device, the recipient who opens, and n - 2 other member devices.
    const devices: Uint8Array[] = [alice.x.publicKey, bob.x.publicKey]
    while (devices.length < n) devices.push(xKeyPair(c, rng).publicKey)
    const batch = sealRoomMessage(c, ROOM_ID, message, alice.x, devices, rng)
    const opened = openRoomMessage(c, ROOM_ID, batch, bob.x, trust, verify)
    if (!opened.ok) throw new Error(`rooms bench: the batch for ${n} devices does not open (${opened.code})`)
    if (!parseRoomBatch(batch).ok || batch.length > MAX_ROOM_BATCH)
      throw new Error(`rooms bench: the batch for ${n} devices is not a valid room batch`)

    const seal = runPair({
      name: `rooms/seal: ${n} devices`,
      op: () => {
        sealRoomMessage(c, ROOM_ID, message, alice.x, devices, rng)
      },
      floor: () => {
        sealMessage(c, message, alice.x, bob.x.publicKey, rng)
      },
      note: 'sealRoomMessage for n devices; floor = sealMessage (v1) of the same message to one device'
    })
    sealUs.set(n, { room: seal.value, v1: seal.floor! })
    v1Seals.push(seal.floor!)
    out.push(seal, {
      name: `rooms/seal per device: ${n} devices`,
      unit: 'us/op',
      value: Math.round((seal.value / n) * 100) / 100,
      floor: seal.floor!,
      ratio: Math.round((seal.value / n / seal.floor!) * 1000) / 1000,
      note: 'seal / n; floor = one v1 seal, so the ratio is also the batch over n separate v1 seals'
    })
    const open = runPair({
      name: `rooms/open: ${n} devices`,
      op: () => {
        openRoomMessage(c, ROOM_ID, batch, bob.x, trust, verify)
      },
      floor: () => {
        openMessage(c, v1, bob.x, trust, verify)
      },
      note: 'openRoomMessage for one member (parse, find the wrap, open, verify); floor = openMessage (v1)'
    })
    v1Opens.push(open.floor!)
    out.push(open)

    const request = roomRequest(batch)
    const p = packets(rng, request)
    out.push(
      sized(`rooms/batch bytes: ${n} devices`, 'bytes', batch.length, n * v1.length, 'floor = n v1 envelopes'),
      sized(
        `rooms/SubmitRequest bytes: ${n} devices`,
        'bytes',
        request.length,
        n * v1Request.length,
        'kind 2, room send key (scheme 2); floor = n v1 SubmitRequests'
      ),
      sized(
        `rooms/SubmitRequest bytes per device: ${n} devices`,
        'bytes',
        Math.round((request.length / n) * 100) / 100,
        v1Request.length,
        'floor = one v1 SubmitRequest'
      ),
      sized(`rooms/Sphinx packets: ${n} devices`, 'packets', p, n * v1Packets, 'floor = n v1 envelopes, one send each')
    )
  }

  // The cost of one more wrap, from the same run's medians.
  const s50 = sealUs.get(50)!
  const s200 = sealUs.get(200)!
  const wrap = (s200.room - s50.room) / 150
  out.push({
    name: 'rooms/seal per added device (50 to 200)',
    unit: 'us/op',
    value: Math.round(wrap * 100) / 100,
    floor: s200.v1,
    ratio: Math.round((wrap / s200.v1) * 1000) / 1000,
    note: '(seal(200) - seal(50)) / 150; floor = one v1 seal (of the 200-device pair)'
  })

  // What a wrap must cost: its primitive calls on preallocated buffers (2 X25519, the BLAKE2b of
  // C_i, of AT_i and of the label, over inputs of their sizes).
  const dh = Buffer.alloc(32)
  const h32 = Buffer.alloc(32)
  const h16 = Buffer.alloc(16)
  const eSk = rng.bytes(32)
  const cIn = rng.bytes(10 + 3 * 32)
  const atIn = rng.bytes(17 + 5 * 32)
  const labelIn = rng.bytes(13 + 2 * 32)
  out.push(
    runPair({
      name: "rooms/one wrap's primitive calls",
      op: () => {
        c.x25519(dh, eSk, bob.x.publicKey)
        c.blake2b(h32, cIn)
        c.x25519(dh, alice.x.secretKey, bob.x.publicKey)
        c.blake2b(h16, atIn)
        c.blake2b(h16, labelIn)
      },
      floor: () => {
        sealMessage(c, message, alice.x, bob.x.publicKey, rng)
      },
      note: '2 X25519 + 3 BLAKE2b on preallocated buffers; floor = one v1 seal'
    })
  )

  // The largest batches: every allowed device, with this message and with an inner padded to 16 KiB.
  const all: Uint8Array[] = [alice.x.publicKey, bob.x.publicKey]
  while (all.length < MAX_ROOM_DEVICES) all.push(xKeyPair(c, rng).publicKey)
  const innerOverhead = 1 + 1 + 2 + message.senderCert.encoded.length + 2 + server.cert.encoded.length + 2
  const fill = 16383 - innerOverhead - Buffer.byteLength(ROOM_ID) - 4
  for (const [label, content] of [
    [`${CONTENT_BYTES} B message`, message.content],
    ['inner padded to 16 KiB', rng.bytes(fill)]
  ] as const) {
    const batch = sealRoomMessage(c, ROOM_ID, { ...message, content }, alice.x, all, rng)
    if (batch.length > MAX_ROOM_BATCH || !parseRoomBatch(batch).ok)
      throw new Error(`rooms bench: the largest batch (${label}) is not a valid room batch (${batch.length} bytes)`)
    const request = roomRequest(batch)
    const limits = `MAX_ROOM_DEVICES = ${MAX_ROOM_DEVICES}, MAX_ROOM_BATCH = ${MAX_ROOM_BATCH} B`
    out.push(
      sized(
        `rooms/largest batch bytes: ${MAX_ROOM_DEVICES} devices, ${label}`,
        'bytes',
        batch.length,
        MAX_ROOM_DEVICES * v1.length,
        `${limits}; SubmitRequest ${request.length} B; floor = n v1 envelopes`
      ),
      sized(
        `rooms/largest batch packets: ${MAX_ROOM_DEVICES} devices, ${label}`,
        'packets',
        packets(rng, request),
        MAX_ROOM_DEVICES * v1Packets,
        `${FRAGMENT - FRAGMENT_HEADER_BYTES} message bytes a packet; floor = n v1 envelopes`
      )
    )
  }
  const mid = (xs: number[]): number => Math.round(median(xs) * 100) / 100
  head.push(
    {
      name: 'rooms/v1: seal',
      unit: 'us/op',
      value: mid(v1Seals),
      note: `sealMessage to one device, ${what}; the median of the ${v1Seals.length} seal floors of this run`
    },
    {
      name: 'rooms/v1: open',
      unit: 'us/op',
      value: mid(v1Opens),
      note: `openMessage with every verification step; the median of the ${v1Opens.length} open floors of this run`
    }
  )
  return [...head, ...out]
}

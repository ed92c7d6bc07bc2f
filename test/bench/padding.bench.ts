/**
 * Padding: what each padding scheme costs on the wire and what size information it leaves, over a
 * chat message-size distribution (docs/BENCHMARKS.md "Padding"; run.ts `padding`).
 *
 * A message is what `SealmixClient.send` makes of a text (client/sdk.ts): content type 8, a real
 * SenderCert for @alice:example.org/ALICEDEVIC and its ServerCert embedded, sealed to one device
 * (envelope v1), put in a SubmitRequest with a capability signature for @bob:example.org/BOBDEVICE1
 * and fragmented at fragmentBytes(G, true), one Sphinx packet of 2,556 bytes a fragment. Today's
 * buckets go through sealMessage itself; every other scheme pads the unpadded inner (encodeInner
 * without its bucket padding) to its own length and seals it with sealV1. Nothing is a formula:
 * packets are fragmentMessage's count, bytes are the lengths of what sealV1 and encodeSubmit return.
 * Sizes depend only on lengths, so each distinct length is sealed once and its sizes reused.
 *
 * The distribution (characters a message, 20,000 draws, fixed seed): ProcessOne's measurement of
 * 474,562 XMPP chat messages (median 18, mean 40.4, standard deviation 255.3, at most 35,079
 * characters), which they fit with Log-N(2.83, 1.15). That fit alone has a mean of 32.8 and a
 * deviation of 54, so 1% of the draws are pastes from a second log-normal whose parameters make
 * the mixture's mean and deviation the measured ones. Three variants test the choice against what
 * that leaves out: UTF-8 at 2 bytes a character (Cyrillic: ProcessOne count characters, not bytes),
 * 400 more bytes on every message (an end-to-end layer such as an Olm message and its event JSON,
 * assumed, not measured), and a heavier mixture (median 40, 5% pastes of median 1,000).
 */
import { writeFileSync } from 'node:fs'
import {
  type CryptoSuite,
  deterministicRng,
  encodeInner,
  encodeSubmit,
  fragmentBytes,
  fragmentMessage,
  NETWORK_GEOMETRY as G,
  KIND_TO_DEVICE_V1,
  loadCrypto,
  type OutgoingMessage,
  type Rng,
  sealMessage,
  sealV1,
  signDelivery,
  unpadBucket
} from '../../mix/index.ts'
import { type Device, makeDevice, makeServer, senderCert, T0 } from '../helpers/seal.ts'
import type { BenchResult } from './harness.ts'
import { BUCKETS_TODAY, PACKET_MESSAGE_BYTES, padTo, SCHEMES, type Scheme, UNPADDED } from './padding-schemes.ts'

export const SAMPLES = 20_000

/** ProcessOne, "Message Archiving Benchmark: How Many Letters Are in Messages?" (process-one.net blog). */
export const PROCESSONE = { messages: 474_562, median: 18, mean: 40.4, sd: 255.3, max: 35_079, mu: 2.83, sigma: 1.15 }

interface LogNormal {
  readonly mu: number
  readonly sigma: number
}

/**
 * The paste component: Log-N(mu, sigma) such that (1 − p)·body + p·paste has the given mean and
 * standard deviation (moments of a log-normal: E[X] = e^(mu + sigma²/2), E[X²] = e^(2mu + 2sigma²)).
 */
export function pasteFit(p: number, body: LogNormal, mean: number, sd: number): LogNormal {
  const m1 = Math.exp(body.mu + body.sigma ** 2 / 2)
  const e2 = Math.exp(2 * body.mu + 2 * body.sigma ** 2)
  const m = (mean - (1 - p) * m1) / p
  const v = (sd ** 2 + mean ** 2 - (1 - p) * e2) / p - m ** 2
  const s2 = Math.log(1 + v / m ** 2)
  return { mu: Math.log(m) - s2 / 2, sigma: Math.sqrt(s2) }
}

const BODY: LogNormal = { mu: PROCESSONE.mu, sigma: PROCESSONE.sigma }
const PASTE_SHARE = 0.01
export const PASTE = pasteFit(PASTE_SHARE, BODY, PROCESSONE.mean, PROCESSONE.sd)

export interface Variant {
  readonly id: string
  readonly label: string
  readonly seed: string
  readonly body: LogNormal
  readonly paste: LogNormal
  readonly pasteShare: number
  readonly maxChars: number
  /** Content bytes of a message of `chars` characters. */
  readonly bytes: (chars: number) => number
}

export const VARIANTS: readonly Variant[] = [
  {
    id: 'chat',
    label: 'ProcessOne fit, 1% pastes, 1 byte a character',
    seed: 'padding-bench/processone',
    body: BODY,
    paste: PASTE,
    pasteShare: PASTE_SHARE,
    maxChars: PROCESSONE.max,
    bytes: n => n
  },
  {
    id: 'chat-2-bytes',
    label: 'the same draws, 2 bytes a character',
    seed: 'padding-bench/processone',
    body: BODY,
    paste: PASTE,
    pasteShare: PASTE_SHARE,
    maxChars: PROCESSONE.max,
    bytes: n => 2 * n
  },
  {
    id: 'chat-e2e-400',
    label: 'the same draws, 400 more bytes each',
    seed: 'padding-bench/processone',
    body: BODY,
    paste: PASTE,
    pasteShare: PASTE_SHARE,
    maxChars: PROCESSONE.max,
    bytes: n => n + 400
  },
  {
    id: 'heavy',
    label: 'median 40 (sigma 1), 5% pastes of median 1,000 (sigma 1)',
    seed: 'padding-bench/heavy',
    body: { mu: Math.log(40), sigma: 1 },
    paste: { mu: Math.log(1000), sigma: 1 },
    pasteShare: 0.05,
    maxChars: PROCESSONE.max,
    bytes: n => n
  }
]

/** Uniform in (0, 1) from 48 random bits, and standard normals by Box–Muller, from a seeded Rng. */
function sampler(rng: Rng): { uniform: () => number; normal: () => number } {
  const uniform = (): number => (rng.bytes(6).readUIntBE(0, 6) + 0.5) / 2 ** 48
  const normal = (): number => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform())
  return { uniform, normal }
}

/** Characters of SAMPLES messages, reproducible from the variant's seed. */
export function drawChars(c: CryptoSuite, v: Variant, n = SAMPLES): number[] {
  const { uniform, normal } = sampler(deterministicRng(c, v.seed))
  return Array.from({ length: n }, () => {
    const d = uniform() < v.pasteShare ? v.paste : v.body
    return Math.min(v.maxChars, Math.max(1, Math.round(Math.exp(d.mu + d.sigma * normal()))))
  })
}

export interface Measured {
  /** The inner before padding. */
  readonly rawBytes: number
  readonly paddedBytes: number
  readonly envelopeBytes: number
  readonly requestBytes: number
  readonly packets: number
  /** packets × the Sphinx packet size. */
  readonly wireBytes: number
}

/** Seals, submits and fragments messages as the SDK does; one per distinct length, remembered. */
export class Measurer {
  readonly #c: CryptoSuite
  readonly #rng: Rng
  readonly #alice: Device
  readonly #bob: Device
  readonly #message: Omit<OutgoingMessage, 'content'>
  readonly #capability: { publicKey: Uint8Array; secretKey: Uint8Array }
  readonly #bySdk = new Map<number, Measured>()
  readonly #byLength = new Map<number, Omit<Measured, 'rawBytes' | 'paddedBytes'>>()
  readonly #rawBytes = new Map<number, number>()
  readonly dest: string
  /** The largest content today's buckets take (the inner must stay below 65,536 bytes). */
  readonly maxContent: number

  constructor(c: CryptoSuite) {
    this.#c = c
    this.#rng = deterministicRng(c, 'padding-bench/keys')
    const server = makeServer(c, this.#rng, 'example.org')
    this.#alice = makeDevice(c, this.#rng, '@alice:example.org', 'ALICEDEVIC')
    this.#bob = makeDevice(c, this.#rng, '@bob:example.org', 'BOBDEVICE1')
    this.#message = { contentType: 8, senderCert: senderCert(c, server, this.#alice), serverCert: server.cert }
    this.#capability = c.signSeedKeypair(this.#rng.bytes(32))
    this.dest = `${this.#bob.userId}/${this.#bob.deviceId}`
    this.maxContent = 65_535 - this.raw(0).length
  }

  /** The inner before padding: encodeInner's bytes less its bucket padding. */
  raw(contentBytes: number): Buffer {
    const inner = encodeInner({
      contentType: this.#message.contentType,
      contentHint: 0,
      senderCert: this.#message.senderCert.encoded,
      serverCert: this.#message.serverCert!.encoded,
      groupId: Buffer.alloc(0),
      content: Buffer.alloc(contentBytes, 0x61)
    })
    return unpadBucket(inner)!
  }

  /** What SealmixClient.send and its outbox make of `envelope`: the SubmitRequest and its fragments. */
  submit(envelope: Buffer): { request: Buffer; fragments: Buffer[] } {
    const request = encodeSubmit({
      kind: KIND_TO_DEVICE_V1,
      dest: this.dest,
      envelope,
      auth: signDelivery(this.#c, this.#capability.secretKey, 1, this.dest, T0, envelope)
    })
    return { request, fragments: fragmentMessage(request, this.#rng.bytes(16), fragmentBytes(G, true)) }
  }

  #sized(envelope: Buffer): Omit<Measured, 'rawBytes' | 'paddedBytes'> {
    const { request, fragments } = this.submit(envelope)
    return {
      envelopeBytes: envelope.length,
      requestBytes: request.length,
      packets: fragments.length,
      wireBytes: fragments.length * G.packetBytes
    }
  }

  /** Today's buckets: the envelope of sealMessage, as the SDK seals it. */
  sdkEnvelope(contentBytes: number): Buffer {
    const m: OutgoingMessage = { ...this.#message, content: Buffer.alloc(contentBytes, 0x61) }
    return sealMessage(this.#c, m, this.#alice.x, this.#bob.x.publicKey, this.#rng)
  }

  /** Any other scheme: the raw inner padded to the scheme's length, sealed with sealV1. */
  schemeEnvelope(scheme: Scheme, contentBytes: number): Buffer {
    const raw = this.raw(contentBytes)
    return sealV1(this.#c, padTo(raw, scheme.length(raw.length)), this.#alice.x, this.#bob.x.publicKey, this.#rng)
  }

  measure(scheme: Scheme, contentBytes: number): Measured {
    let rawBytes = this.#rawBytes.get(contentBytes)
    if (rawBytes === undefined) {
      rawBytes = this.raw(contentBytes).length
      this.#rawBytes.set(contentBytes, rawBytes)
    }
    if (scheme === BUCKETS_TODAY) {
      let m = this.#bySdk.get(contentBytes)
      if (m === undefined) {
        const envelope = this.sdkEnvelope(contentBytes)
        m = { rawBytes, paddedBytes: BUCKETS_TODAY.length(rawBytes), ...this.#sized(envelope) }
        this.#bySdk.set(contentBytes, m)
      }
      return m
    }
    const paddedBytes = scheme.length(rawBytes)
    let s = this.#byLength.get(paddedBytes)
    if (s === undefined) {
      s = this.#sized(this.schemeEnvelope(scheme, contentBytes))
      this.#byLength.set(paddedBytes, s)
    }
    return { rawBytes, paddedBytes, ...s }
  }
}

/** Shannon entropy (bits) of the empirical distribution of `xs`, and how many distinct values. */
export function entropy(xs: readonly number[]): { bits: number; distinct: number } {
  const counts = new Map<number, number>()
  for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1)
  let bits = 0
  for (const n of counts.values()) bits -= (n / xs.length) * Math.log2(n / xs.length)
  // One size only: -0, which would print as such.
  return { bits: Math.abs(bits), distinct: counts.size }
}

export interface SchemeRow {
  readonly scheme: string
  readonly label: string
  readonly meanPackets: number
  /** meanPackets over the unpadded reference's: the issue's target is at most 1.2. */
  readonly packetRatio: number
  /** The largest packets / unpadded packets of any one message. */
  readonly worstPacketRatio: number
  /** The share of messages that take more packets than unpadded. */
  readonly morePackets: number
  readonly meanWireBytes: number
  readonly meanEnvelopeBytes: number
  readonly envelopeRatio: number
  /** What the network and the ingress count: packets a message. */
  readonly wire: { bits: number; distinct: number }
  /** What the ingress and the recipient (and its homeserver) see: envelope bytes. */
  readonly envelope: { bits: number; distinct: number }
}

export interface VariantResult {
  readonly variant: string
  readonly label: string
  readonly samples: number
  readonly content: { mean: number; median: number; p99: number; max: number; clamped: number }
  readonly rows: SchemeRow[]
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
const r3 = (x: number): number => Math.round(x * 1000) / 1000
const r1 = (x: number): number => Math.round(x * 10) / 10
const r4 = (x: number): number => Math.round(x * 10_000) / 10_000

export function measureVariant(c: CryptoSuite, m: Measurer, v: Variant, n = SAMPLES): VariantResult {
  const wanted = drawChars(c, v, n).map(v.bytes)
  const content = wanted.map(b => Math.min(b, m.maxContent))
  const sorted = [...content].sort((a, b) => a - b)
  const per = new Map(SCHEMES.map(s => [s.id, content.map(b => m.measure(s, b))]))
  const base = per.get(UNPADDED.id)!
  const basePackets = mean(base.map(x => x.packets))
  const baseEnvelope = mean(base.map(x => x.envelopeBytes))
  const rows = SCHEMES.map(s => {
    const ms = per.get(s.id)!
    const packets = ms.map(x => x.packets)
    const envelopes = ms.map(x => x.envelopeBytes)
    const e = entropy(envelopes)
    const w = entropy(packets)
    return {
      scheme: s.id,
      label: s.label,
      meanPackets: r3(mean(packets)),
      packetRatio: r3(mean(packets) / basePackets),
      worstPacketRatio: r3(Math.max(...ms.map((x, i) => x.packets / base[i]!.packets))),
      morePackets: Math.round((ms.filter((x, i) => x.packets > base[i]!.packets).length / n) * 10_000) / 10_000,
      meanWireBytes: Math.round(mean(ms.map(x => x.wireBytes))),
      meanEnvelopeBytes: Math.round(mean(envelopes)),
      envelopeRatio: r3(mean(envelopes) / baseEnvelope),
      wire: { bits: r3(w.bits), distinct: w.distinct },
      envelope: { bits: r3(e.bits), distinct: e.distinct }
    }
  })
  return {
    variant: v.id,
    label: v.label,
    samples: n,
    content: {
      mean: r1(mean(content)),
      median: sorted[Math.floor(n / 2)]!,
      p99: sorted[Math.floor(n * 0.99)]!,
      max: sorted[n - 1]!,
      clamped: wanted.filter(b => b > m.maxContent).length
    },
    rows
  }
}

/** harness.ts's unit list names only times and rates; these results are counts. */
function unit(u: 'packets' | 'bytes' | 'bits'): BenchResult['unit'] {
  return u as string as BenchResult['unit']
}

/** Every variant's rows as run.ts results: the primary variant in full, the others by packets and bits. */
export function resultsOf(all: readonly VariantResult[]): BenchResult[] {
  const out: BenchResult[] = []
  for (const v of all) {
    const base = v.rows.find(r => r.scheme === UNPADDED.id)!
    const full = v.variant === VARIANTS[0]!.id
    out.push({
      name: `padding/${v.variant}: content bytes a message`,
      unit: unit('bytes'),
      value: v.content.mean,
      note: `${v.label}; ${v.samples} draws: median ${v.content.median}, p99 ${v.content.p99}, max ${v.content.max}; ${v.content.clamped} above the 64 KiB bucket, sent at its limit`
    })
    for (const r of v.rows) {
      const at = `padding/${v.variant}/${r.scheme}`
      out.push({
        name: `${at}: packets a message`,
        unit: unit('packets'),
        value: r.meanPackets,
        floor: base.meanPackets,
        ratio: r.packetRatio,
        note: `${r.label}; floor = unpadded; ${r3(r.morePackets * 100)}% of messages take more packets than unpadded, the worst ${r.worstPacketRatio}x`
      })
      out.push({
        name: `${at}: envelope bits`,
        unit: unit('bits'),
        value: r.envelope.bits,
        note: `Shannon entropy of the envelope size at the ingress and recipient; ${r.envelope.distinct} distinct sizes`
      })
      if (!full) continue
      out.push(
        {
          name: `${at}: wire bits`,
          unit: unit('bits'),
          value: r.wire.bits,
          note: `Shannon entropy of the packet count; ${r.wire.distinct} distinct counts`
        },
        {
          name: `${at}: wire bytes a message`,
          unit: unit('bytes'),
          value: r.meanWireBytes,
          floor: base.meanWireBytes,
          ratio: r3(r.meanWireBytes / base.meanWireBytes),
          note: `packets x ${G.packetBytes} B; floor = unpadded`
        },
        {
          name: `${at}: envelope bytes a message`,
          unit: unit('bytes'),
          value: r.meanEnvelopeBytes,
          floor: base.meanEnvelopeBytes,
          ratio: r.envelopeRatio,
          note: 'floor = unpadded'
        }
      )
    }
  }
  return out
}

/** Single messages, content bytes: the median draw, a tweet's length, around the 1 KiB bucket, the issue's 4,096, 10 KB. */
export const SINGLES = [17, 280, 700, 1000, 4096, 10_000] as const

export interface SingleResult {
  readonly contentBytes: number
  readonly rows: ReadonlyArray<{ scheme: string; envelopeBytes: number; packets: number }>
}

export function measureSingles(m: Measurer): SingleResult[] {
  return SINGLES.map(n => ({
    contentBytes: n,
    rows: SCHEMES.map(s => {
      const x = m.measure(s, n)
      return { scheme: s.id, envelopeBytes: x.envelopeBytes, packets: x.packets }
    })
  }))
}

function singleResults(all: readonly SingleResult[]): BenchResult[] {
  return all.flatMap(one => {
    const base = one.rows.find(r => r.scheme === UNPADDED.id)!
    return one.rows.map(r => ({
      name: `padding/message of ${one.contentBytes} B/${r.scheme}: packets`,
      unit: unit('packets'),
      value: r.packets,
      floor: base.packets,
      ratio: r3(r.packets / base.packets),
      note: `envelope ${r.envelopeBytes} B (unpadded ${base.envelopeBytes} B); floor = unpadded`
    }))
  })
}

export interface PaddingResults {
  /** The fixed part of every message: the inner without content, the envelope's and the SubmitRequest's overhead. */
  readonly message: { dest: string; innerWithoutContent: number; envelopeOverhead: number; requestOverhead: number }
  readonly variants: VariantResult[]
  readonly singles: SingleResult[]
}

let cached: PaddingResults | undefined

/** All variants and the single messages; computed once a process (the figures are exact, so every run gives the same). */
export async function computePadding(): Promise<PaddingResults> {
  if (cached === undefined) {
    const c = await loadCrypto('sodium-native')
    const m = new Measurer(c)
    const empty = m.measure(UNPADDED, 0)
    cached = {
      message: {
        dest: m.dest,
        innerWithoutContent: empty.rawBytes,
        envelopeOverhead: empty.envelopeBytes - empty.rawBytes,
        requestOverhead: empty.requestBytes - empty.envelopeBytes
      },
      variants: VARIANTS.map(v => measureVariant(c, m, v)),
      singles: measureSingles(m)
    }
  }
  return cached
}

export async function benchPadding(): Promise<BenchResult[]> {
  const r = await computePadding()
  return [...resultsOf(r.variants), ...singleResults(r.singles)]
}

const n0 = (x: number): string => Math.round(x).toLocaleString('en-US')
const f3 = (x: number): string => x.toFixed(3)
const pct = (x: number): string => `${(x * 100).toFixed(2)}%`

/**
 * The tables of docs/BENCHMARKS.md "Padding", line for line (test/mix/padding.test.ts requires the
 * doc to hold each of them verbatim, so the doc cannot drift from the code).
 */
export function markdownTables(r: PaddingResults): string[] {
  const primary = r.variants[0]
  const main = [
    '| scheme | packets a message | / unpadded | messages with more packets | worst message | wire bytes a message | envelope bytes a message | / unpadded | bits on the wire (counts) | bits at ingress and recipient (sizes) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...primary!.rows.map(
      x =>
        `| ${x.label} | ${f3(x.meanPackets)} | ${f3(x.packetRatio)} | ${pct(x.morePackets)} | ${x.worstPacketRatio}x | ${n0(x.meanWireBytes)} | ${n0(x.meanEnvelopeBytes)} | ${f3(x.envelopeRatio)} | ${f3(x.wire.bits)} (${x.wire.distinct}) | ${f3(x.envelope.bits)} (${x.envelope.distinct}) |`
    )
  ]
  const variants = [
    `| scheme | ${r.variants.map(v => v.variant).join(' | ')} |`,
    `| --- |${r.variants.map(() => ' --- |').join('')}`,
    ...primary!.rows.map(
      (x, i) =>
        `| ${x.label} | ${r.variants.map(v => `${f3(v.rows[i]!.packetRatio)} (${f3(v.rows[i]!.envelope.bits)})`).join(' | ')} |`
    )
  ]
  const singles = [
    `| content | ${primary!.rows.map(x => x.scheme).join(' | ')} |`,
    `| --- |${primary!.rows.map(() => ' --- |').join('')}`,
    ...r.singles.map(
      s => `| ${n0(s.contentBytes)} B | ${s.rows.map(x => `${n0(x.envelopeBytes)} B, ${x.packets}`).join(' | ')} |`
    )
  ]
  return [main.join('\n'), variants.join('\n'), singles.join('\n')]
}

/** The results file: what was measured, how, and every figure (docs/results/<date>/padding.json). */
export async function resultsFile(): Promise<object> {
  const r = await computePadding()
  return {
    benchmark: 'padding',
    command: 'npm run bench:padding -- --json FILE',
    what: 'mean Sphinx packets, bytes and size entropy a message, by padding scheme, over a chat message-size distribution',
    geometry: { packetBytes: G.packetBytes, requestBytesPerPacket: PACKET_MESSAGE_BYTES },
    message: { contentType: 8, sender: '@alice:example.org/ALICEDEVIC', serverCert: 'embedded', ...r.message },
    distribution: {
      source: 'ProcessOne, "Message Archiving Benchmark: How Many Letters Are in Messages?" (process-one.net blog)',
      measured: PROCESSONE,
      body: BODY,
      paste: { mu: r4(PASTE.mu), sigma: r4(PASTE.sigma) },
      pasteShare: PASTE_SHARE,
      samples: SAMPLES,
      seed: VARIANTS[0]!.seed
    },
    variants: r.variants,
    singles: r.singles
  }
}

// `npm run bench:padding [-- --json FILE]`: prints the doc's tables, and writes the results file.
// (run.ts imports this module for `npm run bench -- padding` and prints its own table.)
if (process.argv[1]?.endsWith('padding.bench.ts') === true) {
  for (const t of markdownTables(await computePadding())) console.log(`${t}\n`)
  const at = process.argv.indexOf('--json')
  if (at > 0) {
    const file = process.argv[at + 1]
    if (file === undefined) throw new Error('--json needs a file name')
    writeFileSync(file, JSON.stringify(await resultsFile(), null, 2) + '\n')
    console.log(`wrote ${file}`)
  }
}

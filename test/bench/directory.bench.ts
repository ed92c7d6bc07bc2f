/**
 * The cost of building one epoch's document for 10, 100 and 1,000 admitted relays, as an
 * authority builds it (descriptors verified once, on arrival: the build checks only each one's
 * keys for the epoch), beside the floor of a build that re-verifies every signature (what
 * buildEpochDocument does for unverified input), interleaved in the same run. The ratio is the
 * verified-on-arrival build's time over the re-verifying one's: below 1 is the saving.
 */
import {
  buildEpochDocument,
  deterministicRng,
  loadCrypto,
  type MixingParams,
  NETWORK_GEOMETRY,
  relayId,
  type SignedDescriptor,
  signDescriptor
} from '../../mix/index.ts'
import { type BenchResult, runPair } from './harness.ts'

const MIXING: MixingParams = {
  strategy: 'batch',
  intervalMs: 100,
  minPool: 8,
  flushFraction: 0.7,
  minBatch: 4,
  maxDelayMs: 5000,
  loopRatePerSec: 0.5
}
const SCHEDULE = { genesisMs: 0, epochMs: 3_600_000 }

export async function benchDirectory(): Promise<BenchResult[]> {
  const c = await loadCrypto('sodium-native')
  const out: BenchResult[] = []
  for (const n of [10, 100, 1000]) {
    const rng = deterministicRng(c, `directory-bench-${n}`)
    const descriptors: SignedDescriptor[] = []
    for (let i = 0; i < n; i++) {
      const k = c.signSeedKeypair(rng.bytes(32))
      const layer = i % 4
      descriptors.push(
        signDescriptor(
          c,
          {
            version: 1,
            id: relayId(c, k.publicKey),
            role: layer === 0 ? 'gateway' : 'mix',
            layer,
            address: `ws://r${i}.example:9000`,
            identityKey: Buffer.from(k.publicKey).toString('hex'),
            mixKeys: [5, 6, 7, 8].map(e => ({ epoch: e, key: rng.bytes(32).toString('hex') }))
          },
          k.secretKey
        )
      )
    }
    const input = {
      network: 'bench',
      epoch: 5,
      schedule: SCHEDULE,
      graceMs: 300_000,
      geometry: NETWORK_GEOMETRY,
      mixing: MIXING,
      ingresses: [],
      descriptors
    }
    out.push(
      runPair(
        {
          name: `directory: build the document of ${n} admitted relays`,
          op: () => {
            buildEpochDocument(c, { ...input, verified: true })
          },
          floor: () => {
            buildEpochDocument(c, input)
          },
          note: 'floor: the same build re-verifying every signature (before); ratio < 1 is the saving'
        },
        { rounds: n >= 1000 ? 5 : 9, batchMs: 200 }
      )
    )
  }
  return out
}

/**
 * What tests of directory authorities share: `sealmix init --role authority` run from the bundle
 * (asserted to succeed), and the mixing parameters of an in-process test authority.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import type { MixingParams } from '../../mix/index.ts'
import { SEALMIX } from './bundle.ts'
import { PROJECT } from './testnet.ts'

/** A fast batch mix: 100 ms rounds, small pools; loops at one every two seconds. */
export const TEST_MIXING: MixingParams = {
  strategy: 'batch',
  intervalMs: 100,
  minPool: 8,
  flushFraction: 0.7,
  minBatch: 4,
  maxDelayMs: 5000,
  loopRatePerSec: 0.5
}

/**
 * Write an authority's config to `out` (its data in `<dir>/authority`), listening on 127.0.0.1:port,
 * for the network `network` starting now; `extra` are more init options (`--epoch 10s`, ...).
 */
export function initAuthority(o: { dir: string; port: number; network: string; out: string; extra?: string[] }): void {
  const r = spawnSync(
    process.execPath,
    [
      ...SEALMIX,
      'init',
      '--role',
      'authority',
      '--data-dir',
      join(o.dir, 'authority'),
      '--listen',
      `127.0.0.1:${o.port}`,
      '--network-name',
      o.network,
      '--genesis-ms',
      String(Date.now()),
      ...(o.extra ?? []),
      '--out',
      o.out
    ],
    { cwd: PROJECT, encoding: 'utf8' }
  )
  assert.equal(r.status, 0, r.stderr)
}

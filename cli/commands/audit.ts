/** `sealmix audit`: the anonymity audit against real relays, with its positive controls; `--only` judges one configuration. */
import { writeFileSync } from 'node:fs'
import { loadCrypto } from '../../daemon/index.ts'
import { auditOne, auditSvg, runAudit } from '../../tools/index.ts'
import { type Flags, flag, optional, usage } from '../args.ts'

export async function auditCommand(flags: Flags): Promise<number> {
  const c = await loadCrypto()
  const json = optional(flags, 'json')
  const svg = optional(flags, 'svg')
  const only = optional(flags, 'only')
  const print = (line: string): void => console.log(line)
  if (only !== undefined) {
    if (only !== 'batch' && only !== 'off' && only !== 'fifo') throw usage('--only must be batch, off or fifo')
    if (svg !== undefined) throw usage('--svg needs the full audit (without --only)')
    const k = await auditOne(c, only, { quick: flag(flags, 'quick'), print })
    if (json !== undefined)
      writeFileSync(json, JSON.stringify({ ranAt: new Date().toISOString(), ...k }, null, 1) + '\n')
    console.log(
      k.verdict.pass
        ? `${only}: keeps the promise of an anonymity set of ${k.verdict.k}`
        : `${only}: FAILS the promise of an anonymity set of ${k.verdict.k}`
    )
    return k.verdict.pass ? 0 : 1
  }
  const r = await runAudit(c, { quick: flag(flags, 'quick'), print })
  if (json !== undefined) writeFileSync(json, JSON.stringify({ ranAt: new Date().toISOString(), ...r }, null, 1) + '\n')
  if (svg !== undefined) writeFileSync(svg, auditSvg(r))
  const h = r.headline
  console.log(
    `headline: default best adversary ${(h.defaultBestSuccess * 100).toFixed(1)}% (promise <= ${(h.defaultSuccessBound * 100).toFixed(1)}%, k = ${h.promisedSet}), entropy ${h.defaultEntropyBits.toFixed(2)} bits (promise >= ${h.entropyBound.toFixed(2)}); controls at ${h.noMixingOverPromise.toFixed(1)}x (no mixing) and ${h.fifoOverPromise.toFixed(1)}x (FIFO) the promise${r.valid ? '' : ' (INVALID)'}`
  )
  return !r.valid ? 65 : r.pass ? 0 : 1
}

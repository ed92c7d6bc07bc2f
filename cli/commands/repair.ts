/**
 * `sealmix repair --config FILE [--json]`: on a stopped relay whose start was refused with
 * RELAY_STORE_CORRUPT (its database lost committed writes, or is missing though the relay has run),
 * say what is lost and make it safe to run again (daemon/relay/repair.ts). On a running relay it
 * exits 75 (data directory in use).
 */
import { loadConfig, loadCrypto, repairStore } from '../../daemon/index.ts'
import { type Flags, flag, one } from '../args.ts'

export const REPAIR_HELP =
  "usage: sealmix repair --config FILE [--json]\n\nFor a stopped relay that refused to start with RELAY_STORE_CORRUPT: its database holds fewer\nmixing rounds or replay tags than it committed (a truncated or damaged LevelDB log), or db/ is\nmissing though keys/store.state says the relay has run. Nothing lost comes back. Repair names the\nepochs whose replay protection is incomplete and records their mix keys as refused: the relay\nrefuses every packet for them (a packet it forwarded before must never be forwarded again), and\nsays what to do when that key is a static network file's. Then it rebuilds the counts, and the\nrelay starts. On a running relay it exits 75 (data directory in use)."

export async function repairCommand(flags: Flags): Promise<number> {
  const c = await loadCrypto()
  const r = await repairStore(c, loadConfig(one(flags, 'config')))
  if (flag(flags, 'json')) console.log(JSON.stringify(r))
  else for (const l of r.lines) console.log(l)
  return 0
}

/** `sealmix keygen`: make a relay's keys (static network) and print its descriptor. */

import { ensureKeys, loadCrypto, loadKeys, publicKeys, type RelayDescriptor } from '../../daemon/index.ts'
import { type Flags, one, optional, usage } from '../args.ts'

export async function keygenCommand(flags: Flags): Promise<number> {
  const c = await loadCrypto()
  const dir = one(flags, 'data-dir')
  const role = one(flags, 'role')
  if (role !== 'gateway' && role !== 'mix') throw usage('--role must be gateway or mix')
  // A gateway is always layer 0; a mix must say which of 1..3.
  const layer = Number(role === 'gateway' ? (optional(flags, 'layer') ?? 0) : one(flags, 'layer'))
  if (!Number.isInteger(layer) || layer < 0 || layer > 3 || (role === 'gateway') !== (layer === 0))
    throw usage('--layer must be 0 for a gateway and 1..3 for a mix')
  const address = one(flags, 'address')
  ensureKeys(c, dir)
  const d: RelayDescriptor = { ...publicKeys(loadKeys(c, dir)), role, layer, address }
  console.log(JSON.stringify(d))
  return 0
}

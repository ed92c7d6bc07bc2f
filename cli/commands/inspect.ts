/** `sealmix inspect`: what a stopped relay's spool and mailboxes hold, without opening them for writing. */

import { inspectStore, loadConfig } from '../../daemon/index.ts'
import { type Flags, flag, one } from '../args.ts'

export async function inspectCommand(flags: Flags): Promise<number> {
  const r = await inspectStore(loadConfig(one(flags, 'config')), Date.now())
  if (flag(flags, 'json')) {
    console.log(JSON.stringify(r))
    return 0
  }
  for (const [name, q] of Object.entries(r))
    console.log(
      `${name.padEnd(8)} ${q.packets} packets, ${q.bytes} bytes, ${q.destinations} ${name === 'spool' ? 'ingresses' : 'mailboxes'}, oldest ${q.oldestAgeSeconds} s`
    )
  return 0
}

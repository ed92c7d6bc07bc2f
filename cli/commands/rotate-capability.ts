/** `sealmix rotate-capability`: a new capability key for a client profile (`--now`: a block, no grace). */
import { loadCrypto } from '../../daemon/index.ts'
import { rotateCapability } from '../../tools/index.ts'
import { type Flags, flag, one } from '../args.ts'
import { outFile } from '../files.ts'

export async function rotateCapabilityCommand(flags: Flags): Promise<number> {
  await rotateCapability(await loadCrypto(), {
    profile: one(flags, 'profile'),
    contactOut: outFile(flags, 'contact-out'),
    now: flag(flags, 'now'),
    print: line => {
      console.log(line)
    }
  })
  return 0
}

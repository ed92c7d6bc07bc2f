/** `sealmix version` (and `sealmix --version`): the version and the commit it was built from. */
import type { Flags } from '../args.ts'
import { versionLine } from '../version.ts'

export async function versionCommand(_flags: Flags): Promise<number> {
  console.log(versionLine())
  return 0
}

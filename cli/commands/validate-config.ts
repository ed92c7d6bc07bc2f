/** `sealmix validate-config`: load a relay, ingress or authority config as its program would, and say ok or why not. */

import { accessSync, constants } from 'node:fs'
import { loadAdmission, loadAuthorityConfig, loadConfig, loadIngressConfig, RelayError } from '../../daemon/index.ts'
import { type Flags, one, usage } from '../args.ts'
import { configProgram } from '../config-role.ts'

export async function validateConfigCommand(flags: Flags): Promise<number> {
  const path = one(flags, 'config')
  const role = configProgram(flags, path)
  if (role !== 'relay' && role !== 'ingress' && role !== 'authority')
    throw usage(`--role must be ingress or authority, or left out for a relay config (got ${role})`)
  if (role === 'ingress') loadIngressConfig(path)
  else if (role === 'authority') loadAdmission(loadAuthorityConfig(path).admissionFile)
  else {
    const c = loadConfig(path)
    // The relay reads its network file at start: one it cannot read is refused now, not then.
    if (c.network !== undefined) {
      try {
        accessSync(c.network.file, constants.R_OK)
      } catch (e) {
        throw RelayError.NETWORK_INVALID('unreadable', `${(e as NodeJS.ErrnoException).code}: ${c.network.file}`)
      }
    }
  }
  console.log('ok')
  return 0
}

/** `sealmix validate-config`: load a relay, ingress or authority config as its program would, and say ok or why not. */

import { loadAdmission, loadAuthorityConfig, loadConfig, loadIngressConfig } from '../../daemon/index.ts'
import { type Flags, one, optional, usage } from '../args.ts'

export async function validateConfigCommand(flags: Flags): Promise<number> {
  const role = optional(flags, 'role')
  if (role !== undefined && role !== 'ingress' && role !== 'authority')
    throw usage(`--role must be ingress or authority, or left out for a relay config (got ${role})`)
  if (role === 'ingress') loadIngressConfig(one(flags, 'config'))
  else if (role === 'authority') loadAdmission(loadAuthorityConfig(one(flags, 'config')).admissionFile)
  else loadConfig(one(flags, 'config'))
  console.log('ok')
  return 0
}

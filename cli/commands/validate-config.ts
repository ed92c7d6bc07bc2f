/** `sealmix validate-config`: load a relay, ingress or authority config as its program would, and say ok or why not. */

import { accessSync, constants } from 'node:fs'
import {
  IngressError,
  loadAdmission,
  loadAuthorityConfig,
  loadConfig,
  loadIngressConfig,
  RelayError
} from '../../daemon/index.ts'
import { type Flags, one, usage } from '../args.ts'
import { configProgram } from '../config-role.ts'

export async function validateConfigCommand(flags: Flags): Promise<number> {
  const path = one(flags, 'config')
  const role = configProgram(flags, path)
  if (role !== 'relay' && role !== 'ingress' && role !== 'authority')
    throw usage(`--role must be ingress or authority, or left out for a relay config (got ${role})`)
  // A static network file is read at start: one that cannot be read is refused now, not then.
  const readable = (file: string | undefined, refuse: (code: string) => Error): void => {
    if (file === undefined) return
    try {
      accessSync(file, constants.R_OK)
    } catch (e) {
      throw refuse((e as NodeJS.ErrnoException).code ?? 'error')
    }
  }
  if (role === 'ingress') {
    const file = loadIngressConfig(path).network?.file
    readable(file, code => new IngressError('INGRESS_NETWORK_INVALID', `cannot read the network file ${file}: ${code}`))
  } else if (role === 'authority') loadAdmission(loadAuthorityConfig(path).admissionFile)
  else {
    const file = loadConfig(path).network?.file
    readable(file, code => RelayError.NETWORK_INVALID('unreadable', `${code}: ${file}`))
  }
  console.log('ok')
  return 0
}

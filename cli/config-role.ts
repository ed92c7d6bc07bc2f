/** Which program a config file is for: what --role says, else what the file's own `role` says. */
import { readConfigFile } from '../daemon/index.ts'
import { type Flags, optional } from './args.ts'

export type ConfigProgram = 'relay' | 'ingress' | 'authority'

/**
 * --role when given (the caller checks it against what it takes); else `ingress` or `authority`
 * when the file says so (those configs carry their role), else `relay` (gateway and mix configs).
 * A file that cannot be read is `relay`: the relay's loader then says why.
 */
export function configProgram(flags: Flags, path: string): string {
  const role = optional(flags, 'role')
  if (role !== undefined) return role
  // Without the environment: a bad SEALMIX_* value is reported by the program's own loader.
  const file = readConfigFile(path, {})
  const said = file.kind === 'parsed' ? (file.value as { role?: unknown } | null)?.role : undefined
  return said === 'ingress' || said === 'authority' ? said : 'relay'
}

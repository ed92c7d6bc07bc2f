/**
 * The command table: each command's options (cli/options.ts) and the one file that runs it. A
 * command that is declared without a file here, or the other way round, does not compile.
 */
import type { Flags } from '../args.ts'
import type { CommandName } from '../options.ts'
import { auditCommand } from './audit.ts'
import { authorityCommand } from './authority.ts'
import { deployInitCommand } from './deploy-init.ts'
import { devnetCommand } from './devnet.ts'
import { ingressCommand } from './ingress.ts'
import { initCommand } from './init.ts'
import { inspectCommand } from './inspect.ts'
import { keygenCommand } from './keygen.ts'
import { keysCommand } from './keys.ts'
import { listenCommand } from './listen.ts'
import { migrateCommand } from './migrate.ts'
import { networkCommand } from './network.ts'
import { repairCommand } from './repair.ts'
import { roomDemoCommand } from './room-demo.ts'
import { rotateCapabilityCommand } from './rotate-capability.ts'
import { runCommand } from './run.ts'
import { sendCommand } from './send.ts'
import { signerKeygenCommand } from './signer-keygen.ts'
import { standinHomeserverCommand } from './standin-homeserver.ts'
import { validateConfigCommand } from './validate-config.ts'
import { versionCommand } from './version.ts'

/** Runs a command; the exit status, or -1 for a program that keeps running until a signal. */
export type Command = (flags: Flags) => Promise<number>

export const COMMANDS: Readonly<Record<CommandName, Command>> = {
  run: runCommand,
  authority: authorityCommand,
  ingress: ingressCommand,
  send: sendCommand,
  listen: listenCommand,
  'rotate-capability': rotateCapabilityCommand,
  'room-demo': roomDemoCommand,
  devnet: devnetCommand,
  init: initCommand,
  keygen: keygenCommand,
  'signer-keygen': signerKeygenCommand,
  network: networkCommand,
  inspect: inspectCommand,
  repair: repairCommand,
  keys: keysCommand,
  migrate: migrateCommand,
  'validate-config': validateConfigCommand,
  'standin-homeserver': standinHomeserverCommand,
  'deploy-init': deployInitCommand,
  audit: auditCommand,
  version: versionCommand
}

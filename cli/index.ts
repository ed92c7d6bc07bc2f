#!/usr/bin/env node
/**
 * sealmix: parses arguments and dispatches to the command table (cli/commands/). The only reader
 * of process.argv and the only place that turns an error into an exit status; errors print as one
 * line, and the statuses are documented in `sealmix --help` and docs/OPERATIONS.md.
 */
import { CLIENT_EXIT_STATUS, ClientError } from '../client/index.ts'
import {
  DATA_EXIT_STATUS,
  DataError,
  EXIT_STATUS,
  INGRESS_EXIT_STATUS,
  IngressError,
  RelayError
} from '../daemon/index.ts'
import { flag, parseCommand, Usage, usage } from './args.ts'
import { BadInput } from './bad-input.ts'
import { COMMANDS } from './commands/index.ts'
import { HELP } from './help.ts'
import { COMMAND_OPTIONS, type CommandName, TAKES_POSITIONALS } from './options.ts'
import { watchParent } from './parent.ts'
import { installHangup } from './reload.ts'
import { watchStdout } from './stdout.ts'

const EXIT = { OK: 0, USAGE: 64, DATA: 65, SOFTWARE: 70 } as const

const isCommand = (name: string): name is CommandName => Object.hasOwn(COMMAND_OPTIONS, name)

async function main(argv: string[]): Promise<number> {
  const [first, ...args] = argv
  if (first === undefined || first === '--help' || first === '-h') {
    console.log(HELP[''])
    return EXIT.OK
  }
  if (first === 'help') {
    const topic = args[0] ?? ''
    if (args.length > 1 || !(topic in HELP)) throw usage(`unknown command '${args.join(' ')}'`, '')
    console.log(HELP[topic])
    return EXIT.OK
  }
  // Options belong to a command; before one there is only --help and --version.
  if (first.startsWith('-') && first !== '--version')
    throw usage(`unknown option '${first}'; options come after the command`, '')
  const cmd = first === '--version' ? 'version' : first
  if (!isCommand(cmd)) throw usage(`unknown command '${cmd}'`, '')
  try {
    const flags = parseCommand(cmd, COMMAND_OPTIONS[cmd], args, TAKES_POSITIONALS.has(cmd))
    if (flag(flags, 'help')) {
      console.log(HELP[cmd])
      return EXIT.OK
    }
    installHangup(cmd)
    watchParent()
    return await COMMANDS[cmd](flags)
  } catch (e) {
    // Helpers throw without knowing the command; the error should point at that command's --help.
    if (e instanceof Usage && e.command === undefined) e.command = cmd
    throw e
  }
}

/** The exit status of an error, and the line that says it. */
function failure(e: unknown): { status: number; line: string } {
  if (e instanceof Usage)
    return {
      status: EXIT.USAGE,
      line: `${e.message} (see sealmix${e.command === undefined || e.command === '' ? '' : ` ${e.command}`} --help)`
    }
  if (e instanceof RelayError) return { status: EXIT_STATUS[e.code], line: e.message }
  if (e instanceof DataError) return { status: DATA_EXIT_STATUS[e.code], line: e.message }
  if (e instanceof ClientError) return { status: CLIENT_EXIT_STATUS[e.code], line: e.message }
  if (e instanceof IngressError) return { status: INGRESS_EXIT_STATUS[e.code], line: e.message }
  if (e instanceof SyntaxError || e instanceof BadInput) return { status: EXIT.DATA, line: `bad input: ${e.message}` }
  return { status: EXIT.SOFTWARE, line: (e as Error).message }
}

watchStdout(() => process.exit(EXIT.OK))

main(process.argv.slice(2)).then(
  code => {
    if (code >= 0) process.exit(code)
  },
  (e: unknown) => {
    const f = failure(e)
    console.error(`sealmix: ${f.line}`)
    process.exit(f.status)
  }
)

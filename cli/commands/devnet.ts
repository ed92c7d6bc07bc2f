/** `sealmix devnet`: a whole network on loopback with demo traffic, until Ctrl-C. */

import { runDevnet, statusOutput } from '../../tools/index.ts'
import { durationMs, type Flags, optional, stopSignals } from '../args.ts'
import { whenStdoutCloses } from '../stdout.ts'

export async function devnetCommand(flags: Flags): Promise<number> {
  const out = statusOutput(process.stdout)
  // A closed pipe (`sealmix devnet | head`, or tee stopped by the same Ctrl-C) stops the devnet in order.
  const closed = new Promise<void>(resolve => {
    whenStdoutCloses(resolve)
  })
  const { stop, hurry } = stopSignals(closed)
  await runDevnet({
    dataDir: optional(flags, 'data-dir'),
    epochMs: durationMs(flags, 'epoch', 60_000),
    print: out.print,
    status: out.status,
    clearStatus: out.clear,
    stop,
    hurry
  })
  return 0
}

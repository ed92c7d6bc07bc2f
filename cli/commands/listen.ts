/** `sealmix listen`: collect, open and verify sealed messages for a client profile, until Ctrl-C. */
import { runListen } from '../../tools/index.ts'
import { durationMs, type Flags, flag, many, one, optional, untilSignal, usage } from '../args.ts'

export async function listenCommand(flags: Flags): Promise<number> {
  const everyMs = durationMs(flags, 'every')
  // Faster than this the demo is a flood that the mixing delays only queue up.
  if (everyMs !== undefined && everyMs < 100)
    throw usage(`--every must be at least 100ms (got ${optional(flags, 'every')!})`)
  await runListen({
    profile: one(flags, 'profile'),
    peers: many(flags, 'peer'),
    everyMs,
    state: optional(flags, 'state'),
    print: line => {
      console.log(line)
    },
    json: flag(flags, 'json'),
    stop: untilSignal().then(() => {})
  })
  return 0
}

/** `sealmix room-demo`: three members of one sealed room, in one process, until Ctrl-C. */
import { runRoomDemo } from '../../tools/index.ts'
import { durationMs, type Flags, flag, many, optional, untilSignal, usage } from '../args.ts'

export async function roomDemoCommand(flags: Flags): Promise<number> {
  const profiles = many(flags, 'profile')
  const contacts = many(flags, 'contact')
  if (profiles.length !== 3) throw usage(`--profile must be given three times (got ${profiles.length})`)
  if (contacts.length !== 3) throw usage(`--contact must be given three times (got ${contacts.length})`)
  const everyMs = durationMs(flags, 'every')
  // Faster than this the demo is a flood that the mixing delays only queue up.
  if (everyMs !== undefined && everyMs < 100)
    throw usage(`--every must be at least 100ms (got ${optional(flags, 'every')!})`)
  const blockAfter = optional(flags, 'block-after')
  if (blockAfter !== undefined && !/^[1-9]\d{0,5}$/.test(blockAfter))
    throw usage(`--block-after must be a whole number of messages, at least 1 (got ${blockAfter})`)
  await runRoomDemo({
    profiles,
    contacts,
    everyMs,
    blockAfter: blockAfter === undefined ? undefined : Number(blockAfter),
    print: line => {
      console.log(line)
    },
    json: flag(flags, 'json'),
    stop: untilSignal().then(() => {})
  })
  return 0
}

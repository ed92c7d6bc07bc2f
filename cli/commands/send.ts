/** `sealmix send`: one sealed message through the mixnet from a client profile, waiting for its ack. */
import { runSend } from '../../tools/index.ts'
import { durationMs, type Flags, flag, one, optional } from '../args.ts'

export async function sendCommand(flags: Flags): Promise<number> {
  return await runSend({
    profile: one(flags, 'profile'),
    to: one(flags, 'to'),
    message: one(flags, 'message'),
    timeoutMs: durationMs(flags, 'timeout'),
    state: optional(flags, 'state'),
    print: line => {
      console.log(line)
    },
    json: flag(flags, 'json')
  })
}

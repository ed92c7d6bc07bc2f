/** `sealmix standin-homeserver`: the fake Matrix homeserver the devnet uses, on its own (a fake: say so). */
import { readConfigFile } from '../../daemon/index.ts'
import { StandinHomeserver, type StandinOptions } from '../../tools/index.ts'
import { type Flags, one, optional, untilSignal } from '../args.ts'
import { BadInput } from '../bad-input.ts'

function readStandinConfig(path: string): StandinOptions {
  const file = readConfigFile(path)
  if (file.kind !== 'parsed') throw new BadInput(file.problem)
  return file.value as StandinOptions
}

export async function standinHomeserverCommand(flags: Flags): Promise<number> {
  const o = readStandinConfig(one(flags, 'config'))
  const hs = new StandinHomeserver({
    ...o,
    print: line => {
      console.log(line)
    }
  })
  const host = optional(flags, 'host') ?? '127.0.0.1'
  const port = await hs.listen(Number(one(flags, 'port')), host)
  console.log(
    `stand-in homeserver ${o.serverName} on http://${host}:${port} (a fake: whoami, sendToDevice, to-device sync)`
  )
  await untilSignal()
  await hs.close()
  return 0
}

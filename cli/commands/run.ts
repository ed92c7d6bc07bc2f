/** `sealmix run`: the relay, until SIGTERM or SIGINT; SIGHUP reloads what can change. */

import { loadConfig, Relay, startupLog } from '../../daemon/index.ts'
import { type Flags, one } from '../args.ts'
import { programLog } from '../log-flood.ts'
import { onHangup, reloadConfig } from '../reload.ts'

export async function runCommand(flags: Flags): Promise<number> {
  process.umask(0o077)
  const path = one(flags, 'config')
  const config = loadConfig(path)
  const log = await programLog(flags, config.log.level)
  startupLog(log, 'relay')
  const relay = new Relay({ config, logger: log })
  onHangup(() => reloadConfig(log, relay, () => loadConfig(path), 'relay'))
  let signals = 0
  const onSignal = (sig: string): void => {
    signals++
    if (signals > 1) process.exit(130)
    relay.log.info({ event: 'stopping', signal: sig }, 'stopping')
    relay.stop().then(
      () => process.exit(0),
      () => process.exit(70)
    )
  }
  process.on('SIGTERM', () => onSignal('SIGTERM'))
  process.on('SIGINT', () => onSignal('SIGINT'))
  await relay.start()
  return -1 // keep running
}

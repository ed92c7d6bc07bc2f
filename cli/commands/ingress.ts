/** `sealmix ingress`: the sealed ingress beside a homeserver, until SIGTERM or SIGINT; SIGHUP reloads what can change. */
import { createLogger, Ingress, loadIngressConfig } from '../../daemon/index.ts'
import { type Flags, one, untilSignal } from '../args.ts'
import { floodGuard } from '../log-flood.ts'
import { onHangup, reloadConfig } from '../reload.ts'

export async function ingressCommand(flags: Flags): Promise<number> {
  process.umask(0o077)
  const path = one(flags, 'config')
  const config = loadIngressConfig(path)
  const log = createLogger(config.log.level, floodGuard()).child({ role: 'ingress' })
  const ing = new Ingress({ config, logger: log })
  onHangup(() => reloadConfig(log, config, () => loadIngressConfig(path), 'ingress'))
  await ing.start()
  await untilSignal()
  await ing.stop()
  return 0
}

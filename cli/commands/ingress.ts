/** `sealmix ingress`: the sealed ingress beside a homeserver, until SIGTERM or SIGINT; SIGHUP reloads what can change. */
import { Ingress, loadIngressConfig, startupLog } from '../../daemon/index.ts'
import { type Flags, one, untilSignal } from '../args.ts'
import { programLog } from '../log-flood.ts'
import { onHangup, reloadConfig } from '../reload.ts'

export async function ingressCommand(flags: Flags): Promise<number> {
  process.umask(0o077)
  const path = one(flags, 'config')
  const config = loadIngressConfig(path)
  const log = (await programLog(flags, config.log.level)).child({ role: 'ingress' })
  startupLog(log, 'ingress')
  const ing = new Ingress({ config, logger: log })
  onHangup(() => reloadConfig(log, ing, () => loadIngressConfig(path), 'ingress'))
  await ing.start()
  await untilSignal()
  await ing.stop()
  return 0
}

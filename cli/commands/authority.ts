/** `sealmix authority` (run a directory authority), `sealmix authority admit` and `sealmix authority remove`. */
import {
  type AdmittedRelay,
  type AdmittedServer,
  Authority,
  admit,
  authorityOptions,
  loadAdmission,
  loadAuthorityConfig,
  loadCrypto,
  reconfigureAuthority,
  remove,
  saveAdmission,
  startOpsServer,
  startupLog
} from '../../daemon/index.ts'
import { type Flags, many, one, untilSignal, usage } from '../args.ts'
import { programLog } from '../log-flood.ts'
import { onHangup, reloadConfig } from '../reload.ts'

/** `--relay ROLE:LAYER:IDENTITY_HEX`, e.g. `mix:2:ab12…` or `gateway:0:…`. */
function relayArg(v: string): AdmittedRelay {
  const m = /^(gateway|mix):([0-3]):([0-9a-f]{64})$/.exec(v)
  if (m === null || (m[1] === 'gateway') !== (m[2] === '0'))
    throw usage(
      `--relay must be gateway:0:IDENTITY_HEX or mix:LAYER:IDENTITY_HEX with LAYER 1..3 (got ${v})`,
      'authority'
    )
  return { role: m[1] as 'gateway' | 'mix', layer: Number(m[2]), identityKey: m[3]! }
}

/** `--server NAME=ROOT_HEX[,ROOT_HEX]`: a homeserver and its server root keys (what its ServerCerts and ingress bindings are signed with). */
function serverArg(v: string): AdmittedServer {
  const m = /^([^=\s]{1,255})=([0-9a-f]{64}(?:,[0-9a-f]{64}){0,7})$/.exec(v)
  if (m === null)
    throw usage(
      `--server must be NAME=ROOT_HEX (the server root key; several separated by commas) (got ${v})`,
      'authority'
    )
  return { name: m[1]!, rootKeys: m[2]!.split(',') }
}

export async function authorityCommand(flags: Flags): Promise<number> {
  const c = await loadCrypto()
  const path = one(flags, 'config')
  const cfg = loadAuthorityConfig(path)
  const action = flags.positionals[0]
  if (flags.positionals.length > 1 || (action !== undefined && action !== 'admit' && action !== 'remove'))
    throw usage(`'authority' takes admit, remove or nothing (got '${flags.positionals.join(' ')}')`, 'authority')
  if (action === 'admit' || action === 'remove') {
    const before = loadAdmission(cfg.admissionFile)
    const keys = many(flags, 'identity-key').map(k => {
      if (!/^[0-9a-f]{64}$/.test(k)) throw usage(`--identity-key must be 64 hex digits (got ${k})`, 'authority')
      return k
    })
    if (action === 'remove') {
      // A key that matches nothing is a slip (a relay id pasted for its identity key, say) that would leave a relay listed.
      for (const k of keys)
        if (!before.relays.some(r => r.identityKey === k))
          throw usage(
            `no admitted relay has identity key ${k} (give the identityKey that init printed, not the relay id)`,
            'authority'
          )
      for (const n of many(flags, 'server'))
        if (!before.servers.some(x => x.name === n)) throw usage(`no admitted server is named ${n}`, 'authority')
    }
    const after =
      action === 'admit'
        ? admit(before, many(flags, 'relay').map(relayArg), many(flags, 'server').map(serverArg))
        : remove(before, keys, many(flags, 'server'))
    saveAdmission(cfg.admissionFile, after)
    // A running authority re-reads the file within a second; the next document it builds uses it.
    console.log(
      JSON.stringify({
        event: `authority_${action}`,
        relays: after.relays.length,
        servers: after.servers.length,
        file: cfg.admissionFile
      })
    )
    return 0
  }
  for (const f of ['relay', 'server', 'identity-key'])
    if (many(flags, f).length > 0) throw usage(`--${f} goes with 'authority admit' or 'authority remove'`, 'authority')
  const log = await programLog(flags, cfg.log.level)
  startupLog(log, 'authority')
  const a = new Authority(authorityOptions(c, cfg, log))
  let inForce = cfg
  const target = {
    get config() {
      return inForce
    },
    reconfigure: (next: typeof cfg) => {
      inForce = reconfigureAuthority(a, inForce, next)
      return inForce
    }
  }
  // The admission file is re-read on its own; SIGHUP checks it with the config.
  onHangup(() =>
    reloadConfig(
      log,
      target,
      () => {
        const next = loadAuthorityConfig(path)
        loadAdmission(next.admissionFile)
        return next
      },
      'authority'
    )
  )
  await a.start()
  const ops =
    cfg.metrics === undefined
      ? null
      : await startOpsServer({ host: cfg.metrics.host, port: cfg.metrics.port, metrics: a.metrics, ready: () => null })
  // The signer is a public key: operators copy it into the relays' and the peers' configs.
  log.info(
    { event: 'authority_started', signer: a.signer, port: a.port, metricsPort: ops?.port ?? null },
    `authority started on port ${a.port}`
  )
  const signal = await untilSignal()
  log.info({ event: 'stopping', signal }, 'stopping')
  await ops?.close()
  await a.stop()
  log.info({ event: 'stopped' }, 'authority stopped')
  return 0
}

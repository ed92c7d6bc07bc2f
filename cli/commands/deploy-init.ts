/**
 * `sealmix deploy-init --dir DIR`: every key, token, config and admission of a network that follows
 * three directory authorities, made on the operator's machine (tools/deploy-init.ts), for
 * deploy/compose.yaml, deploy/kubernetes/ and, with --loopback, processes on 127.0.0.1.
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { loadCrypto } from '../../daemon/index.ts'
import type { MixingParams } from '../../mix/index.ts'
import { finishDeployNetwork, initDeployRelays } from '../../tools/index.ts'
import { durationMs, type Flags, one, optional, usage } from '../args.ts'
import { warnIfRoot } from '../files.ts'

function whole(flags: Flags, name: string, min: number, max: number): number | undefined {
  const v = optional(flags, name)
  if (v === undefined) return undefined
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
    throw usage(`--${name} must be a whole number from ${min} to ${max} (got ${v})`)
  return Number(v)
}

/** `--mixing JSON`: the documents' mixing parameters (checked with the authority config). */
function mixingOf(text: string): Partial<MixingParams> {
  try {
    const v = JSON.parse(text) as unknown
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Partial<MixingParams>
  } catch {
    // Said below, without the parser's words.
  }
  throw usage(`--mixing must be a JSON object such as {"intervalMs":50} (got ${text})`)
}

export async function deployInitCommand(flags: Flags): Promise<number> {
  const c = await loadCrypto()
  const dir = resolve(one(flags, 'dir'))
  const loopback = whole(flags, 'loopback', 1024, 65_529)
  const mixing = optional(flags, 'mixing')
  const base = optional(flags, 'kubernetes') ?? 'deploy/kubernetes'
  const kubernetesBase = existsSync(join(base, 'kustomization.yaml')) ? resolve(base) : undefined
  if (optional(flags, 'kubernetes') !== undefined && kubernetesBase === undefined)
    throw usage(`--kubernetes must name deploy/kubernetes (a folder with kustomization.yaml) (got ${base})`)
  const o = {
    dir,
    serverName: optional(flags, 'server-name') ?? 'example.org',
    homeserverUrl: optional(flags, 'homeserver') ?? 'http://homeserver:8008',
    maxReplicas: whole(flags, 'max-replicas', 1, 16) ?? 3,
    networkName: optional(flags, 'network-name'),
    epochMs: durationMs(flags, 'epoch'),
    graceMs: durationMs(flags, 'grace'),
    genesisMs: whole(flags, 'genesis-ms', 0, 4_102_444_800_000),
    mixing: mixing === undefined ? undefined : mixingOf(mixing),
    loopback: loopback === undefined ? undefined : { basePort: loopback },
    kubernetesBase,
    nowMs: Date.now()
  }
  warnIfRoot('deploy-init')
  const made = initDeployRelays(c, o)
  finishDeployNetwork(c, o, made)
  const genesis = new Date(made.epoch.genesisMs).toISOString()
  console.log(
    `wrote keys, configs and admission under ${dir}: 3 authorities (epochs of ${made.epoch.epochMs / 1000} s from ${genesis}), ${made.relays.length} relay identities (${o.maxReplicas} per StatefulSet, all admitted) and an ingress for ${made.ingress.serverName}`
  )
  console.log(
    kubernetesBase === undefined
      ? 'no Kubernetes overlay (no deploy/kubernetes here; give --kubernetes PATH)'
      : `Kubernetes: sh ${join(dir, 'kubernetes-secrets.sh')}, then kubectl apply -k ${dir}`
  )
  return 0
}

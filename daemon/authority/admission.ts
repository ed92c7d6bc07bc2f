/**
 * Who may be listed: the relays (identity key, role, layer) and the homeservers (server names,
 * for their ingresses) that an authority's operator admitted. Kept in a YAML file beside the
 * authority's config, edited with `sealmix authority admit|remove`, and re-read by a running
 * authority when it changes. A descriptor from anyone else is refused before its signature is
 * even checked, and never stored.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { z } from 'zod'
import { type ConfigIssue, describeIssue, type RelayRole } from '../../mix/index.ts'
import { RelayError, writeFileAtomic } from '../io/index.ts'

const hex32 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters (a 32-byte key)')

const AdmittedRelaySchema = z
  .object({
    identityKey: hex32,
    role: z.enum(['gateway', 'mix']),
    layer: z.number().int().min(0).max(3)
  })
  .strict()
  .refine(r => (r.role === 'gateway') === (r.layer === 0), {
    message: 'a gateway is layer 0 and a mix layer 1, 2 or 3',
    path: ['layer']
  })

export const AdmissionSchema = z
  .object({
    version: z.literal(1).default(1),
    /** Relays that may be listed, each only with its role and layer. At most 10,000. */
    relays: z.array(AdmittedRelaySchema).max(10_000).default([]),
    /**
     * Homeservers whose ingresses may be listed, each with its server root keys: an ingress is
     * taken only with a binding signed by one of them. At most 10,000.
     */
    servers: z
      .array(z.object({ name: z.string().min(1).max(255), rootKeys: z.array(hex32).min(1).max(8) }).strict())
      .max(10_000)
      .default([])
  })
  .strict()

export interface AdmittedRelay {
  readonly identityKey: string
  readonly role: RelayRole
  readonly layer: number
}
export interface AdmittedServer {
  readonly name: string
  readonly rootKeys: readonly string[]
}
export interface Admission {
  readonly relays: readonly AdmittedRelay[]
  readonly servers: readonly AdmittedServer[]
}

export const NO_ADMISSION: Admission = { relays: [], servers: [] }

/** Read an admission file; a missing file admits nobody. A malformed one is a CONFIG_INVALID naming key, rule and value. */
export function loadAdmission(path: string): Admission {
  if (!existsSync(path)) return NO_ADMISSION
  let raw: unknown
  try {
    raw = parseYaml(readFileSync(path, 'utf8')) ?? {}
  } catch (e) {
    throw RelayError.CONFIG_UNREADABLE(
      path,
      (e as NodeJS.ErrnoException).code ?? (e as Error).message.split('\n')[0]!,
      e
    )
  }
  const r = AdmissionSchema.safeParse(raw)
  if (!r.success) {
    const d = describeIssue(raw, r.error.issues[0]! as ConfigIssue, new Set())
    throw RelayError.CONFIG_INVALID(`admission file: ${d.key}`, d.rule, d.value)
  }
  const seen = new Set<string>()
  for (const x of r.data.relays) {
    if (seen.has(x.identityKey))
      throw RelayError.CONFIG_INVALID('admission file: relays', 'each identity key at most once', x.identityKey)
    seen.add(x.identityKey)
  }
  for (const x of r.data.servers) {
    if (seen.has(x.name))
      throw RelayError.CONFIG_INVALID('admission file: servers', 'each server name at most once', x.name)
    seen.add(x.name)
  }
  return { relays: r.data.relays, servers: r.data.servers }
}

/** Write an admission file atomically (a temporary file renamed over it), so that a running authority never reads half of one. */
export function saveAdmission(path: string, a: Admission): void {
  writeFileAtomic(path, toYaml({ version: 1, relays: a.relays, servers: a.servers }), { mode: 0o600 })
}

/** `a` with `relays` and `servers` added; an identity or a server already admitted takes the new role and layer, or root keys. */
export function admit(a: Admission, relays: readonly AdmittedRelay[], servers: readonly AdmittedServer[]): Admission {
  const keys = new Set(relays.map(r => r.identityKey))
  const names = new Set(servers.map(x => x.name))
  return {
    relays: [...a.relays.filter(r => !keys.has(r.identityKey)), ...relays],
    servers: [...a.servers.filter(x => !names.has(x.name)), ...servers]
  }
}

/** `a` without the relays of `identityKeys` and the servers named. */
export function remove(a: Admission, identityKeys: readonly string[], servers: readonly string[]): Admission {
  return {
    relays: a.relays.filter(r => !identityKeys.includes(r.identityKey)),
    servers: a.servers.filter(x => !servers.includes(x.name))
  }
}

/** Lookups by identity key and server name. */
export class AdmissionIndex {
  readonly #relays: Map<string, AdmittedRelay>
  readonly #servers: Map<string, Uint8Array[]>
  constructor(readonly admission: Admission) {
    this.#relays = new Map(admission.relays.map(r => [r.identityKey, r]))
    this.#servers = new Map(admission.servers.map(x => [x.name, x.rootKeys.map(k => Buffer.from(k, 'hex'))]))
  }

  get relays(): number {
    return this.#relays.size
  }
  relay(identityKey: string): AdmittedRelay | undefined {
    return this.#relays.get(identityKey)
  }
  /** The root keys of an admitted server, or undefined. */
  server(name: string): readonly Uint8Array[] | undefined {
    return this.#servers.get(name)
  }
}

/**
 * An admission file followed by its inode, size and modification time: `changed()` re-reads it
 * when any of them moved. The time alone misses a second write within one tick of the kernel's
 * coarse clock; `saveAdmission` renames a new file over the old one, so its inode always changes.
 */
export class AdmissionFile {
  #stamp = ''
  constructor(readonly path: string) {}

  /** The admission if the file changed since the last call (or on the first), else null. Throws when the new file is invalid. */
  changed(): Admission | null {
    const st = existsSync(this.path) ? statSync(this.path) : null
    const stamp = st === null ? 'none' : `${st.ino}:${st.size}:${st.mtimeMs}`
    if (stamp === this.#stamp) return null
    // Taken as seen even when it is invalid: one error per edit, not one a second.
    this.#stamp = stamp
    return loadAdmission(this.path)
  }
}

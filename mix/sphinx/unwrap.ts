/**
 * Per-hop unwrap (docs/PROTOCOL.md §6). Never throws on untrusted input: every outcome is data,
 * and a drop carries a `reason` from mix/drop-reasons.ts (the metric label) plus a
 * finer `detail` for tests and debugging. Processing order is normative: length, AD, X25519,
 * KDF, MAC (constant time), replay, β decrypt, strict command parse, SPRP, blinding.
 */

import type { DropReason } from '../drop-reasons.ts'
import { type Command, parseBlock } from './commands.ts'
import type { SphinxContext } from './create.ts'
import { PAYLOAD_TAG_BYTES, PER_HOP_ROUTING_INFO_BYTES } from './geometry.ts'
import { blindingFactor, deriveHopKeys, type HopKeys } from './keys.ts'

/** The drop reasons (mix/drop-reasons.ts) that unwrap itself decides. */
export type UnwrapDropReason = Extract<DropReason, 'malformed' | 'mac' | 'replay'>

export type DropDetail =
  | 'bad_length'
  | 'bad_version'
  | 'low_order_point'
  | 'mac_mismatch'
  | 'replay'
  | 'unknown_command'
  | 'truncated_command'
  | 'nonzero_padding'
  | 'repeated_command'
  | 'illegal_combination'
  | 'delay_too_long'
  | 'payload_tag'

/** Replay state for one mix key, owned by the caller: true when the tag was already seen (and insert it if not). */
export interface ReplayCheck {
  seen(keyIndex: number, tag: Buffer): boolean
}

export interface UnwrapOptions {
  /** Mix private keys to try, current first (the previous epoch's key within its grace window second). */
  readonly keys: readonly Uint8Array[]
  readonly replay?: ReplayCheck
  /**
   * Apply the role rule of docs/PROTOCOL.md §4 (forward = next_node_hop + node_delay;
   * deliver = node_delay + recipient; SURB reply = recipient + surb_reply). Default true; the
   * third-party vectors use simpler sets and turn it off.
   */
  readonly strictCombinations?: boolean
  /** Largest node_delay accepted, in milliseconds. Default: no limit. */
  readonly maxDelayMs?: number
}

interface Common {
  /** SHA-512/256 of the shared secret: the replay tag. */
  readonly replayTag: Buffer
  /** Index into options.keys of the key that opened the packet. */
  readonly keyIndex: number
}

export type UnwrapResult =
  | (Common & { readonly type: 'forward'; readonly nextHop: Buffer; readonly delayMs: number; readonly packet: Buffer })
  | (Common & {
      readonly type: 'deliver'
      readonly recipient: Buffer
      readonly delayMs: number
      readonly payload: Buffer
    })
  | (Common & {
      readonly type: 'surb_reply'
      readonly recipient: Buffer
      readonly surbId: Buffer
      readonly body: Buffer
    })
  | { readonly type: 'drop'; readonly reason: UnwrapDropReason; readonly detail: DropDetail }

function drop(reason: UnwrapDropReason, detail: DropDetail): UnwrapResult {
  return { type: 'drop', reason, detail }
}

function wipe(k: HopKeys): void {
  k.headerMac.fill(0)
  k.headerKey.fill(0)
  k.payloadKey.fill(0)
  k.blindingSeed.fill(0)
}

/** What the header stage learned: enough to route the packet and to finish it with finishUnwrap. */
export interface PeeledHeader extends Common {
  readonly keys: HopKeys
  /** The decrypted β ‖ 0^82: this hop's block, then the next hop's routing info. */
  readonly routingInfo: Buffer
  readonly commands: readonly Command[]
  readonly next?: Extract<Command, { type: 'next_node_hop' }>
  readonly recipient?: Buffer
  readonly surbId?: Buffer
  readonly delayMs?: number
}

export type HeaderResult =
  | { readonly ok: true; readonly peeled: PeeledHeader }
  | { readonly ok: false; readonly drop: UnwrapResult }

/** Steps 1-8 (length, version, DH, KDF, MAC, replay, β decrypt, strict parse). Pure header work. */
export function peelHeader(ctx: SphinxContext, packet: Uint8Array, opts: UnwrapOptions): HeaderResult {
  const { crypto, geometry: g } = ctx
  const fail = (reason: UnwrapDropReason, detail: DropDetail): HeaderResult => ({
    ok: false,
    drop: drop(reason, detail)
  })
  // 1-2. Exact length, then the version bytes.
  if (!(packet instanceof Uint8Array) || packet.length !== g.packetBytes) return fail('malformed', 'bad_length')
  if (((packet[0] as number) | (packet[1] as number)) !== 0) return fail('malformed', 'bad_version')

  const alpha = packet.subarray(2, 34)
  const gamma = packet.subarray(g.macOffset, g.headerBytes)
  const authed = packet.subarray(0, g.macOffset)
  const ss = Buffer.allocUnsafe(32)
  let keys: HopKeys | null = null
  let keyIndex = -1
  // 3-5. DH, KDF and MAC with each live key; the first key whose MAC verifies wins.
  for (let i = 0; i < opts.keys.length; i++) {
    if (!crypto.x25519(ss, opts.keys[i] as Uint8Array, alpha)) return fail('malformed', 'low_order_point')
    const k = deriveHopKeys(crypto, ss)
    if (crypto.equal(crypto.hmacSha256(k.headerMac, authed), gamma)) {
      keys = k
      keyIndex = i
      break
    }
    wipe(k)
  }
  if (keys === null) {
    ss.fill(0)
    return fail('mac', 'mac_mismatch')
  }

  // 6. Replay: inserted once the MAC verified, so a packet dropped later still counts as seen.
  const replayTag = crypto.sha512_256(ss)
  ss.fill(0)
  if (opts.replay?.seen(keyIndex, replayTag) === true) {
    wipe(keys)
    return fail('replay', 'replay')
  }

  // 7. Decrypt β ‖ 0^82: this hop's block, then the next hop's β.
  const H = PER_HOP_ROUTING_INFO_BYTES
  const ri = Buffer.allocUnsafe(g.routingInfoBytes + H).fill(0) // pooled: fewer backing stores for the GC
  ri.set(packet.subarray(34, g.macOffset))
  crypto.aes256CtrXor(ri, ri, keys.headerKey, keys.headerIv)

  // 8. Strict command parse and role rule.
  const parsed = parseBlock(ri.subarray(0, H))
  if (!parsed.ok) {
    wipe(keys)
    return fail('malformed', parsed.detail)
  }
  let next: Extract<Command, { type: 'next_node_hop' }> | undefined
  let recipient: Buffer | undefined
  let surbId: Buffer | undefined
  let delayMs: number | undefined
  for (const c of parsed.commands) {
    if (c.type === 'next_node_hop') next = c
    else if (c.type === 'recipient') recipient = c.id as Buffer
    else if (c.type === 'surb_reply') surbId = c.id as Buffer
    else delayMs = c.delayMs
  }
  const strict = opts.strictCombinations !== false
  const n = parsed.commands.length
  const legal =
    next !== undefined
      ? strict
        ? delayMs !== undefined && n === 2
        : recipient === undefined && surbId === undefined
      : surbId !== undefined
        ? recipient !== undefined && (strict ? n === 2 : true)
        : recipient !== undefined && (strict ? delayMs !== undefined && n === 2 : true)
  if (!legal) {
    wipe(keys)
    return fail('malformed', 'illegal_combination')
  }
  if (delayMs !== undefined && opts.maxDelayMs !== undefined && delayMs > opts.maxDelayMs) {
    wipe(keys)
    return fail('malformed', 'delay_too_long')
  }
  return {
    ok: true,
    peeled: { keys, keyIndex, replayTag, routingInfo: ri, commands: parsed.commands, next, recipient, surbId, delayMs }
  }
}

/**
 * Write the next hop's header into out[0 : headerBytes]: AD ‖ X25519(b, α) ‖ next β ‖ γ_next.
 * Returns false only if blinding yields the all-zero point (impossible once the DH succeeded).
 */
export function writeNextHeader(ctx: SphinxContext, alpha: Uint8Array, peeled: PeeledHeader, out: Buffer): boolean {
  const g = ctx.geometry
  const b = blindingFactor(ctx.crypto, peeled.keys.blindingSeed)
  const ok = ctx.crypto.x25519(out.subarray(2, 34), b, alpha)
  b.fill(0)
  out[0] = 0
  out[1] = 0
  out.set(peeled.routingInfo.subarray(PER_HOP_ROUTING_INFO_BYTES), 34)
  out.set((peeled.next as Extract<Command, { type: 'next_node_hop' }>).mac, g.macOffset)
  return ok
}

export function unwrap(ctx: SphinxContext, packet: Uint8Array, opts: UnwrapOptions): UnwrapResult {
  const h = peelHeader(ctx, packet, opts)
  if (!h.ok) return h.drop
  const p = h.peeled
  const g = ctx.geometry
  const { replayTag, keyIndex } = p

  // 9. SPRP-decrypt the body.
  const out = Buffer.allocUnsafe(g.packetBytes)
  out.set(packet.subarray(g.headerBytes), g.headerBytes)
  const body = out.subarray(g.headerBytes)
  ctx.sprp.decrypt(p.keys.payloadKey, p.keys.headerIv, body)

  if (p.next !== undefined) {
    // 10. Forward: α' = X25519(b, α); header = AD ‖ α' ‖ next β ‖ γ_next.
    const ok = writeNextHeader(ctx, packet.subarray(2, 34), p, out)
    wipe(p.keys)
    if (!ok) return drop('malformed', 'low_order_point')
    return { type: 'forward', nextHop: p.next.id as Buffer, delayMs: p.delayMs ?? 0, packet: out, replayTag, keyIndex }
  }
  wipe(p.keys)
  if (p.surbId !== undefined) {
    // 11b. SURB reply: the whole body goes to the SURB's creator, who checks the tag.
    return {
      type: 'surb_reply',
      recipient: p.recipient as Buffer,
      surbId: p.surbId,
      body: Buffer.from(body),
      replayTag,
      keyIndex
    }
  }
  // 11a. Final hop: the zero tag must survive, else the body was tampered with on the way.
  let acc = 0
  for (let i = 0; i < PAYLOAD_TAG_BYTES; i++) acc |= body[i] as number
  if (acc !== 0) return drop('malformed', 'payload_tag')
  return {
    type: 'deliver',
    recipient: p.recipient as Buffer,
    delayMs: p.delayMs ?? 0,
    payload: Buffer.from(body.subarray(PAYLOAD_TAG_BYTES)),
    replayTag,
    keyIndex
  }
}

/** What `sealmix room-demo` says: its closed set of events, and the line each prints as. */

/**
 * A message's text for a terminal: as a JSON string, with the controls that reorder or hide what
 * follows (bidirectional overrides and isolates, zero-width marks) escaped too, so that a sender
 * cannot make a line read otherwise than it is.
 */
export function quoted(text: string): string {
  return JSON.stringify(text).replace(
    /[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g,
    ch => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`
  )
}

/** Every event the demo prints (one JSON object per line with --json): a closed set. */
export const ROOM_DEMO_EVENTS = [
  'room_waiting',
  'room_routable',
  'room_created',
  'room_joined',
  'room_key',
  'room_sent',
  'room_delivered',
  'room_received',
  'room_rejected',
  'room_blocked',
  'room_refused',
  'room_failed'
] as const
export type RoomDemoEventName = (typeof ROOM_DEMO_EVENTS)[number]
export type RoomDemoEvent = { readonly event: RoomDemoEventName; readonly member: string } & Record<string, unknown>

/** The line of an event, as the demo prints it and the devnet shows it. */
export function roomDemoText(e: RoomDemoEvent): string {
  const f = (k: string): string => String(e[k])
  const who = e.member
  switch (e.event) {
    case 'room_waiting':
      return `room: ${who}: ${f('what')}`
    case 'room_routable':
      return `room: ${who}: the network document routes its messages`
    case 'room_created':
      return `room: ${who} made the room, inviting ${(e.invited as string[]).join(', ')} and the ingress's bot ${f('bot')}`
    case 'room_joined':
      return `room: ${who} joined the room`
    case 'room_key':
      return keyText(e)
    case 'room_sent':
      return `room: ${who} sent ${quoted(String(e.text))}`
    case 'room_delivered':
      return `room: ${who}'s hello #${f('n')} delivered and acknowledged in ${f('latencyMs')} ms`
    case 'room_received':
      return `room: ${who} got ${quoted(String(e.text))} from ${f('from')} (sender verified, joined)`
    case 'room_rejected':
      return `room: ${who} rejected a room event (not shown): ${f('code')}`
    case 'room_blocked':
      return `room: ${who} blocks ${f('blocked')}: a new room key, shared with ${(e.sharedWith as string[]).join(' and ')} only`
    case 'room_refused':
      return refusedText(e)
    case 'room_failed':
      return `room: ${who}: ${f('what')} not delivered: ${f('code')}`
  }
}

function keyText(e: RoomDemoEvent): string {
  const who = e.member
  switch (e.result) {
    case 'registered':
      return `room: ${who} made room key ${String(e.keyId)}, registered it with the ingress, and shares it with ${(e.sharedWith as string[]).join(' and ')}`
    case 'accepted':
      return `room: ${who} accepted room key ${String(e.keyId)} from ${String(e.from)}`
    case 'unchanged':
      return `room: ${who} already holds the room key ${String(e.from)} shared`
    default:
      return `room: ${who} refused a room key share from ${String(e.from)}: ${String(e.code)}`
  }
}

function refusedText(e: RoomDemoEvent): string {
  const who = e.member
  if (e.blocked === true)
    return `room: ${who}'s message was refused by the ingress (blocked): ${who} stops sending after hello #${String(e.last)}`
  if (e.resend === 'now')
    return `room: ${who}'s hello #${String(e.n)} was refused by the ingress (sent with the replaced key): ${who} sends it again with the new key`
  return `room: ${who}'s hello #${String(e.n)} was refused by the ingress: ${who} stops sending until a new room key arrives`
}

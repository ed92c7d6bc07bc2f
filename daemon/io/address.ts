/**
 * The unit the listener counts connections by: an IPv4 address (/32), or an IPv6 /64 (one
 * subscriber's prefix: a host has 2^64 addresses in its /64, so counting whole addresses would
 * let it pick a fresh one per socket). IPv4-mapped IPv6 (`::ffff:a.b.c.d`) counts as the IPv4
 * address. The key lives only as long as the connection's count; it is never logged.
 */
import { isIPv4, isIPv6 } from 'node:net'

export function addressKey(remote: string | undefined): string {
  if (remote === undefined || remote === '') return ''
  const a = remote.split('%')[0]!.toLowerCase()
  if (isIPv4(a)) return a
  const mapped = /^(?:0{0,4}:){0,5}:?ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(a)
  if (mapped !== null && isIPv4(mapped[1]!)) return mapped[1]!
  if (!isIPv6(a)) return a
  return expandV6(a).slice(0, 4).join(':') + '::/64'
}

/** The eight 16-bit groups of an IPv6 address, as hex without leading zeros. */
function expandV6(a: string): string[] {
  let s = a
  // An embedded IPv4 tail (::a.b.c.d forms other than the mapped one) becomes two groups.
  const v4 = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(s)
  if (v4 !== null) {
    const b = v4[1]!.split('.').map(Number)
    s = s.slice(0, -v4[1]!.length) + ((b[0]! << 8) | b[1]!).toString(16) + ':' + ((b[2]! << 8) | b[3]!).toString(16)
  }
  const [head, tail] = s.includes('::') ? (s.split('::') as [string, string]) : [s, undefined]
  const h = head === '' ? [] : head.split(':')
  const t = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
  return groups.map(g => parseInt(g, 16).toString(16))
}

// A hostile neighbour in its own process (so that its work is not the relay's event loop's), for
// test/hostile/ and test/bench/abuse.bench.ts. Plain JavaScript: it starts in milliseconds where a
// tsx child takes seconds on a busy machine. One JSON argument:
//   { mode: 'slots' | 'garbage', host, port, localAddress, count, reopenMs?, frame?, hello? }
// - slots: hold `count` sockets from localAddress, a quarter each raw TCP that never speaks, an
//   upgrade to /relay that never says HELLO, an upgrade to /client that never says HELLO, and
//   HTTP headers that never end; a socket that closes is opened again after reopenMs.
// - garbage: `count` client connections (HELLO, then PACKET frames `frame`, base64) sent as fast
//   as each socket takes them (at most 1 MiB waiting per socket).
// Every 100 ms it prints one JSON line: { open, connects, closes, sent }. It stops when stdin closes.
import { connect } from 'node:net'
import WebSocket from 'ws'

const o = JSON.parse(process.argv[2])
const stats = { open: 0, connects: 0, closes: 0, sent: 0 }
let stopping = false

function upgrade(path) {
  return `GET ${path} HTTP/1.1\r\nHost: ${o.host}:${o.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`
}

function slot(i) {
  if (stopping) return
  const s = connect({ host: o.host, port: o.port, localAddress: o.localAddress })
  let opened = false
  s.on('connect', () => {
    opened = true
    stats.open++
    stats.connects++
    const kind = i % 4
    if (kind === 1) s.write(upgrade('/relay'))
    else if (kind === 2) s.write(upgrade('/client'))
    else if (kind === 3) s.write(`GET /client HTTP/1.1\r\nHost: ${o.host}\r\n`)
  })
  s.on('data', () => {})
  s.on('error', () => {})
  s.on('close', () => {
    if (opened) stats.open--
    stats.closes++
    if (!stopping) setTimeout(() => slot(i), o.reopenMs ?? 500).unref()
  })
}

function garbage() {
  const frame = Buffer.from(o.frame, 'base64')
  const hello = Buffer.from(o.hello, 'base64')
  const ws = new WebSocket(`ws://${o.host}:${o.port}/client`, {
    perMessageDeflate: false,
    localAddress: o.localAddress
  })
  ws.on('error', () => {})
  ws.on('message', () => {})
  ws.once('open', () => {
    stats.open++
    stats.connects++
    ws.send(hello)
    const pump = () => {
      if (stopping || ws.readyState !== ws.OPEN) return
      for (let k = 0; k < 64 && ws.bufferedAmount < 1 << 20; k++) {
        ws.send(frame)
        stats.sent++
      }
      if (ws.bufferedAmount < 1 << 20) setImmediate(pump)
      else setTimeout(pump, 1)
    }
    pump()
  })
  ws.once('close', () => {
    stats.closes++
    if (!stopping) setTimeout(garbage, o.reopenMs ?? 500).unref()
  })
}

for (let i = 0; i < o.count; i++) {
  if (o.mode === 'slots') slot(i)
  else garbage()
}
const report = setInterval(() => process.stdout.write(JSON.stringify(stats) + '\n'), 100)
process.stdin.resume()
process.stdin.on('end', () => {
  stopping = true
  clearInterval(report)
  process.exit(0)
})

/**
 * The HTTP pieces every listener shares (daemon/io): the listener and its deadlines, routing,
 * JSON answers, the one body reader, and the operations listener.
 */
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { Registry } from 'prom-client'
import {
  answerJson,
  type BodyResult,
  type HttpListener,
  listenHttp,
  matchRoute,
  type Route,
  readBody,
  serveJson,
  startOpsServer
} from '../../../daemon/index.ts'

/** Raw HTTP/1.1 over a socket: what the server wrote, once it closes the connection or `ms` pass. */
async function raw(port: number, request: string, o: { dripMs?: number; ms?: number } = {}): Promise<string> {
  const s = connect(port, '127.0.0.1')
  const got: Buffer[] = []
  s.on('data', d => got.push(d))
  s.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve)
    s.once('error', reject)
  })
  s.write(request)
  const drip =
    o.dripMs === undefined
      ? null
      : setInterval(() => {
          if (!s.destroyed) s.write(' ')
        }, o.dripMs)
  try {
    await new Promise<void>(resolve => {
      const t = setTimeout(resolve, o.ms ?? 3000)
      s.once('close', () => {
        clearTimeout(t)
        resolve()
      })
    })
  } finally {
    if (drip !== null) clearInterval(drip)
    s.destroy()
  }
  return Buffer.concat(got).toString()
}

describe('daemon/io http', function () {
  this.timeout(30_000)
  const open: HttpListener[] = []
  afterEach(async function () {
    await Promise.all(open.splice(0).map(async l => await l.close()))
  })
  const listen = async (handler: Parameters<typeof listenHttp>[1]): Promise<number> => {
    const l = await listenHttp({ host: '127.0.0.1', port: 0 }, handler)
    open.push(l)
    return l.port
  }

  describe('matchRoute', function () {
    const routes: ReadonlyArray<Route<string>> = [
      { method: 'GET', path: '/a', handler: 'get a' },
      { method: 'PUT', path: /^\/b\/([^/]+)\/([^/]+)$/, handler: 'put b' },
      { method: 'POST', path: '/a', handler: 'post a' }
    ]
    it("finds the route of a method and path, with the pattern's groups", function () {
      assert.deepEqual(matchRoute(routes, 'GET', '/a'), { kind: 'found', handler: 'get a', params: [] })
      assert.deepEqual(matchRoute(routes, 'POST', '/a'), { kind: 'found', handler: 'post a', params: [] })
      assert.deepEqual(matchRoute(routes, 'PUT', '/b/x/y'), { kind: 'found', handler: 'put b', params: ['x', 'y'] })
    })
    it('tells a path served under another method from a path not served', function () {
      assert.deepEqual(matchRoute(routes, 'DELETE', '/a'), { kind: 'wrong_method' })
      assert.deepEqual(matchRoute(routes, 'GET', '/b/x/y'), { kind: 'wrong_method' })
      assert.deepEqual(matchRoute(routes, 'GET', '/b/x'), { kind: 'not_found' })
      assert.deepEqual(matchRoute(routes, undefined, '/c'), { kind: 'not_found' })
    })
  })

  describe('readBody', function () {
    /** A listener that reads each body with these bounds and answers what the read gave. */
    const reader = async (max: number, timeoutMs: number, seen: BodyResult[]): Promise<number> =>
      await listen((req, res) => {
        void readBody(req, max, timeoutMs).then(r => {
          seen.push(r)
          answerJson(res, { status: 200, body: r })
        })
      })

    it('gives the body, or too_large past the bound (and the caller still answers)', async function () {
      const seen: BodyResult[] = []
      const port = await reader(8, 5000, seen)
      const ok = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: '12345678' })
      assert.deepEqual(await ok.json(), { kind: 'body', text: '12345678' })
      const big = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: 'x'.repeat(5000) })
      assert.equal(big.status, 200)
      assert.deepEqual(await big.json(), { kind: 'too_large' })
    })

    it('gives late and closes the connection when the body has not all arrived by the deadline', async function () {
      const seen: BodyResult[] = []
      const port = await reader(4096, 500, seen)
      const t0 = Date.now()
      const out = await raw(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{', {
        dripMs: 100,
        ms: 5000
      })
      assert.ok(Date.now() - t0 < 3000, 'closed at the deadline')
      assert.equal(out, '', 'nothing answered')
      assert.deepEqual(seen, [{ kind: 'late' }])
    })

    it('gives aborted when the client goes away mid-body', async function () {
      const seen: BodyResult[] = []
      const port = await reader(4096, 5000, seen)
      const s = connect(port, '127.0.0.1')
      s.on('error', () => {})
      await new Promise(resolve => s.once('connect', resolve))
      s.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{')
      await new Promise(resolve => setTimeout(resolve, 100))
      s.destroy()
      const until = Date.now() + 3000
      while (seen.length === 0 && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 20))
      assert.deepEqual(seen, [{ kind: 'aborted' }])
    })
  })

  describe('serveJson', function () {
    it('answers JSON with extra headers after content-type, 500 when the route throws, and nothing when it gives null', async function () {
      const port = await listen(
        serveJson(
          async req => {
            if (req.url === '/throw') throw new Error('boom')
            if (req.url === '/gone') {
              req.socket.destroy()
              return null
            }
            return { status: 429, headers: { 'retry-after': '1' }, body: { a: 1 } }
          },
          { status: 500, body: { error: 'internal' } }
        )
      )
      const a = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
      assert.match(a, /^HTTP\/1\.1 429 Too Many Requests\r\ncontent-type: application\/json\r\nretry-after: 1\r\n/)
      assert.ok(a.includes('\r\n{"a":1}\r\n'), a)
      const t = await fetch(`http://127.0.0.1:${port}/throw`)
      assert.deepEqual([t.status, await t.json()], [500, { error: 'internal' }])
      assert.equal(await raw(port, 'GET /gone HTTP/1.1\r\nHost: x\r\n\r\n'), '')
    })
  })

  describe('listenHttp', function () {
    it('closes a request that has not arrived within its request deadline', async function () {
      const l = await listenHttp({ host: '127.0.0.1', port: 0, requestTimeoutMs: 1000 }, (req, res) => {
        req.resume()
        req.on('end', () => res.writeHead(200).end())
      })
      open.push(l)
      const t0 = Date.now()
      const out = await raw(l.port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{', {
        dripMs: 200,
        ms: 10_000
      })
      assert.ok(Date.now() - t0 < 5000, `closed within the deadline and a check (${Date.now() - t0} ms)`)
      assert.match(out, /^HTTP\/1\.1 408/)
    })
  })

  describe('startOpsServer', function () {
    it('serves /healthz, /readyz with its reason and /metrics behind the token; only GET', async function () {
      const registry = new Registry()
      let why: string | null = 'starting'
      const ops = await startOpsServer({
        host: '127.0.0.1',
        port: 0,
        token: 'metrics-token-0123456789',
        metrics: { registry },
        ready: () => why
      })
      open.push(ops)
      const url = `http://127.0.0.1:${ops.port}`
      const h = await fetch(`${url}/healthz`)
      assert.deepEqual([h.status, h.headers.get('content-type')], [200, 'application/json'])
      assert.deepEqual(Object.keys(JSON.parse(await h.text())), ['status', 'version', 'commit'])
      const r = await fetch(`${url}/readyz?x=1`)
      assert.deepEqual(
        [r.status, r.headers.get('content-type'), await r.text()],
        [503, 'text/plain', 'not ready: starting\n']
      )
      const gauge = async (): Promise<string | undefined> =>
        (await registry.metrics()).split('\n').find(l => l.startsWith('sealmix_ready '))
      assert.equal(await gauge(), 'sealmix_ready 0', 'not ready: the gauge reads 0')
      why = null
      assert.deepEqual(await fetch(`${url}/readyz`).then(async x => [x.status, await x.text()]), [200, 'ready\n'])
      assert.equal(await gauge(), 'sealmix_ready 1', 'ready: the gauge reads 1')
      const denied = await fetch(`${url}/metrics`)
      assert.deepEqual([denied.status, denied.headers.get('www-authenticate')], [401, 'Bearer'])
      const m = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer metrics-token-0123456789' } })
      assert.deepEqual([m.status, m.headers.get('content-type')], [200, registry.contentType])
      assert.equal((await fetch(`${url}/metrics`, { method: 'POST' })).status, 405)
      assert.equal((await fetch(`${url}/nope`, { method: 'POST' })).status, 405)
      assert.equal((await fetch(`${url}/nope`)).status, 404)
    })
  })
})

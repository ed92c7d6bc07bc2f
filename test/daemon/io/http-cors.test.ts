/**
 * Cross-origin access for browser clients (serveJson's CorsRule): the paths a rule names answer any
 * origin and a preflight; other paths of the same listener answer neither (control). The web chat
 * test (test/browser/web-chat.test.ts) calls the real ingress API, authorities and stand-in from
 * another origin in Chromium.
 */
import assert from 'node:assert/strict'
import { type HttpListener, listenHttp, serveJson } from '../../../daemon/index.ts'

describe('CORS on the JSON APIs', function () {
  let server: HttpListener
  let base = ''
  before(async function () {
    server = await listenHttp(
      { host: '127.0.0.1', port: 0 },
      serveJson(
        async () => ({ status: 200, body: { ok: true } }),
        { status: 500, body: {} },
        { methods: ['GET', 'POST'], paths: /^\/open\// }
      )
    )
    base = `http://127.0.0.1:${server.port}`
  })
  after(async function () {
    await server.close()
  })

  it('answers any origin on the paths of the rule, and a preflight with the methods and headers', async function () {
    const r = await fetch(`${base}/open/x`, { headers: { origin: 'http://page.example' } })
    assert.equal(r.status, 200)
    assert.equal(r.headers.get('access-control-allow-origin'), '*')
    assert.equal(r.headers.get('access-control-allow-credentials'), null)
    const pre = await fetch(`${base}/open/x`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://page.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type'
      }
    })
    assert.equal(pre.status, 204)
    assert.equal(pre.headers.get('access-control-allow-origin'), '*')
    assert.equal(pre.headers.get('access-control-allow-methods'), 'GET, POST, OPTIONS')
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /Authorization/)
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /Content-Type/)
  })

  it('control: another path of the same listener answers no origin and no preflight', async function () {
    const r = await fetch(`${base}/closed/x`, { headers: { origin: 'http://page.example' } })
    assert.equal(r.status, 200)
    assert.equal(r.headers.get('access-control-allow-origin'), null)
    const pre = await fetch(`${base}/closed/x`, { method: 'OPTIONS', headers: { origin: 'http://page.example' } })
    assert.equal(pre.headers.get('access-control-allow-origin'), null)
    assert.notEqual(pre.status, 204)
  })
})

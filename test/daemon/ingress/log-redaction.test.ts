/**
 * The ingress logs through daemon/io/log.ts createLogger, so its lines pass the one redaction
 * list. A canary user id and a canary key, in fields the list names (id, key, token, address,
 * ...), are fed to the logger an Ingress builds by default and to the one `sealmix ingress`
 * builds, and neither canary may appear in what the process writes; the same fields through a
 * plain pino logger (no list) show both, so the check can fail.
 *
 * Neither logger is reachable from outside its process, so each run gets a probe (`--import`): a
 * module hook that hands back pino wrapped, so that the logger made with the ingress's bindings
 * (`role: 'ingress'`) logs the canary fields once, as it is made, through its own destination.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pathToFileURL } from 'node:url'
import { pino } from 'pino'
import { createLogger } from '../../../daemon/index.ts'
import { loadCrypto } from '../../../mix/index.ts'
import { SEALMIX } from '../../helpers/bundle.ts'
import { createTestnet, PROJECT, type Testnet, waitFor, writeIngressConfig } from '../../helpers/testnet.ts'

const USER = `@canary${randomBytes(6).toString('hex')}:example.org`
const KEY = randomBytes(32).toString('hex')

/** The canaries in fields the redaction list names, at the top level and one level down. */
const FIELDS = {
  event: 'canary',
  id: USER,
  key: KEY,
  token: KEY,
  address: USER,
  remoteAddress: USER,
  peer: USER,
  recipient: USER,
  mailbox: KEY,
  secret: KEY,
  headers: { authorization: `Bearer ${KEY}` },
  gateway: { id: USER, key: KEY, token: KEY, address: USER, ip: USER }
}

/** The module hook: `pino` imported from anywhere but the wrapper itself is the wrapper. */
const HOOKS = `
export async function resolve (specifier, context, next) {
  const r = await next(specifier, context)
  if (specifier !== 'pino' || (context.parentURL ?? '').startsWith('data:')) return r
  const wrapper = [
    'import * as real from ' + JSON.stringify(r.url),
    'const base = real.pino ?? real.default',
    'const watch = (l) => {',
    '  const child = l.child',
    '  l.child = function (...a) { const c = watch(child.apply(this, a)); globalThis.__sealmixLoggerMade?.(c, a[0] ?? {}); return c }',
    '  return l',
    '}',
    'export function pino (...a) { return watch(base(...a)) }',
    'Object.assign(pino, base)',
    'export default pino'
  ].join('\\n')
  return { url: 'data:text/javascript,' + encodeURIComponent(wrapper), format: 'module', shortCircuit: true }
}
`

/** Runs first in the process: feeds the ingress's logger the canaries once, as it is made. */
const PROBE = `
import { register } from 'node:module'
const fields = JSON.parse(process.env.SEALMIX_CANARY_FIELDS)
let fed = false
globalThis.__sealmixLoggerMade = (logger, bindings) => {
  if (fed || bindings.role !== 'ingress') return
  fed = true
  logger.info(fields, 'canary')
}
register(new URL('./hooks.mjs', import.meta.url))
`

/** A process with the probe; resolves with its stdout and stderr once `done(stdout)` holds or it exits. */
async function run(
  args: readonly string[],
  done: (out: string) => boolean,
  probeDir: string
): Promise<{ out: string; err: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, ['--import', pathToFileURL(join(probeDir, 'probe.mjs')).href, ...args], {
    cwd: PROJECT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SEALMIX_CANARY_FIELDS: JSON.stringify(FIELDS) }
  })
  const out: string[] = []
  const err: string[] = []
  proc.stdout!.on('data', (d: Buffer) => out.push(d.toString()))
  proc.stderr!.on('data', (d: Buffer) => err.push(d.toString()))
  try {
    await waitFor(() => done(out.join('')) || proc.exitCode !== null, 40_000, 'the probed process logs the canary line')
  } finally {
    if (proc.exitCode === null)
      await new Promise(resolve => {
        proc.once('exit', resolve)
        proc.kill('SIGKILL')
      })
  }
  return { out: out.join(''), err: err.join(''), proc }
}

function canaryLine(out: string): string {
  const line = out.split('\n').find(l => l.includes('"event":"canary"'))
  assert.ok(line !== undefined, `the canary line was logged:\n${out}`)
  return line
}

function assertHidden(what: string, out: string, err: string): void {
  const line = canaryLine(out)
  assert.ok(line.includes('"role":"ingress"'), `the canaries went to the ingress's logger: ${line}`)
  assert.ok(line.includes('[redacted]'), `and the list censored them: ${line}`)
  for (const [name, canary] of [
    ['user id', USER],
    ['key', KEY]
  ] as const) {
    assert.ok(!out.includes(canary), `${what}: the canary ${name} is not on stdout:\n${out}`)
    assert.ok(!err.includes(canary), `${what}: the canary ${name} is not on stderr:\n${err}`)
  }
}

describe('ingress logs pass the redaction list', function () {
  this.timeout(90_000)
  let dir: string

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'sealmix-log-redaction-'))
    writeFileSync(join(dir, 'hooks.mjs'), HOOKS)
    writeFileSync(join(dir, 'probe.mjs'), PROBE)
  })
  after(function () {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('positive control: a plain pino logger, without the list, shows both canaries', function () {
    const lines: string[] = []
    const capture = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString())
        cb()
      }
    })
    pino({ base: { app: 'sealmix' } }, capture)
      .child({ role: 'ingress' })
      .info(FIELDS, 'canary')
    const out = lines.join('')
    assert.ok(out.includes(USER) && out.includes(KEY), out)
    // And the function the ingress builds its logger with hides them, in this process too.
    lines.length = 0
    createLogger('info', capture).child({ role: 'ingress' }).info(FIELDS, 'canary')
    assertHidden('createLogger', lines.join(''), '')
  })

  it('the default logger an Ingress builds hides both canaries', async function () {
    const script = join(dir, 'default-ingress.mjs')
    writeFileSync(
      script,
      [
        `const { Ingress, parseIngressConfig } = await import(${JSON.stringify(pathToFileURL(join(PROJECT, 'daemon', 'index.ts')).href)})`,
        'const config = parseIngressConfig({',
        `  dataDir: ${JSON.stringify(join(dir, 'ingress'))}, serverName: 'example.org',`,
        `  network: { file: ${JSON.stringify(join(dir, 'network.json'))}, signers: ['${'ab'.repeat(32)}'] },`,
        "  homeserver: { url: 'http://127.0.0.1:1', asToken: 'as-token-0123456789abcdef', hsToken: 'hs-token-0123456789abcdef' },",
        "  log: { level: 'info' }",
        `}, ${JSON.stringify(dir)})`,
        // Built, not started: the default logger is made in the constructor.
        'new Ingress({ config })'
      ].join('\n')
    )
    const r = await run(['--import', 'tsx', script], out => out.includes('"event":"canary"'), dir)
    assertHidden('new Ingress()', r.out, r.err)
  })

  describe('the logger `sealmix ingress` builds', function () {
    let net: Testnet
    before(async function () {
      net = await createTestnet(await loadCrypto('sodium-native'))
    })
    after(async function () {
      await net?.stop()
    })

    it('hides both canaries (the real CLI bundle, started)', async function () {
      const file = join(dir, 'ingress.json')
      writeIngressConfig(net, file, { api: 0, metrics: 0 })
      const r = await run(
        [...SEALMIX, 'ingress', '--config', file],
        out => out.includes('"event":"canary"') && out.includes('"event":"started"'),
        dir
      )
      assert.ok(r.out.includes('"event":"started"'), `the ingress started:\n${r.out}\n${r.err}`)
      assertHidden('sealmix ingress', r.out, r.err)
    })
  })
})

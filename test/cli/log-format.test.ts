/**
 * `--log-format json|pretty` of the long-running commands (cli/log-flood.ts, cli/args.ts): pretty
 * shows level names and ISO times, one line per event; json stays one JSON object per line; the
 * redaction applies in both (pino redacts before either is written); the flood guard still
 * holds repeats back in pretty mode; the flag wins over SEALMIX_LOG_FORMAT, which wins over the
 * terminal test. And the first line a program logs says its version.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { finished } from 'node:stream/promises'
import { logFormat, parseCommand, Usage } from '../../cli/args.ts'
import { logDestination } from '../../cli/log-flood.ts'
import { COMMAND_OPTIONS } from '../../cli/options.ts'
import { buildInfo, createLogger, versionLine } from '../../daemon/index.ts'
import { PROJECT } from '../helpers/testnet.ts'

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g')
const ISO_LINE = /^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] (INFO|WARN|ERROR|DEBUG): /
/** What must never be written, whatever the format: the logger's redact list covers these fields. */
const SECRETS = { ip: '10.9.8.7', token: 'sekrit-token-0123', peer: { id: 'ab'.repeat(32) } }

async function capture(
  format: 'json' | 'pretty',
  write: (log: ReturnType<typeof createLogger>) => void
): Promise<string[]> {
  const out: string[] = []
  // A clock that stands still: every repeat falls in one refill period of the flood guard.
  const dest = await logDestination(format, { write: l => out.push(l), now: () => 1000 })
  write(createLogger('debug', dest))
  dest.end()
  await finished(dest)
  return out.join('').replace(ANSI, '').split('\n').slice(0, -1)
}

describe('log formats', function () {
  this.timeout(60_000)

  it('pretty: level names, ISO times, one line per event, fields kept, redacted fields redacted', async function () {
    const lines = await capture('pretty', log => {
      log.info({ event: 'document', epoch: 5, ...SECRETS }, 'network document in use')
      log.warn({ event: 'slow' }, 'a warning')
      log.debug('quiet')
    })
    assert.equal(lines.length, 3, lines.join('\n'))
    assert.match(lines[0]!, ISO_LINE)
    assert.match(lines[0]!, /\] INFO: network document in use \{.*"epoch":5/)
    assert.match(lines[1]!, /\] WARN: a warning/)
    assert.match(lines[2]!, /\] DEBUG: quiet/)
    for (const l of lines) assert.throws(() => JSON.parse(l), SyntaxError, 'not JSON')
    const text = lines.join('\n')
    assert.ok(!text.includes('"app"'), 'app: sealmix is left out')
    assert.match(text, /\[redacted\]/)
    for (const s of [SECRETS.ip, SECRETS.token, SECRETS.peer.id]) assert.ok(!text.includes(s), `${s} in ${text}`)
  })

  it('json: one JSON object per line, numeric levels, redacted fields redacted', async function () {
    const lines = await capture('json', log => {
      log.info({ event: 'document', epoch: 5, ...SECRETS }, 'network document in use')
      log.warn('a warning')
    })
    const objs = lines.map(l => JSON.parse(l) as Record<string, unknown>)
    assert.deepEqual(
      objs.map(o => [o.level, o.msg, o.app]),
      [
        [30, 'network document in use', 'sealmix'],
        [40, 'a warning', 'sealmix']
      ]
    )
    assert.equal(objs[0]!.ip, '[redacted]')
    assert.equal(objs[0]!.token, '[redacted]')
    for (const s of [SECRETS.ip, SECRETS.token, SECRETS.peer.id]) assert.ok(!lines.join('\n').includes(s))
  })

  it('the flood guard still holds back repeats in pretty mode, and says how many in a pretty line', async function () {
    const lines = await capture('pretty', log => {
      for (let i = 0; i < 12; i++)
        log.error({ event: 'epochs_failing', err: `EMFILE mix-${i}.key` }, 'epoch tick failed')
    })
    assert.equal(lines.filter(l => / ERROR: epoch tick failed \{/.test(l)).length, 5, lines.join('\n'))
    const said = lines.filter(l => /repeated 7 more times, not logged/.test(l))
    assert.equal(said.length, 1, lines.join('\n'))
    assert.match(said[0]!, ISO_LINE)
  })

  it('--log-format, else SEALMIX_LOG_FORMAT, else pretty on a terminal and json elsewhere', function () {
    const flags = (...a: string[]) => parseCommand('run', COMMAND_OPTIONS.run, ['--config', 'x.yaml', ...a])
    assert.equal(logFormat(flags(), {}, true), 'pretty')
    assert.equal(logFormat(flags(), {}, false), 'json')
    assert.equal(logFormat(flags(), { SEALMIX_LOG_FORMAT: 'pretty' }, false), 'pretty')
    assert.equal(logFormat(flags(), { SEALMIX_LOG_FORMAT: 'json' }, true), 'json')
    assert.equal(logFormat(flags(), { SEALMIX_LOG_FORMAT: '' }, true), 'pretty', 'empty: unset')
    assert.equal(logFormat(flags('--log-format', 'json'), { SEALMIX_LOG_FORMAT: 'pretty' }, true), 'json')
    assert.equal(logFormat(flags('--log-format=pretty'), { SEALMIX_LOG_FORMAT: 'json' }, false), 'pretty')
    assert.throws(
      () => logFormat(flags('--log-format', 'yaml'), {}, false),
      (e: unknown) => {
        assert.ok(e instanceof Usage)
        assert.equal(e.message, '--log-format must be json or pretty (got yaml)')
        return true
      }
    )
    assert.throws(
      () => logFormat(flags(), { SEALMIX_LOG_FORMAT: 'text' }, false),
      /SEALMIX_LOG_FORMAT must be json or pretty/
    )
    for (const cmd of ['run', 'ingress', 'authority'] as const) assert.ok('log-format' in COMMAND_OPTIONS[cmd], cmd)
  })

  it("a program's first line says its version, in either format", function () {
    const b = buildInfo()
    const run = (format: string): string => {
      const r = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          '--input-type=module',
          '-e',
          `import { programLog } from './cli/log-flood.ts'
import { parseCommand } from './cli/args.ts'
import { COMMAND_OPTIONS } from './cli/options.ts'
import { startupLog } from './daemon/index.ts'
const flags = parseCommand('run', COMMAND_OPTIONS.run, ['--config', 'x.yaml', '--log-format', '${format}'])
startupLog(await programLog(flags, 'info'), 'relay')`
        ],
        { cwd: PROJECT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } }
      )
      assert.equal(r.status, 0, r.stderr)
      return r.stdout
    }
    const json = JSON.parse(run('json')) as Record<string, unknown>
    assert.deepEqual(
      [json.level, json.event, json.program, json.version, json.commit, json.node, json.msg],
      [30, 'starting', 'relay', b.version, b.commit, process.version, `${versionLine(b)} starting relay`]
    )
    const pretty = run('pretty').replace(ANSI, '')
    assert.match(pretty, ISO_LINE)
    assert.ok(pretty.includes(`INFO: ${versionLine(b)} starting relay {`), pretty)
  })
})

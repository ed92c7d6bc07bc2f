/**
 * The docs run as written. Every fenced block of docs/CLIENTS.md and README.md is read from the
 * markdown when the test runs (no copy of a snippet lives here) and:
 *   - ```sh, ```ts and ```js blocks run against a real devnet (runDevnet, in this process), in its data
 *     directory, one after another in the order of the doc, each within a time limit, and must exit
 *     0 and print what the `<!-- snippet: expect /RE/ -->` line right above the fence says;
 *   - ```ts blocks also type-check under the repository's compiler options;
 *   - ```text blocks (output samples, diagrams) are not run;
 *   - a block marked `<!-- snippet: not run by test/docs/snippets.test.ts: why -->` is not run,
 *     and each of its commands must have a check here that stands in for it (NOT_RUN below).
 * A fence without a language, or a run block that does not say what it prints, fails the test.
 *
 * How a block runs: a sh block with bash -e, `sealmix` on PATH (a script that runs this checkout's
 * dist/sealmix.mjs). A ts (or js) block as the doc tells a reader, `node --import tsx`, with one mechanical
 * change: the doc's programs live in the devnet's directory one level below the checkout and
 * import `../client/index.ts`; this devnet lives in a temporary directory, so `../` in import
 * specifiers becomes the checkout's path. The file is written as .mts (.mjs) because the temporary
 * directory has no package.json saying "type": "module" (the checkout's does, for a reader). A
 * package the doc imports by name (matrix-js-sdk) is found as a reader's `.devnet/` finds it, in
 * the checkout's node_modules: it is linked into the temporary directory.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { runDevnet } from '../../tools/index.ts'
import { type Block, blocksOf, where } from '../helpers/doc-blocks.ts'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const THIS = relative(ROOT, fileURLToPath(import.meta.url))
const DOCS = ['docs/CLIENTS.md', 'README.md']
/** Per block: a program that hangs (no ack, no document) fails here instead of at mocha's limit. */
const BLOCK_LIMIT_MS = 60_000

const ALL = DOCS.flatMap(d => blocksOf(ROOT, d, THIS))
const runs = (b: Block): boolean =>
  b.kind !== undefined && b.kind !== 'text' && (b.marker === null || !('notRun' in b.marker || 'browser' in b.marker))

interface Output {
  code: number | null
  signal: string | null
  text: string
  timedOut: boolean
}

/** Run a command to its end (or the limit: then its whole process group is killed), stdout and stderr together. */
async function run(
  cmd: string,
  args: string[],
  o: { cwd: string; env?: NodeJS.ProcessEnv; limitMs: number }
): Promise<Output> {
  const p = spawn(cmd, args, {
    cwd: o.cwd,
    env: o.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true
  })
  let text = ''
  p.stdout.on('data', (d: Buffer) => {
    text += d.toString()
  })
  p.stderr.on('data', (d: Buffer) => {
    text += d.toString()
  })
  let timedOut = false
  // A sh block starts sealmix children: killing bash alone would leave them running.
  const t = setTimeout(() => {
    timedOut = true
    try {
      process.kill(-p.pid!, 'SIGKILL')
    } catch {}
  }, o.limitMs)
  const [code, signal] = await new Promise<[number | null, string | null]>(resolve =>
    p.once('close', (c, s) => resolve([c, s]))
  )
  clearTimeout(t)
  return { code, signal, text, timedOut }
}

const tail = (text: string, n = 40): string => text.trimEnd().split('\n').slice(-n).join('\n')

/** The doc's `../` (the checkout, seen from .devnet/) as this checkout's path. */
const withCheckoutImports = (code: string): string =>
  code.replace(
    /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])\.\.\//g,
    (_, head: string, q: string) => `${head}${q}${ROOT}/`
  )

/**
 * Each command of a block that is not run, and the check that stands in for it (its it()).
 * A not-run block whose command has no entry here fails, and so does an entry no block needs.
 */
const NOT_RUN: Array<{ command: RegExp; check: string }> = [
  {
    command: /^npm ci && npm start\b/,
    check:
      'npm start runs node dist/sealmix.mjs devnet after its build: that runs until chat arrives and stops on SIGINT with exit 0, its temporary directory removed'
  },
  { command: /^npm ci && npm test\b/, check: 'npm test type-checks and runs mocha over a spec that includes this test' }
]

/** The commands of a block: its lines without comments and blank lines. */
const commands = (b: Block): string[] =>
  b.code
    .split('\n')
    .map(l => l.replace(/\s+#.*$/, '').trim())
    .filter(l => l !== '' && !l.startsWith('#'))

describe('the docs run as written (docs/CLIENTS.md, README.md)', function () {
  it('every block says what it is: a language, what a run block prints, why a block is not run and what checks it instead', function () {
    assert.ok(
      ALL.filter(runs).length >= 4,
      `found ${ALL.filter(runs).length} blocks to run in ${DOCS.join(', ')}: is the parsing broken?`
    )
    const problems: string[] = []
    for (const b of ALL) {
      if (b.kind === undefined)
        problems.push(
          `${where(b)}: say what the block is: \`\`\`sh, \`\`\`ts or \`\`\`js (run by this test) or \`\`\`text (output, diagrams)`
        )
      else if (b.marker !== null && 'bad' in b.marker)
        problems.push(
          `${where(b)}: a snippet marker this test does not know: ${b.marker.bad} (expect /RE/, or not run by ${THIS}: why)`
        )
      else if (b.kind === 'text' && b.marker !== null)
        problems.push(`${where(b)}: a text block is never run; drop its snippet marker`)
      else if (runs(b) && b.marker === null)
        problems.push(`${where(b)}: put <!-- snippet: expect /what it prints/ --> on the line above the fence`)
      else if (b.marker !== null && 'browser' in b.marker) {
        const by = join(ROOT, b.marker.browser.by)
        if (!existsSync(by) || !readFileSync(by, 'utf8').includes(b.doc))
          problems.push(`${where(b)}: ${b.marker.browser.by} is to run it in Chromium, and does not read ${b.doc}`)
      } else if (b.marker !== null && 'notRun' in b.marker) {
        for (const c of commands(b))
          if (!NOT_RUN.some(n => n.command.test(c)))
            problems.push(`${where(b)}: nothing here checks the command that is not run: ${c}`)
      }
    }
    const notRun = ALL.filter(b => b.marker !== null && 'notRun' in b.marker).flatMap(commands)
    for (const n of NOT_RUN)
      if (!notRun.some(c => n.command.test(c)))
        problems.push(
          `${THIS}: the check "${n.check}" stands in for a command no doc has any more (${n.command.source})`
        )
    assert.deepEqual(problems, [])
  })

  it("every ```ts block type-checks under the repository's compiler options", function () {
    this.timeout(90_000)
    const ts = ALL.filter(b => b.kind === 'ts' && runs(b))
    const dir = mkdtempSync(join(tmpdir(), 'sealmix-docs-tsc-'))
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
    try {
      const files = ts.map((b, i) => {
        const file = join(dir, `block-${i}.mts`)
        writeFileSync(file, withCheckoutImports(b.code))
        return { file, b }
      })
      const types = readdirSync(join(ROOT, 'types'))
        .filter(f => f.endsWith('.d.ts'))
        .map(f => join(ROOT, 'types', f))
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          extends: join(ROOT, 'tsconfig.json'),
          compilerOptions: { typeRoots: [join(ROOT, 'node_modules', '@types')], types: ['node'] },
          files: [...files.map(f => f.file), ...types],
          include: []
        })
      )
      const r = spawnSync(
        process.execPath,
        [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')],
        { encoding: 'utf8', timeout: 80_000 }
      )
      // tsc names the temporary file and a line in it: name the doc and its line instead.
      const report = `${r.stdout}${r.stderr}`.replace(
        /(\S*block-(\d+)\.mts)\((\d+),(\d+)\)/g,
        (_, __, i: string, line: string, col: string) => {
          const b = files[Number(i)]!.b
          return `${b.doc}:${b.line + Number(line)}:${col}`
        }
      )
      assert.equal(r.status, 0, `the doc's TypeScript does not type-check:\n${tail(report)}`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  describe('each block that runs, in the order of its doc, against a devnet', function () {
    let work = ''
    let data = ''
    let bin = ''
    const devnetLines: string[] = []
    let devnetStatus = ''
    /** What the devnet printed last (chat, refusals), then its status line: context for a failure. */
    const devnetTail = (): string => `${tail(devnetLines.join('\n'), 12)}\n${devnetStatus}`
    let stop: () => void = () => {}
    let devnet: Promise<void> | null = null
    let tsx = ''

    before(async function () {
      this.timeout(120_000)
      tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
      work = mkdtempSync(join(tmpdir(), 'sealmix-docs-'))
      symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'))
      data = join(work, 'devnet')
      bin = join(work, 'bin')
      mkdirSync(bin)
      writeFileSync(
        join(bin, 'sealmix'),
        `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'dist', 'sealmix.mjs')}" "$@"\n`
      )
      chmodSync(join(bin, 'sealmix'), 0o755)
      const stopped = new Promise<void>(resolve => {
        stop = resolve
      })
      let ready: () => void = () => {}
      const isReady = new Promise<void>(resolve => {
        ready = resolve
      })
      devnet = runDevnet({
        dataDir: data,
        // Epochs of 10 s: a node that misses the first document is listed 10 s later, not a minute.
        epochMs: 10_000,
        print: line => {
          devnetLines.push(line)
          if (line.includes('every relay and the ingress are listed and linked')) ready()
        },
        status: line => {
          devnetStatus = line
        },
        stop: stopped
      })
      const ended = devnet.then(() => {
        throw new Error('the devnet stopped before it was ready')
      })
      let limit: NodeJS.Timeout | undefined
      const late = new Promise<never>((_, reject) => {
        limit = setTimeout(() => reject(new Error('the devnet was not ready within 100 s')), 100_000)
      })
      try {
        await Promise.race([isReady, ended, late])
      } catch (e) {
        throw new Error(`${(e as Error).message}; its output:\n${devnetTail()}`)
      } finally {
        clearTimeout(limit)
      }
    })

    after(async function () {
      this.timeout(30_000)
      stop()
      await devnet?.catch(() => {})
      if (work !== '') rmSync(work, { recursive: true, force: true })
    })

    for (const b of ALL.filter(runs)) {
      const expect = b.marker !== null && 'expect' in b.marker ? b.marker.expect : null
      it(`${where(b)} exits 0 and prints ${String(expect)}`, async function () {
        this.timeout(BLOCK_LIMIT_MS + 10_000)
        assert.ok(expect !== null, `${where(b)} does not say what it prints (see the first test)`)
        const file = join(
          work,
          `${b.doc.replace(/\W/g, '_')}-${b.line}.${{ sh: 'sh', ts: 'mts', js: 'mjs' }[b.kind as 'sh' | 'ts' | 'js']}`
        )
        writeFileSync(file, b.kind === 'sh' ? b.code : withCheckoutImports(b.code))
        const env = { ...process.env, PATH: [bin, dirname(process.execPath), process.env.PATH ?? ''].join(delimiter) }
        const r =
          b.kind === 'sh'
            ? await run('bash', ['-e', '-o', 'pipefail', file], { cwd: data, env, limitMs: BLOCK_LIMIT_MS })
            : await run(process.execPath, ['--import', tsx, file], { cwd: data, env, limitMs: BLOCK_LIMIT_MS })
        const how = r.timedOut ? `did not finish within ${BLOCK_LIMIT_MS / 1000} s` : `exited ${r.code ?? r.signal}`
        const output = `--- its output (last lines):\n${tail(r.text)}\n--- the devnet's last lines:\n${devnetTail()}`
        assert.ok(!r.timedOut && r.code === 0, `${where(b)} ${how}\n${output}`)
        assert.match(r.text, expect, `${where(b)} exited 0 but did not print ${String(expect)}\n${output}`)
      })
    }
  })

  describe('README.md: the commands it does not run', function () {
    const scripts = (
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    ).scripts

    it(`npm start: ${NOT_RUN[0]!.check}`, async function () {
      this.timeout(150_000)
      // What npm start runs: its build already ran (mocha's global setup builds), then this command.
      const steps = (scripts.start ?? '').split('&&').map(s => s.trim())
      assert.equal(steps[0], 'npm run build', `npm start builds first (scripts.start: ${scripts.start})`)
      // `exec`: the shell npm runs is replaced by the devnet, so npm's forwarded signals reach it.
      const words = steps[1]?.split(/\s+/) ?? []
      assert.equal(words[0], 'exec', `npm start execs the devnet (scripts.start: ${scripts.start})`)
      const command = words.slice(1)
      assert.deepEqual(command.slice(0, 3), ['node', 'dist/sealmix.mjs', 'devnet'], `scripts.start: ${scripts.start}`)
      // --epoch 10s, as the README's `npm start -- --epoch 5s`: a node that misses the first document costs 10 s, not a minute.
      const p = spawn(process.execPath, [...command.slice(1), '--epoch', '10s'], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe']
      })
      let out = ''
      const seen = new Set<() => void>()
      const onData = (d: Buffer): void => {
        out += d.toString()
        for (const f of seen) f()
      }
      p.stdout.on('data', onData)
      p.stderr.on('data', onData)
      const exited = new Promise<number | null>(resolve => p.once('exit', c => resolve(c)))
      /** Resolves once `re` matches the output; fails at the limit or when the devnet exits first. */
      const until = async (re: RegExp, limitMs: number, what: string): Promise<void> => {
        let done: () => void = () => {}
        const matched = new Promise<void>(resolve => {
          done = () => {
            if (re.test(out)) resolve()
          }
          seen.add(done)
          done()
        })
        let t: NodeJS.Timeout | undefined
        try {
          await Promise.race([
            matched,
            exited.then(c => {
              throw new Error(`the devnet exited (${String(c)}) before ${what}`)
            }),
            new Promise<never>((_, reject) => {
              t = setTimeout(() => reject(new Error(`no ${what} within ${limitMs / 1000} s`)), limitMs)
            })
          ])
        } catch (e) {
          throw new Error(`${(e as Error).message}; its output:\n${tail(out)}`)
        } finally {
          clearTimeout(t)
          seen.delete(done)
        }
      }
      try {
        await until(/^ {2}chat: \w+ got ".*" from @\w+:devnet\.local \(certificate verified\)$/m, 120_000, 'chat line')
        // The web chat page it prints (test/browser/web-chat.test.ts chats through it in Chromium).
        const web = /^devnet: web chat (http:\/\/127\.0\.0\.1:\d+\/) /m.exec(out)?.[1]
        assert.ok(web !== undefined, `it prints the web chat URL:\n${tail(out)}`)
        for (const [path, type] of [
          ['', 'text/html'],
          ['sealmix-client.js', 'text/javascript'],
          ['worker.js', 'text/javascript']
        ] as const) {
          const r: Response = await fetch(web + path)
          assert.equal(r.status, 200, `GET ${web}${path}`)
          assert.ok(
            r.headers.get('content-type')?.startsWith(type),
            `GET ${web}${path}: ${r.headers.get('content-type')}`
          )
        }
        const dir = /data in (\S+) \(temporary\)/.exec(out)?.[1]
        assert.ok(dir !== undefined, `it names its temporary data directory:\n${tail(out)}`)
        assert.ok(existsSync(dir))
        p.kill('SIGINT')
        await until(/^devnet: stopped$/m, 20_000, '"devnet: stopped" after SIGINT')
        assert.equal(await exited, 0, `exit status after SIGINT:\n${tail(out)}`)
        assert.equal(existsSync(dir), false, `its temporary data directory ${dir} is removed`)
      } finally {
        if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
      }
    })

    it(`npm test: ${NOT_RUN[1]!.check}`, function () {
      const steps = (scripts.test ?? '').split('&&').map(s => s.trim())
      assert.ok(
        steps.some(s => /^tsc --noEmit\b/.test(s)),
        `npm test type-checks (scripts.test: ${scripts.test})`
      )
      const mocha =
        steps
          .at(-1)
          ?.split(/\s+/)
          .map(a => a.replace(/^(['"])(.*)\1$/, '$2')) ?? []
      assert.equal(mocha[0], 'mocha', `npm test ends with mocha (scripts.test: ${scripts.test})`)
      // Its spec: the globs it is given, else the one in .mocharc.json.
      const given = mocha.slice(1).filter(a => !a.startsWith('-'))
      const spec =
        given.length > 0
          ? given
          : ((JSON.parse(readFileSync(join(ROOT, '.mocharc.json'), 'utf8')) as { spec?: string[] }).spec ?? [])
      // A glob as mocha reads it: ** any folders (or none), * any part of a name.
      const globRe = (g: string): RegExp =>
        new RegExp(
          '^' +
            g
              .split('/')
              .map(part =>
                part === '**' ? '(?:.+/)?' : part.replace(/[.+^${}()|[\]\\?]/g, '\\$&').replace(/\*/g, '[^/]*') + '/'
              )
              .join('')
              .slice(0, -1) +
            '$'
        )
      assert.ok(
        spec.some(g => globRe(g).test(THIS)),
        `${THIS} is in mocha's spec ${JSON.stringify(spec)} (scripts.test: ${scripts.test})`
      )
    })
  })
})

/**
 * Enforces the layering of docs/ARCHITECTURE.md by reading import specifiers and the paths that
 * programs spawn:
 * - mix/ is pure: it imports only mix/, reads no clock, randomness, timers or process state, and
 *   only mix/crypto/ touches the crypto libraries;
 * - imports flow one way (X -> Y: X may import Y): daemon/io -> mix; daemon/relay,
 *   daemon/authority, daemon/ingress -> daemon/io, mix; client -> mix; tools -> daemon, client,
 *   mix; cli -> all; no program imports another;
 * - a unit reaches another only through that unit's index.ts (tools/ and cli/ reach the server
 *   programs through daemon/index.ts);
 * - a child process is an edge too: only tools/ may start the CLI bundle, and no program may.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

function files(dir: string): string[] {
  const abs = join(ROOT, dir)
  let out: string[] = []
  let entries: string[]
  try {
    entries = readdirSync(abs)
  } catch {
    return []
  }
  for (const e of entries) {
    const p = join(abs, e)
    if (statSync(p).isDirectory()) out = out.concat(files(relative(ROOT, p)))
    else if (/\.(ts|mjs)$/.test(p)) out.push(relative(ROOT, p).split(sep).join('/'))
  }
  return out
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g

/** The module specifiers of a source text: static, side-effect only, re-exported and dynamic. */
export function specifiersIn(src: string): string[] {
  const out: string[] = []
  for (const m of src.matchAll(IMPORT)) out.push((m[1] ?? m[2] ?? m[3])!)
  return out
}

export function importsOf(file: string): string[] {
  return specifiersIn(readFileSync(join(ROOT, file), 'utf8'))
}

/** A line of code (not a comment) that reads the clock, ambient randomness, timers or process state. */
const AMBIENT =
  /\b(?:Date\.now|Math\.random|setTimeout|setInterval|setImmediate|queueMicrotask|performance\.now|getRandomValues|randomUUID)\b|\bnew Date\(|\bprocess\./
export const readsAmbient = (line: string): boolean => !/^\s*(\/\/|\*)/.test(line) && AMBIENT.test(line)

/** The repository-relative target of a relative specifier, or null for a package. */
function target(file: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null
  return relative(ROOT, resolve(ROOT, dirname(file), spec))
    .split(sep)
    .join('/')
}

/** The units of the tree, most specific first; a file belongs to the first that contains it. */
const UNITS = [
  'daemon/io',
  'daemon/relay',
  'daemon/authority',
  'daemon/ingress',
  'daemon',
  'mix',
  'client',
  'tools',
  'cli'
] as const
type Unit = (typeof UNITS)[number]
const unitOf = (p: string): Unit | null => UNITS.find(u => p === u || p.startsWith(`${u}/`)) ?? null

/** Which units each unit may import, and through which file of theirs. */
const MAY_IMPORT: Record<Unit, Partial<Record<Unit, string>>> = {
  mix: {},
  'daemon/io': { mix: 'mix/index.ts' },
  'daemon/relay': { mix: 'mix/index.ts', 'daemon/io': 'daemon/io/index.ts' },
  'daemon/authority': { mix: 'mix/index.ts', 'daemon/io': 'daemon/io/index.ts' },
  'daemon/ingress': { mix: 'mix/index.ts', 'daemon/io': 'daemon/io/index.ts' },
  // daemon/index.ts only re-exports the programs above.
  daemon: {
    mix: 'mix/index.ts',
    'daemon/io': 'daemon/io/index.ts',
    'daemon/relay': 'daemon/relay/index.ts',
    'daemon/authority': 'daemon/authority/index.ts',
    'daemon/ingress': 'daemon/ingress/index.ts'
  },
  client: { mix: 'mix/index.ts' },
  tools: { mix: 'mix/index.ts', daemon: 'daemon/index.ts', client: 'client/index.ts' },
  cli: { mix: 'mix/index.ts', daemon: 'daemon/index.ts', client: 'client/index.ts', tools: 'tools/index.ts' }
}

/** Paths of the project that a module names in a string to run it as a process or a worker. */
const SPAWNED =
  /['"`](?:\.\.?\/)*((?:dist|cli|daemon|tools|client)\/[\w./-]+\.(?:mjs|ts))['"`]|'dist',\s*'([\w.-]+\.mjs)'/g

function spawnedBy(file: string): string[] {
  const src = readFileSync(join(ROOT, file), 'utf8').replace(IMPORT, '')
  const out: string[] = []
  for (const m of src.matchAll(SPAWNED)) out.push(m[1] ?? `dist/${m[2]!}`)
  return out
}

/** The unit whose code a spawned path runs: the CLI bundle runs cli/, the worker bundle the relay. */
function spawnedUnit(path: string): Unit | null {
  if (path === 'dist/sealmix.mjs') return 'cli'
  if (path === 'dist/unwrap-worker.mjs') return 'daemon/relay'
  return unitOf(path)
}

const SOURCES = ['mix', 'daemon', 'client', 'tools', 'cli'].flatMap(files)

/** The modules esbuild bundles for a browser: they and what they import must run without Node. */
const BROWSER_MODULES = ['mix/crypto/browser.ts']
const nodeOnly = (spec: string): boolean => spec.startsWith('node:') || spec === 'sodium-native'

/** Every package specifier a module reaches through its relative imports (type-only ones included), transitively. */
function packagesReachedFrom(file: string): string[] {
  const seen = new Set<string>()
  const packages = new Set<string>()
  const walk = (f: string): void => {
    if (seen.has(f)) return
    seen.add(f)
    for (const spec of importsOf(f)) {
      const t = target(f, spec)
      if (t === null) packages.add(spec)
      else walk(t)
    }
  }
  walk(file)
  return [...packages]
}

export function violations(sources: readonly string[], read: (f: string) => string[] = importsOf): string[] {
  const bad: string[] = []
  for (const f of sources) {
    const from = unitOf(f)
    if (from === null) continue
    for (const spec of read(f)) {
      const t = target(f, spec)
      if (t === null) continue
      const to = unitOf(t)
      if (to === from) continue
      const via = to === null ? undefined : MAY_IMPORT[from][to]
      if (via !== t) bad.push(`${f} -> ${spec}`)
    }
  }
  return bad
}

/** Child processes and workers that cross the rules: only tools/ may run the CLI bundle. */
export function spawnViolations(sources: readonly string[], spawned: (f: string) => string[] = spawnedBy): string[] {
  const bad: string[] = []
  for (const f of sources) {
    const from = unitOf(f)
    for (const p of spawned(f)) {
      const to = spawnedUnit(p)
      if (to === null || to === from) continue
      // tools/build/ bundles sources for browsers (esbuild entry points): it runs none of them.
      const allowed =
        (from === 'tools' && to === 'cli') ||
        (from === 'daemon/relay' && to === 'daemon/relay') ||
        f.startsWith('tools/build/')
      if (!allowed) bad.push(`${f} runs ${p}`)
    }
  }
  return bad
}

describe('layering', function () {
  it('finds the source files of every unit it checks', function () {
    for (const u of UNITS)
      assert.ok(
        SOURCES.some(f => unitOf(f) === u),
        `no source file in ${u}/`
      )
    assert.ok(files('mix').length >= 10)
  })

  it('mix/ imports only mix/, and only mix/crypto/ imports crypto libraries', function () {
    const bad: string[] = []
    for (const f of files('mix')) {
      for (const spec of importsOf(f)) {
        const t = target(f, spec)
        if (t !== null) {
          if (unitOf(t) !== 'mix') bad.push(`${f} -> ${spec}`)
          continue
        }
        const inCrypto = f.startsWith('mix/crypto/')
        if (
          inCrypto &&
          [
            'sodium-native',
            'libsodium-wrappers',
            'node:crypto',
            '@noble/hashes/sha2.js',
            '@noble/hashes/hmac.js',
            '@noble/hashes/hkdf.js',
            '@noble/ciphers/aes.js',
            '@noble/ciphers/chacha.js'
          ].includes(spec)
        )
          continue
        bad.push(`${f} -> ${spec}`)
      }
    }
    assert.deepEqual(bad, [])
  })

  it('the browser crypto binding reaches no node: module and not sodium-native', function () {
    const bad = BROWSER_MODULES.flatMap(f =>
      packagesReachedFrom(f)
        .filter(nodeOnly)
        .map(spec => `${f} reaches ${spec}`)
    )
    assert.deepEqual(bad, [])
    // Positive control: from the Node suite the walk finds node:crypto, and sodium-native through native.ts.
    assert.deepEqual(packagesReachedFrom('mix/crypto/suite.ts').filter(nodeOnly).sort(), [
      'node:crypto',
      'sodium-native'
    ])
  })

  it('mix/ reads no clock, ambient randomness, timers or process state', function () {
    const bad: string[] = []
    for (const f of files('mix')) {
      readFileSync(join(ROOT, f), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          // The crypto bindings are the OS CSPRNG that the rest of mix/ is handed (systemRng).
          const own = f.startsWith('mix/crypto/') ? line.replace(/\bglobalThis\.crypto\.getRandomValues\b/g, '') : line
          if (readsAmbient(own)) bad.push(`${f}:${i + 1}: ${line.trim()}`)
        })
    }
    assert.deepEqual(bad, [])
  })

  it("imports flow one way, through each unit's index.ts, and no program imports another", function () {
    assert.deepEqual(violations(SOURCES), [])
  })

  it('only tools/ start the CLI as a process, and no program spawns another', function () {
    assert.deepEqual(spawnViolations(SOURCES), [])
  })

  it('the checks see a forbidden import and a spawned program (positive controls)', function () {
    const fake: Record<string, string[]> = {
      'daemon/relay/x.ts': ['../ingress/index.ts', '../io/log.ts', '../io/index.ts'],
      'client/x.ts': ['../daemon/index.ts'],
      'tools/x.ts': ['../daemon/relay/relay.ts', '../cli/index.ts']
    }
    assert.deepEqual(
      violations(Object.keys(fake), f => fake[f]!),
      [
        'daemon/relay/x.ts -> ../ingress/index.ts',
        'daemon/relay/x.ts -> ../io/log.ts',
        'client/x.ts -> ../daemon/index.ts',
        'tools/x.ts -> ../daemon/relay/relay.ts',
        'tools/x.ts -> ../cli/index.ts'
      ]
    )
    assert.deepEqual(spawnedBy('tools/devnet/children.ts'), ['dist/sealmix.mjs'])
    assert.equal(spawnedUnit('dist/sealmix.mjs'), 'cli')
    const spawns: Record<string, string[]> = {
      'tools/x.ts': ['dist/sealmix.mjs'],
      'daemon/relay/x.ts': ['dist/sealmix.mjs', 'dist/unwrap-worker.mjs'],
      'daemon/ingress/x.ts': ['dist/unwrap-worker.mjs']
    }
    assert.deepEqual(
      spawnViolations(Object.keys(spawns), f => spawns[f]!),
      ['daemon/relay/x.ts runs dist/sealmix.mjs', 'daemon/ingress/x.ts runs dist/unwrap-worker.mjs']
    )
  })

  it('the scanners see side-effect imports and every ambient source (positive controls)', function () {
    const src = [
      "import '../ingress/index.ts'",
      "import type { A } from './a.ts'",
      "export * from './b.ts'",
      "const m = await import('./c.ts')"
    ]
    assert.deepEqual(specifiersIn(src.join('\n')), ['../ingress/index.ts', './a.ts', './b.ts', './c.ts'])
    for (const line of [
      'const t = new Date()',
      'Date.now()',
      'crypto.getRandomValues(b)',
      'queueMicrotask(f)',
      'globalThis.process.env.X',
      'Math.random()',
      'setTimeout(f, 1)'
    ])
      assert.ok(readsAmbient(line), line)
    assert.ok(!readsAmbient(' * Date.now() in a comment'))
    assert.ok(!readsAmbient('const update = nowMs + 1'))
  })

  it('the import scanner sees both static and dynamic imports', function () {
    const specs = importsOf('mix/crypto/suite.ts')
    assert.ok(specs.includes('node:crypto'))
    assert.ok(specs.includes('./native.ts'))
  })
})

/**
 * Enforces the layering of DESIGN.md §12 and STYLE.md rules 1, 3 and 4 by reading import
 * specifiers: mix/ is pure; only mix/crypto/ touches the crypto libraries; daemon/ and client/
 * reach mix/ through mix/index.ts only; cli/ reaches daemon/ and client/ through their index.ts.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

function files (dir: string): string[] {
  const abs = join(ROOT, dir)
  let out: string[] = []
  let entries: string[]
  try { entries = readdirSync(abs) } catch { return [] }
  for (const e of entries) {
    const p = join(abs, e)
    if (statSync(p).isDirectory()) out = out.concat(files(relative(ROOT, p)))
    else if (p.endsWith('.ts')) out.push(relative(ROOT, p))
  }
  return out
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g

export function importsOf (file: string): string[] {
  const src = readFileSync(join(ROOT, file), 'utf8')
  const out: string[] = []
  for (const m of src.matchAll(IMPORT)) out.push((m[1] ?? m[2])!)
  return out
}

/** The repository-relative target of a relative specifier, or null for a package. */
function target (file: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null
  return relative(ROOT, resolve(ROOT, dirname(file), spec)).split(sep).join('/')
}

const top = (p: string): string => p.split('/')[0]!

describe('layering', function () {
  it('finds the source files it checks', function () {
    assert.ok(files('mix').length >= 10)
  })

  it('mix/ imports only mix/, and only mix/crypto/ imports crypto libraries', function () {
    const bad: string[] = []
    for (const f of files('mix')) {
      for (const spec of importsOf(f)) {
        const t = target(f, spec)
        if (t !== null) { if (top(t) !== 'mix') bad.push(`${f} -> ${spec}`); continue }
        const inCrypto = f.startsWith('mix/crypto/')
        if (inCrypto && ['sodium-native', 'libsodium-wrappers', 'node:crypto'].includes(spec)) continue
        bad.push(`${f} -> ${spec}`)
      }
    }
    assert.deepEqual(bad, [])
  })

  it('mix/ reads no clock, ambient randomness, timers or process state', function () {
    const bad: string[] = []
    const forbidden = /\b(Date\.now|new Date\(|Math\.random|setTimeout|setInterval|setImmediate|process\.|performance\.now)\b/
    for (const f of files('mix')) {
      readFileSync(join(ROOT, f), 'utf8').split('\n').forEach((line, i) => {
        if (!/^\s*(\/\/|\*)/.test(line) && forbidden.test(line)) bad.push(`${f}:${i + 1}: ${line.trim()}`)
      })
    }
    assert.deepEqual(bad, [])
  })

  it('daemon/ and client/ reach mix/ through mix/index.ts only; cli/ reaches daemon/ and client/ through their index.ts', function () {
    const bad: string[] = []
    for (const layer of ['daemon', 'client', 'cli']) {
      for (const f of files(layer)) {
        for (const spec of importsOf(f)) {
          const t = target(f, spec)
          if (t === null || top(t) === layer) continue
          const allowed = layer === 'cli' ? ['daemon/index.ts', 'client/index.ts'] : ['mix/index.ts']
          if (!allowed.includes(t)) bad.push(`${f} -> ${spec}`)
        }
      }
    }
    assert.deepEqual(bad, [])
  })

  it('the import scanner sees both static and dynamic imports', function () {
    const specs = importsOf('mix/crypto/suite.ts')
    assert.ok(specs.includes('node:crypto'))
    assert.ok(specs.includes('./native.ts'))
  })
})

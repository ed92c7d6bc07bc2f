/**
 * The native modules sealmix ships load and work on the Node running the tests (CI runs the suite
 * on Node 24 LTS, the image's Node; Node 20.19 is still supported): sodium-native, classic-level
 * (through level, on a real LevelDB) and bufferutil (which ws uses), each from its native binary,
 * not a JavaScript fallback. On linux-x64, where CI and the image run, each binary is the one
 * prebuilt in the package (prebuilds/): nothing is compiled at install, so no install script or
 * compiler is needed.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, relative, sep } from 'node:path'
import { Level } from 'level'
import sodium from 'sodium-native'
import { PROJECT } from '../helpers/testnet.ts'

const require = createRequire(import.meta.url)

interface BufferUtil {
  mask: (source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number) => void
  unmask: (buffer: Buffer, mask: Buffer) => void
}

/** The native binaries (.node files) loaded into this process, from the diagnostic report. */
function loadedAddons(): string[] {
  const report = process.report as typeof process.report & { excludeNetwork?: boolean }
  const excludeNetwork = report.excludeNetwork
  report.excludeNetwork = true // no socket details: the report is only read for its shared objects
  try {
    return ((report.getReport() as { sharedObjects?: string[] }).sharedObjects ?? []).filter(p => p.endsWith('.node'))
  } finally {
    report.excludeNetwork = excludeNetwork
  }
}

describe('native modules on this Node', function () {
  const loaded = new Map<string, string>()

  /** The one native binary of `pkg` this process loaded; on linux-x64, a prebuilt one. */
  function addonOf(pkg: string): string {
    const hits = loadedAddons().filter(p => p.includes(`${sep}node_modules${sep}${pkg}${sep}`))
    assert.equal(hits.length, 1, `one native binary of ${pkg} loaded, found: ${hits.join(', ') || 'none'}`)
    const path = relative(PROJECT, hits[0]!)
    if (process.platform === 'linux' && process.arch === 'x64')
      assert.ok(path.includes(`${sep}prebuilds${sep}linux-x64${sep}`), `${pkg} from its prebuilt binary, not ${path}`)
    loaded.set(pkg, path)
    return path
  }

  after(function () {
    const where = [...loaded].map(([pkg, path]) => `${pkg} (${path})`).join(', ')
    console.log(
      `      node ${process.version} (modules ${process.versions.modules}, N-API ${process.versions.napi}) on ${process.platform}-${process.arch}: ${where || 'nothing loaded'}`
    )
  })

  it('sodium-native: its native binary hashes a known BLAKE2b-256 vector', function () {
    const out = Buffer.alloc(32)
    sodium.crypto_generichash(out, Buffer.alloc(0))
    assert.equal(out.toString('hex'), '0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8')
    addonOf('sodium-native')
  })

  it('classic-level: a real LevelDB in a temporary directory takes a synced batch and keeps it across a reopen', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'sealmix-native-'))
    try {
      const enc = { keyEncoding: 'view', valueEncoding: 'view' } as const
      let db = new Level<Uint8Array, Uint8Array>(join(dir, 'db'), enc)
      await db.open()
      await db.put(Buffer.from('k1'), Buffer.from('v1'))
      await db.batch(
        [
          { type: 'put', key: Buffer.from('k2'), value: Buffer.from('v2') },
          { type: 'del', key: Buffer.from('k1') }
        ],
        { sync: true }
      )
      await db.close()
      db = new Level<Uint8Array, Uint8Array>(join(dir, 'db'), enc)
      await db.open()
      assert.equal(Buffer.from((await db.get(Buffer.from('k2')))!).toString(), 'v2')
      assert.equal(await db.get(Buffer.from('k1')), undefined)
      const keys: string[] = []
      for await (const k of db.keys()) keys.push(Buffer.from(k).toString())
      assert.deepEqual(keys, ['k2'])
      await db.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    addonOf('classic-level')
  })

  it('bufferutil: the native binding (not its JavaScript fallback) masks as the fallback does, and ws uses it', function () {
    const native = require('bufferutil') as BufferUtil
    const fallback = require('bufferutil/fallback') as BufferUtil
    assert.notEqual(native.mask, fallback.mask, 'bufferutil fell back to JavaScript')
    for (const f of [native.mask, native.unmask]) assert.match(Function.prototype.toString.call(f), /\[native code\]/)
    addonOf('bufferutil')
    const source = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 131 + 7) & 0xff))
    const key = Buffer.from([0x12, 0x34, 0x56, 0x78])
    const a = Buffer.alloc(1010)
    const b = Buffer.alloc(1010)
    native.mask(source, key, a, 5, source.length)
    fallback.mask(source, key, b, 5, source.length)
    assert.deepEqual(a, b)
    native.unmask(a, key)
    fallback.unmask(b, key)
    assert.deepEqual(a, b)
    // ws masks frames with bufferutil where Node has no http.websocketMask (before 26.12) and
    // WS_NO_BUFFER_UTIL is unset: its mask is then a wrapper that calls bufferutil for long frames.
    const builtIn = (http as { websocketMask?: unknown }).websocketMask !== undefined
    if (!builtIn && process.env.WS_NO_BUFFER_UTIL === undefined) {
      const wsBufferUtil = require(join(dirname(require.resolve('ws')), 'lib', 'buffer-util.js')) as BufferUtil
      assert.match(Function.prototype.toString.call(wsBufferUtil.mask), /bufferUtil\.mask/, 'ws masks with bufferutil')
    }
  })
})

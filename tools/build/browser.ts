/**
 * The browser bundles (part of `npm run build`): dist/sealmix-client.js, the SDK as one ESM file
 * (client/browser/index.ts), and dist/web/app.js, the devnet's chat page. The SDK's Node-only
 * pieces (the sodium-native binding, and node:crypto in the Node suites) are reached only through
 * loadCrypto, which a browser never calls; they are replaced by a module whose every export
 * throws a clear error, so that the bundle needs nothing a browser lacks. `--json` prints the
 * sizes (bytes, and gzip bytes as a server would send them).
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build, type Plugin } from 'esbuild'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Imports that exist only in Node: what the browser build gets instead (also the bench's and the browser vector test's bundles). */
const NODE_ONLY = /^(node:crypto|sodium-native)$/
export const nodeOnly: Plugin = {
  name: 'node-only',
  setup(b) {
    b.onResolve({ filter: NODE_ONLY }, a => ({ path: a.path, namespace: 'node-only' }))
    b.onLoad({ filter: /.*/, namespace: 'node-only' }, a => ({
      contents: `const no = () => { throw new Error('${a.path} is not in the browser build: use createBrowserCrypto') }
export const createCipheriv = no, hash = no, hkdfSync = no
export default new Proxy({}, { get: no })`,
      loader: 'js'
    }))
  }
}

/**
 * The page imports the SDK's index for SealmixWorkerClient alone: the project's own modules have
 * no import-time side effects (test/layering.test.ts refuses side-effect imports), so saying so
 * lets esbuild leave out everything the page does not use (the SDK itself runs in the worker).
 */
const ownModulesArePure: Plugin = {
  name: 'own-modules-are-pure',
  setup(b) {
    b.onResolve({ filter: /^\./ }, async a => {
      if (a.pluginData === 'pure') return undefined
      const r = await b.resolve(a.path, {
        kind: a.kind,
        resolveDir: a.resolveDir,
        importer: a.importer,
        pluginData: 'pure'
      })
      if (r.errors.length > 0) return { errors: r.errors }
      return { path: r.path, namespace: r.namespace, external: r.external, sideEffects: false }
    })
  }
}

export const BROWSER_OUTPUTS = {
  sdk: 'dist/sealmix-client.js',
  page: 'dist/web/app.js'
} as const

async function main(): Promise<void> {
  const common = {
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    logLevel: 'warning',
    absWorkingDir: ROOT
  } as const
  await build({
    ...common,
    entryPoints: ['client/browser/index.ts'],
    outfile: BROWSER_OUTPUTS.sdk,
    inject: ['client/browser/buffer-global.ts'],
    plugins: [nodeOnly]
  })
  await build({
    ...common,
    entryPoints: ['tools/devnet/web/app.ts'],
    outfile: BROWSER_OUTPUTS.page,
    plugins: [ownModulesArePure, nodeOnly]
  })
  if (process.argv.includes('--json')) {
    const sizes = Object.fromEntries(
      Object.entries(BROWSER_OUTPUTS).map(([k, f]) => {
        const b = readFileSync(join(ROOT, f))
        return [k, { file: f, bytes: b.length, gzipBytes: gzipSync(b, { level: 9 }).length }]
      })
    )
    console.log(JSON.stringify(sizes))
  }
}

// Run as a script (npm run build), not when a benchmark imports the output names.
if (process.argv[1] === fileURLToPath(import.meta.url)) await main()

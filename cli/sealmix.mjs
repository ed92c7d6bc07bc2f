#!/usr/bin/env node
// The installed `sealmix` command runs the esbuild bundle with node alone: tsx and TypeScript are
// devDependencies, absent from a production install. `npm run build` writes the bundle (npm runs
// it as `prepare` on install from a checkout); from a checkout, `node --import tsx cli/index.ts`
// runs the sources.
import { existsSync } from 'node:fs'

const bundle = new URL('../dist/sealmix.mjs', import.meta.url)
if (!existsSync(bundle)) {
  console.error('sealmix: dist/sealmix.mjs is missing; run npm run build')
  process.exit(70)
}
await import(bundle.href)

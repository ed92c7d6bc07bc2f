import { VECTORS_DIR, vectorTally } from '../helpers/vectors.ts'

// Root-level hook: after the whole run, say how many known-answer cases were checked.
after(function () {
  if (vectorTally.size === 0) {
    console.log(`\n  Vector cases run: none (no vectors found under ${VECTORS_DIR})`)
    return
  }
  console.log('\n  Vector cases run (third-party known-answer data from ../shared/vectors/):')
  for (const [k, v] of [...vectorTally.entries()].sort()) console.log(`    ${String(v).padStart(4)}  ${k}`)
})

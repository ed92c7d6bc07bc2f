/**
 * A busy neighbour: processes that burn CPU on every core, for running the tests (`npm run
 * test:busy`) or the devnet (`npm run busy -- npm start`) on a machine that is not quiet.
 *
 *   node --import tsx test/busy/neighbour.ts [--per-core N] [--max 30m] [-- COMMAND ARGS...]
 *
 * Without a command it burns until Ctrl-C. With one, it runs the command beside the burners and
 * exits with the command's status. Bounded either way: the burners are killed when this process
 * ends, and each burner also exits by itself after `--max` (default 30 minutes), so a neighbour
 * whose parent was SIGKILLed does not burn forever.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { availableParallelism, loadavg } from 'node:os'
import { parseArgs } from 'node:util'

const { values, positionals } = parseArgs({
  options: { 'per-core': { type: 'string', default: '2' }, max: { type: 'string', default: '30m' } },
  allowPositionals: true,
  strict: true
})
const perCore = Number(values['per-core'])
const m = /^(\d+)(s|m)$/.exec(values.max)
if (!Number.isInteger(perCore) || perCore < 1 || perCore > 16 || m === null) {
  console.error('busy: --per-core must be 1..16 and --max a duration such as 90s or 30m')
  process.exit(64)
}
const maxMs = Number(m[1]) * (m[2] === 's' ? 1000 : 60_000)

// Each burner spins for 50 ms slices and checks its own deadline, so it never outlives `maxMs`.
const BURN = `const end = Date.now() + ${maxMs}; let x = 0; while (Date.now() < end) { const t = Date.now() + 50; while (Date.now() < t) x = (x * 1103515245 + 12345) | 0 }`
const burners: ChildProcess[] = []
for (let i = 0; i < availableParallelism() * perCore; i++)
  burners.push(spawn(process.execPath, ['-e', BURN], { stdio: 'ignore' }))
const stopBurners = (): void => {
  for (const b of burners) if (b.exitCode === null) b.kill('SIGKILL')
}
process.on('exit', stopBurners)
console.error(
  `busy: ${burners.length} CPU burners on ${availableParallelism()} cores (at most ${values.max}); load average now ${loadavg()[0]!.toFixed(1)}`
)
const report = setInterval(
  () =>
    console.error(
      `busy: load average ${loadavg()
        .map(l => l.toFixed(1))
        .join(' ')}`
    ),
  60_000
)

if (positionals.length === 0) {
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.on(sig, () => {
      clearInterval(report)
      process.exit(0)
    })
} else {
  const cmd = spawn(positionals[0]!, positionals.slice(1), { stdio: 'inherit' })
  // A terminal's Ctrl-C reaches the command itself (same process group): wait for it to finish.
  process.on('SIGINT', () => {})
  process.on('SIGTERM', () => {
    cmd.kill('SIGTERM')
  })
  cmd.on('exit', (code, signal) => {
    clearInterval(report)
    console.error(
      `busy: the command ended (${signal ?? `status ${String(code)}`}); load average ${loadavg()
        .map(l => l.toFixed(1))
        .join(' ')}`
    )
    process.exit(code ?? 1)
  })
}

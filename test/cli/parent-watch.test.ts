/**
 * A sealmix program started with SEALMIX_EXIT_WITH_PARENT=1 (as the devnet starts its children,
 * in their own process group, and as the tests start theirs) stops when the program that started
 * it is killed with SIGKILL, instead of running on, re-parented, holding ports and cores. The
 * launcher in the middle is a real process killed with SIGKILL; the control starts the same
 * program without the variable and sees it outlive its launcher.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SEALMIX } from '../helpers/bundle.ts'
import { waitFor } from '../helpers/testnet.ts'

/** A launcher that starts `sealmix standin-homeserver` detached, prints its pid, and waits to be killed. */
const LAUNCHER = `
const { spawn } = require('node:child_process')
const [bundle, config, watch] = process.argv.slice(1)
const env = { ...process.env }
if (watch === '1') env.SEALMIX_EXIT_WITH_PARENT = '1'
else delete env.SEALMIX_EXIT_WITH_PARENT
const c = spawn(process.execPath, [bundle, 'standin-homeserver', '--config', config, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'], detached: true, env })
c.stdout.once('data', () => console.log(String(c.pid)))
setInterval(() => {}, 1000)
`

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('cli: a program exits with its launcher', function () {
  this.timeout(60_000)
  let dir: string
  const left: number[] = []
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sealmix-parent-'))
    writeFileSync(
      join(dir, 'hs.json'),
      JSON.stringify({
        serverName: 'example.org',
        asToken: 'as-token-for-the-parent-test',
        users: [{ userId: '@a:example.org', deviceId: 'A', accessToken: 'token-for-the-parent-test' }]
      })
    )
  })
  after(() => {
    for (const pid of left) if (alive(pid)) process.kill(pid, 'SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })

  /** Start launcher → program, wait until the program serves, SIGKILL the launcher; the program's pid. */
  async function orphan(watch: boolean): Promise<number> {
    const launcher = spawn(process.execPath, ['-e', LAUNCHER, SEALMIX[0]!, join(dir, 'hs.json'), watch ? '1' : '0'], {
      stdio: ['ignore', 'pipe', 'inherit']
    })
    const pid = await new Promise<number>((resolve, reject) => {
      launcher.stdout!.once('data', d => resolve(Number(String(d).trim())))
      launcher.once('exit', () => reject(new Error('the launcher exited before its program started')))
    })
    left.push(pid)
    const gone = new Promise(resolve => launcher.once('exit', resolve))
    launcher.kill('SIGKILL')
    await gone
    return pid
  }

  it('with SEALMIX_EXIT_WITH_PARENT=1 the program stops once its launcher is killed', async () => {
    const pid = await orphan(true)
    await waitFor(() => !alive(pid), 30_000, 'the orphaned program exits')
  })

  it('control: without it, the same program outlives its launcher', async () => {
    const pid = await orphan(false)
    // The watcher asks every 500 ms; ten of its periods, measured from after the launcher is gone,
    // are ample for it to have seen the change.
    const seen = Date.now()
    await waitFor(() => Date.now() - seen > 5000 || !alive(pid), 30_000, 'five seconds pass')
    assert.ok(alive(pid), 'the program without the variable is still running')
    process.kill(pid, 'SIGKILL')
  })
})

/** `sealmix devnet`: five relay processes on loopback, cover traffic flowing, a clean stop on SIGINT. */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { PROJECT, waitFor } from '../helpers/testnet.ts'

describe('sealmix devnet', function () {
  this.timeout(90_000)

  it('starts 5 relays, carries loop cover through all layers, and stops on SIGINT', async function () {
    const p = spawn(process.execPath, ['--import', 'tsx', 'cli/index.ts', 'devnet'], { cwd: PROJECT, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (d: Buffer) => { out += d.toString() })
    p.stderr.on('data', (d: Buffer) => { out += d.toString() })
    try {
      await waitFor(() => /5\/5 relays up, 6\/6 links \| loops [1-9]\d*\/\d+ returned/.test(out), 45_000, `devnet status with loops returned (output so far: ${out.slice(-300)})`)
      const dir = /data in (\S+) \(temporary\)/.exec(out)?.[1]
      assert.ok(dir !== undefined, 'prints its data directory')
      const code = await new Promise<number | null>(resolve => { p.once('exit', c => resolve(c)); p.kill('SIGINT') })
      assert.equal(code, 0)
      assert.match(out, /devnet: stopped/)
      const { existsSync } = await import('node:fs')
      assert.equal(existsSync(dir), false, 'the temporary data directory is removed')
    } finally {
      if (p.exitCode === null) p.kill('SIGKILL')
    }
  })
})

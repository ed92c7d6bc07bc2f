/**
 * `sealmix devnet --epoch 4s`: three directory authorities, five relays, an ingress, the stand-in
 * homeserver and two demo clients as processes on loopback; mix keys rotate every 4 s while demo
 * messages keep being delivered and acknowledged; a clean stop on SIGINT.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { PROJECT, waitFor } from '../helpers/testnet.ts'

describe('sealmix devnet', function () {
  this.timeout(150_000)

  it('starts, keeps delivering demo messages with acks through five relays while keys rotate every 4 s, and stops on SIGINT', async function () {
    const p = spawn(process.execPath, ['--import', 'tsx', 'cli/index.ts', 'devnet', '--epoch', '4s'], { cwd: PROJECT, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (d: Buffer) => { out += d.toString() })
    p.stderr.on('data', (d: Buffer) => { out += d.toString() })
    try {
      await waitFor(() => /epoch \d+ \| 5\/5 relays up, 6\/6 links \| loops [1-9]\d*\/\d+ returned.*ingress 2\/2 links, [1-9]\d* delivered \| homeserver got [1-9]\d* \| sent \d+, acked [1-9]\d*.*, received [1-9]/.test(out), 60_000, `devnet status with loops returned and demo messages acked (output so far: ${out.slice(-400)})`)
      await waitFor(() => /chat: bob got "(re: )?hello #\d+ from (alice|bob)" from @alice:devnet.local \(certificate verified\)/.test(out), 30_000, 'bob verified a message from alice')
      // Three more rotations later, more messages have been acknowledged.
      const status = (): { epoch: number, acked: number } => {
        const m = [...out.matchAll(/devnet: epoch (\d+) \|.*acked (\d+)/g)].pop()
        return { epoch: Number(m?.[1] ?? -1), acked: Number(m?.[2] ?? 0) }
      }
      const then = status()
      await waitFor(() => status().epoch >= then.epoch + 3 && status().acked >= then.acked + 3, 60_000, `three rotations with acks (from ${JSON.stringify(then)}; output so far: ${out.slice(-300)})`)
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

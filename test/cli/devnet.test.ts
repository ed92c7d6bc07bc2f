/**
 * `sealmix devnet --epoch 4s`: three directory authorities, five relays, an ingress, the stand-in
 * homeserver and two demo clients as processes on loopback; mix keys rotate every 4 s while demo
 * messages keep being delivered and acknowledged; the room demo's members verify each other's room
 * messages until alice blocks carol, whose next message the ingress refuses and after which nothing
 * of hers reaches the room; a clean stop on SIGINT. A child that dies is reported by name; a reused
 * --data-dir chats again; a closed pipe stops the devnet in order.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PROJECT, waitFor } from '../helpers/testnet.ts'

/** `name got "hello #n from sender"` lines of the room demo, verified and joined, in the order printed. */
function roomLines(out: string, name: string, sender: string): number[] {
  const re = new RegExp(
    `room: ${name} got "hello #(\\d+) from ${sender}" from @${sender}:devnet\\.local \\(sender verified, joined\\)`,
    'g'
  )
  return [...out.matchAll(re)].map(m => Number(m[1]))
}

describe('sealmix devnet', function () {
  this.timeout(240_000)

  it('starts, keeps delivering demo messages with acks through five relays while keys rotate every 4 s, shows a room with verified senders and a block, and stops on SIGINT', async function () {
    const p = spawn(process.execPath, ['dist/sealmix.mjs', 'devnet', '--epoch', '4s'], {
      cwd: PROJECT,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    p.stderr.on('data', (d: Buffer) => {
      out += d.toString()
    })
    try {
      await waitFor(
        () =>
          /epoch \d+ \| 5\/5 relays up, 6\/6 links \| loops [1-9]\d*\/\d+ returned.*ingress 2\/2 links, [1-9]\d* delivered \| homeserver got [1-9]\d* \| sent \d+, acked [1-9]\d*.*, received [1-9]/.test(
            out
          ),
        60_000,
        `devnet status with loops returned and demo messages acked (output so far: ${out.slice(-400)})`
      )
      await waitFor(
        () =>
          /chat: bob got "(re: )?hello #\d+ from (alice|bob)" from @alice:devnet.local \(certificate verified\)/.test(
            out
          ),
        30_000,
        'bob verified a message from alice'
      )
      // Three more rotations later, more messages have been acknowledged.
      const status = (): { epoch: number; acked: number } => {
        const m = [...out.matchAll(/devnet: epoch (\d+) \|.*acked (\d+)/g)].pop()
        return { epoch: Number(m?.[1] ?? -1), acked: Number(m?.[2] ?? 0) }
      }
      const then = status()
      await waitFor(
        () => status().epoch >= then.epoch + 3 && status().acked >= then.acked + 3,
        60_000,
        `three rotations with acks (from ${JSON.stringify(then)}; output so far: ${out.slice(-300)})`
      )
      await roomAndBlock(() => out)
      const dir = /data in (\S+) \(temporary\)/.exec(out)?.[1]
      assert.ok(dir !== undefined, 'prints its data directory')
      const code = await new Promise<number | null>(resolve => {
        p.once('exit', c => resolve(c))
        p.kill('SIGINT')
      })
      assert.equal(code, 0)
      assert.match(out, /devnet: stopped/)
      assert.equal(existsSync(dir), false, 'the temporary data directory is removed')
    } finally {
      if (p.exitCode === null) p.kill('SIGKILL')
    }
  })
})

/**
 * The room demo in a running devnet's output: alice and bob each verify the other's room messages
 * (and carol's before the block), alice blocks carol, the ingress refuses carol's next message;
 * then, while alice and bob each get two more of the other's, no message carol sent after the
 * refusal shows up anywhere.
 */
async function roomAndBlock(out: () => string): Promise<void> {
  const seen = (name: string, sender: string): boolean => roomLines(out(), name, sender).length > 0
  // The room demo boots beside the chat: on a busy machine its first messages may come a while after.
  await waitFor(
    () => seen('alice', 'bob') && seen('bob', 'alice'),
    90_000,
    `alice and bob each verified a room message of the other (output so far: ${out().slice(-400)})`
  )
  await waitFor(
    () => seen('alice', 'carol') || seen('bob', 'carol'),
    60_000,
    'a member verified a room message from carol'
  )
  await waitFor(
    () => out().includes('room: alice blocks carol: a new room key, shared with bob only'),
    60_000,
    `the block (output so far: ${out().slice(-400)})`
  )
  const refusal = /room: carol's message was refused by the ingress \(blocked\): carol stops sending after hello #(\d+)/
  await waitFor(() => refusal.test(out()), 60_000, `carol's refusal (output so far: ${out().slice(-400)})`)
  const at = out().search(refusal)
  const last = Number(refusal.exec(out())![1])
  const after = (name: string, sender: string): number => roomLines(out().slice(at), name, sender).length
  await waitFor(
    () => after('alice', 'bob') >= 2 && after('bob', 'alice') >= 2,
    60_000,
    `alice and bob go on after the block (output so far: ${out().slice(-400)})`
  )
  for (const name of ['alice', 'bob'])
    assert.deepEqual(
      roomLines(out(), name, 'carol').filter(n => n > last),
      [],
      `${name} got no message carol sent after her refusal (her last was #${last})`
    )
}

describe('sealmix devnet supervises its children', function () {
  this.timeout(240_000)

  /** A devnet process whose output is collected; `until` waits for a pattern in it. */
  const run = (
    args: string[]
  ): { p: ChildProcess; out: () => string; until: (re: RegExp, what: string) => Promise<void> } => {
    const p = spawn(process.execPath, ['dist/sealmix.mjs', 'devnet', ...args], {
      cwd: PROJECT,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    p.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
    })
    p.stderr!.on('data', (d: Buffer) => {
      out += d.toString()
    })
    return {
      p,
      out: () => out,
      until: async (re, what) => {
        await waitFor(() => re.test(out) || p.exitCode !== null, 120_000, what)
        assert.match(out, re, `${what} (output: ${out.slice(-600)})`)
      }
    }
  }
  const childrenOf = (dir: string): string[] =>
    (spawnSync('pgrep', ['-af', 'sealmix.mjs'], { encoding: 'utf8' }).stdout ?? '')
      .split('\n')
      .filter(l => l.includes(dir))
  const dir = mkdtempSync(join(tmpdir(), 'sealmix-devnet-test-'))
  after(function () {
    rmSync(dir, { recursive: true, force: true })
  })

  it('reports a child that dies by name on the status line, and a reused --data-dir chats again; a closed pipe stops it cleanly', async function () {
    const first = run(['--data-dir', dir, '--epoch', '4s'])
    try {
      await first.until(/chat: \w+ got/, 'a first chat message')
      const victim = childrenOf(dir).find(l => l.includes('mix-2.yaml'))
      assert.ok(victim !== undefined, 'mix-2 runs as a child')
      process.kill(Number(victim.trim().split(' ')[0]), 'SIGKILL')
      await first.until(/devnet: mix-2 stopped unexpectedly \(killed by SIGKILL\)/, 'the dead child reported by name')
      await first.until(/\| DOWN: mix-2/, 'the status line names what is down')
      const code = await new Promise<number | null>(resolve => {
        first.p.once('exit', c => resolve(c))
        first.p.kill('SIGTERM')
      })
      assert.equal(code, 0)
      assert.deepEqual(childrenOf(dir), [], 'no child left after SIGTERM')
    } finally {
      if (first.p.exitCode === null) first.p.kill('SIGKILL')
    }

    // The same data directory again: identities and stores are kept, and it chats again.
    const second = run(['--data-dir', dir, '--epoch', '4s'])
    try {
      await second.until(/chat: \w+ got/, 'a chat message from the reused data directory')
      // The reader goes away (`sealmix devnet | head`): the devnet stops in order.
      const exited = new Promise<number | null>(resolve => second.p.once('exit', c => resolve(c)))
      second.p.stdout!.destroy()
      assert.equal(await exited, 0)
      assert.deepEqual(childrenOf(dir), [], 'no child left after the pipe closed')
      assert.ok(existsSync(join(dir, 'gateway-a', 'keys')), '--data-dir is kept')
    } finally {
      if (second.p.exitCode === null) second.p.kill('SIGKILL')
    }
  })
})

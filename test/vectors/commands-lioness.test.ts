import assert from 'node:assert/strict'
import { BINDINGS, type Command, encodeCommand, loadCrypto, parseBlock } from '../../mix/index.ts'
import { checkLioness, LIONESS_FILE as LIONESS, type LionessVector } from '../helpers/vector-checks.ts'
import { assertChecks, hex, loadVectors, requireVectors, tally } from '../helpers/vectors.ts'

const CMDS = 'katzenpost/commands/sphinx_commands_vectors.json'

interface CmdVectors {
  NextHopID: string
  NextHopMAC: string
  NextHopCmdWant: string
  RecipientID: string
  RecipientCmdWant: string
  SURBReplyID: string
  SURBReplyCmdWant: string
  NodeDelay: number
  NodeDelayCmdWant: string
}

describe('Katzenpost routing-command vectors', function () {
  it('encodes each command to the upstream bytes and parses it back', function () {
    requireVectors(this, CMDS)
    const raw = loadVectors<CmdVectors | CmdVectors[]>(CMDS)
    const list = Array.isArray(raw) ? raw : [raw]
    for (const v of list) {
      const cases: Array<[Command, string]> = [
        [{ type: 'next_node_hop', id: hex(v.NextHopID), mac: hex(v.NextHopMAC) }, v.NextHopCmdWant],
        [{ type: 'recipient', id: hex(v.RecipientID) }, v.RecipientCmdWant],
        [{ type: 'surb_reply', id: hex(v.SURBReplyID) }, v.SURBReplyCmdWant],
        [{ type: 'node_delay', delayMs: v.NodeDelay }, v.NodeDelayCmdWant]
      ]
      for (const [cmd, want] of cases) {
        assert.equal(encodeCommand(cmd).toString('hex'), want, cmd.type)
        const block = Buffer.alloc(82)
        hex(want).copy(block)
        const parsed = parseBlock(block)
        assert.ok(parsed.ok)
        assert.deepEqual(
          parsed.commands.map(c => encodeCommand(c).toString('hex')),
          [want]
        )
        tally('katzenpost routing commands (encode and parse)')
      }
    }
  })
})

for (const binding of BINDINGS) {
  describe(`lioness-rs LIONESS-ChaCha20-BLAKE2b vector (${binding})`, function () {
    it('encrypts to the upstream ciphertext and decrypts back', async function () {
      requireVectors(this, LIONESS)
      const c = await loadCrypto(binding)
      const f = loadVectors<{ vectors: LionessVector[] }>(LIONESS)
      // The comparisons are in test/helpers/vector-checks.ts, which the Chromium run shares.
      assertChecks(checkLioness(c, f.vectors))
      tally(`lioness-rs vector (${binding})`, f.vectors.length)
    })
  })
}

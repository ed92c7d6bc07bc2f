import assert from 'node:assert/strict'
import {
  BINDINGS,
  type Command,
  encodeCommand,
  lionessDecryptRaw,
  lionessEncryptRaw,
  loadCrypto,
  parseBlock
} from '../../mix/index.ts'
import { hex, loadVectors, requireVectors, tally } from '../helpers/vectors.ts'

const CMDS = 'katzenpost/commands/sphinx_commands_vectors.json'
const LIONESS = 'lioness-rs/lioness_chacha20_blake2b.json'

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
      const f = loadVectors<{
        vectors: Array<{ name: string; key_hex: string; plaintext_hex: string; ciphertext_hex: string }>
      }>(LIONESS)
      assert.ok(f.vectors.length > 0)
      for (const v of f.vectors) {
        const block = hex(v.plaintext_hex)
        lionessEncryptRaw(c, hex(v.key_hex), block)
        assert.equal(block.toString('hex'), v.ciphertext_hex, v.name)
        lionessDecryptRaw(c, hex(v.key_hex), block)
        assert.equal(block.toString('hex'), v.plaintext_hex, v.name)
        tally(`lioness-rs vector (${binding})`)
      }
    })
  })
}

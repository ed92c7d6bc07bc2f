/** Every layer's error class: its stable code first in the one printed line, and its own name. */
import assert from 'node:assert/strict'
import { ClientError } from '../../../client/index.ts'
import { IngressError, RelayError } from '../../../daemon/index.ts'
import { CodedError, MixError } from '../../../mix/index.ts'

describe('error classes', function () {
  it('carry a code, print it first, and name their class explicitly (a bundler renames classes)', function () {
    const errors = [
      [new MixError('MIX_BAD_ARGUMENT', 'x'), 'MixError', 'MIX_BAD_ARGUMENT'],
      [new RelayError('RELAY_LISTEN_FAILED', 'x'), 'RelayError', 'RELAY_LISTEN_FAILED'],
      [new IngressError('INGRESS_HOMESERVER', 'x'), 'IngressError', 'INGRESS_HOMESERVER'],
      [new ClientError('CLIENT_CLOSED', 'x'), 'ClientError', 'CLIENT_CLOSED']
    ] as const
    for (const [e, name, code] of errors) {
      assert.ok(e instanceof CodedError)
      assert.equal(e.name, name)
      assert.equal(e.code, code)
      assert.equal(e.message, `${code}: x`)
      assert.match(String(e), new RegExp(`^${name}: ${code}: x$`))
    }
  })
})

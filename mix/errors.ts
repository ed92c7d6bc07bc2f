/**
 * MixError: the one error class of the pure protocol core.
 *
 * Thrown only for programmer errors and invariant violations (bad arguments at an API boundary,
 * a path longer than the geometry allows). Untrusted input never throws: Sphinx unwrap returns a
 * drop reason and the envelope parsers return `{ ok: false, code }` (docs/PROTOCOL.md, "Error codes").
 */
export type MixErrorCode =
  | 'MIX_BAD_ARGUMENT'
  | 'MIX_PATH_TOO_LONG'
  | 'MIX_BAD_COMMANDS'
  | 'MIX_PAYLOAD_SIZE'
  | 'MIX_NO_BINDING'
  | 'MIX_LOW_ORDER_KEY'

/**
 * The shape every sealmix error class shares: a stable code from a closed list, first in the
 * message too, so that one printed line names it. Each layer has its own subclass and codes.
 */
export class CodedError<C extends string> extends Error {
  readonly code: C

  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options)
    this.code = code
  }
}

export class MixError extends CodedError<MixErrorCode> {
  override readonly name = 'MixError'

  static BAD_ARGUMENT(what: string): MixError {
    return new MixError('MIX_BAD_ARGUMENT', what)
  }

  static PATH_TOO_LONG(hops: number, max: number): MixError {
    return new MixError('MIX_PATH_TOO_LONG', `a path of ${hops} hops does not fit a header of ${max} hops`)
  }

  static BAD_COMMANDS(why: string): MixError {
    return new MixError('MIX_BAD_COMMANDS', why)
  }

  static PAYLOAD_SIZE(got: number, want: number): MixError {
    return new MixError('MIX_PAYLOAD_SIZE', `payload must be exactly ${want} bytes (got ${got})`)
  }

  static NO_BINDING(name: string, cause?: unknown): MixError {
    return new MixError('MIX_NO_BINDING', `crypto binding '${name}' could not be loaded`, { cause })
  }

  static LOW_ORDER_KEY(): MixError {
    return new MixError('MIX_LOW_ORDER_KEY', 'X25519 produced the all-zero output (low-order public key)')
  }
}

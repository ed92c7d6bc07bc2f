/**
 * Strict big-endian codec for the MXSS structures (docs/PROTOCOL.md §10): fixed-width integers,
 * u16/u32 length prefixes, and a Reader that refuses truncation and (at end()) trailing bytes.
 * Reader errors are thrown as CodecError and turned into result codes at each parser's boundary,
 * so no exception from untrusted bytes reaches a caller.
 */
export class CodecError extends Error {
  constructor(readonly what: 'truncated' | 'trailing' | 'range') {
    super(what)
  }
}

export class Writer {
  readonly #parts: Buffer[] = []
  u8(v: number): this {
    this.#parts.push(Buffer.of(v))
    return this
  }
  u16(v: number): this {
    const b = Buffer.alloc(2)
    b.writeUInt16BE(v)
    this.#parts.push(b)
    return this
  }
  u32(v: number): this {
    const b = Buffer.alloc(4)
    b.writeUInt32BE(v)
    this.#parts.push(b)
    return this
  }
  /** Milliseconds since the epoch, as u64 (always below 2^53 here). */
  u64(v: number): this {
    const b = Buffer.alloc(8)
    b.writeBigUInt64BE(BigInt(v))
    this.#parts.push(b)
    return this
  }
  bytes(b: Uint8Array): this {
    this.#parts.push(Buffer.from(b))
    return this
  }
  lp16(b: Uint8Array | string): this {
    const v = typeof b === 'string' ? Buffer.from(b, 'utf8') : Buffer.from(b)
    if (v.length > 0xffff) throw new RangeError('a u16-length field cannot exceed 65535 bytes')
    return this.u16(v.length).bytes(v)
  }
  lp32(b: Uint8Array): this {
    return this.u32(b.length).bytes(b)
  }
  done(): Buffer {
    return Buffer.concat(this.#parts)
  }
}

export class Reader {
  #off = 0
  constructor(readonly buf: Uint8Array) {}
  get offset(): number {
    return this.#off
  }
  get remaining(): number {
    return this.buf.length - this.#off
  }
  #take(n: number): Buffer {
    if (n > this.remaining) throw new CodecError('truncated')
    const b = Buffer.from(this.buf.subarray(this.#off, this.#off + n))
    this.#off += n
    return b
  }
  u8(): number {
    return this.#take(1)[0]!
  }
  u16(): number {
    return this.#take(2).readUInt16BE()
  }
  u32(): number {
    return this.#take(4).readUInt32BE()
  }
  u64(): number {
    const v = this.#take(8).readBigUInt64BE()
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CodecError('range')
    return Number(v)
  }
  bytes(n: number): Buffer {
    return this.#take(n)
  }
  lp16(): Buffer {
    return this.#take(this.u16())
  }
  lp32(): Buffer {
    return this.#take(this.u32())
  }
  /** UTF-8 text with a u16 length; invalid UTF-8 is a range error. */
  text16(): string {
    const b = this.lp16()
    const s = b.toString('utf8')
    if (!Buffer.from(s, 'utf8').equals(b)) throw new CodecError('range')
    return s
  }
  rest(): Buffer {
    return this.#take(this.remaining)
  }
  end(): void {
    if (this.remaining !== 0) throw new CodecError('trailing')
  }
}

export type Result<T, C extends string> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: C; readonly detail?: string }

export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value })
export const fail = <C extends string>(code: C, detail?: string): { ok: false; code: C; detail?: string } =>
  detail === undefined ? { ok: false, code } : { ok: false, code, detail }

/** Run a parser over untrusted bytes; any CodecError becomes the given failure code. */
export function parseWith<T, C extends string>(code: C, f: () => Result<T, C>): Result<T, C> {
  try {
    return f()
  } catch (e) {
    if (e instanceof CodecError) return fail(code, e.what)
    throw e
  }
}

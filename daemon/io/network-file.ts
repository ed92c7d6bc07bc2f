/**
 * Reading a signed network file (static mode): the bytes from disk, verified against the trusted
 * signers, the geometry and the clock. Each program turns a failure into its own error code.
 */
import { readFileSync } from 'node:fs'
import { type CryptoSuite, type Geometry, type NetworkDocument, verifyDocument } from '../../mix/index.ts'

export type NetworkFile =
  | { readonly kind: 'verified'; readonly doc: NetworkDocument }
  | { readonly kind: 'unreadable'; readonly errno: string }
  | { readonly kind: 'refused'; readonly code: string; readonly detail: string | undefined }

export function readNetworkFile(
  c: CryptoSuite,
  file: string,
  signers: readonly string[],
  geometry: Geometry,
  nowMs: number
): NetworkFile {
  let bytes: Buffer
  try {
    bytes = readFileSync(file)
  } catch (e) {
    return { kind: 'unreadable', errno: (e as NodeJS.ErrnoException).code ?? 'unknown error' }
  }
  const r = verifyDocument(c, bytes, { signers: signers.map(s => Buffer.from(s, 'hex')), geometry, nowMs })
  return r.ok ? { kind: 'verified', doc: r.value } : { kind: 'refused', code: r.code, detail: r.detail }
}

/** Why a network file cannot be used, in the words every program prints (null when it verified). */
export function networkFileProblem(file: string, r: NetworkFile): string | null {
  if (r.kind === 'unreadable') return `cannot read the network file ${file}: ${r.errno}`
  if (r.kind === 'refused')
    return `the network document was refused: ${r.code}${r.detail !== undefined ? ` (${r.detail})` : ''}`
  return null
}

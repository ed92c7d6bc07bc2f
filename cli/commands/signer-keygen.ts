/** `sealmix signer-keygen`: a static network's signing key (made once, 0600); prints its public half. */
import { loadCrypto } from '../../daemon/index.ts'
import { loadSignerKey } from '../../tools/index.ts'
import type { Flags } from '../args.ts'
import { outFile } from '../files.ts'

export async function signerKeygenCommand(flags: Flags): Promise<number> {
  const c = await loadCrypto()
  console.log(Buffer.from(loadSignerKey(c, outFile(flags, 'out'), true).publicKey).toString('hex'))
  return 0
}

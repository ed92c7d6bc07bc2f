/** The server programs and the I/O they share: the import surface of daemon/ for cli/, tools/ and tests. */

export {
  type CryptoSuite,
  type IngressDescriptor,
  loadCrypto,
  type MixingParams,
  NETWORK_GEOMETRY,
  type RelayDescriptor,
  redactUrl
} from '../mix/index.ts'
export * from './authority/index.ts'
export * from './ingress/index.ts'
export * from './io/index.ts'
export * from './relay/index.ts'

/** The server programs and the I/O they share: the import surface of daemon/ for cli/, tools/ and tests. */
export * from './io/index.ts'
export * from './relay/index.ts'
export * from './authority/index.ts'
export * from './ingress/index.ts'
export { loadCrypto, NETWORK_GEOMETRY, redactUrl, type CryptoSuite, type RelayDescriptor, type IngressDescriptor, type MixingParams } from '../mix/index.ts'

/** The only import surface of mix/ for daemon/, client/ and tests of other layers. */
export { loadCrypto, BINDINGS, type CryptoSuite } from './crypto/suite.ts'
export type { BindingName, SodiumBinding } from './crypto/binding.ts'
export { systemRng, deterministicRng, type Rng } from './rng.ts'
export { MixError, type MixErrorCode } from './errors.ts'
export * from './sphinx/index.ts'
export * from './envelope/index.ts'
export * from './fragment.ts'

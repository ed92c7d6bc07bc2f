/** The daemon's public surface, for cli/ and tests. */
export { Relay, type RelayOptions } from './relay.ts'
export { loadConfig, parseConfig, ConfigSchema, type RelayConfig } from './config.ts'
export { RelayError, EXIT_STATUS, type RelayErrorCode } from './errors.ts'
export { ensureKeys, loadKeys, publicKeys, type RelayKeys } from './keys.ts'
export { createLogger, type Logger } from './log.ts'
export { RelayMetrics, DROP_REASONS } from './metrics.ts'
export { buildNetworkDocument, writeNetworkFile, loadSignerKey, DEFAULT_MIXING } from './network-file.ts'
export { loadCrypto, type CryptoSuite, type RelayDescriptor, type IngressDescriptor, type MixingParams } from '../mix/index.ts'

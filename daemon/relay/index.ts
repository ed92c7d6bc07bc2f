/** `sealmix run`: the relay program's import surface, for cli/, tools/ and tests. */
export { Relay, type RelayOptions } from './relay.ts'
export { loadConfig, parseConfig, ConfigSchema, type RelayConfig } from './config.ts'
export { ensureKeys, loadIdentity, loadKeys, publicKeys, type RelayIdentity, type RelayKeys } from './keys/identity.ts'
export { RelayMetrics, DROP_REASONS } from './metrics.ts'
export { inspectStore, type QueueSummary } from './inspect.ts'
export { repairStore, type RepairReport } from './repair.ts'
export { Listener } from './listener/server.ts'

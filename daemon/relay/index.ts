/** `sealmix run`: the relay program's import surface, for cli/, tools/ and tests. */

export { ConfigSchema, loadConfig, parseConfig, type RelayConfig } from './config.ts'
export { inspectStore, type QueueSummary } from './inspect.ts'
export { ensureKeys, loadIdentity, loadKeys, publicKeys, type RelayIdentity, type RelayKeys } from './keys/identity.ts'
export { Listener } from './listener/server.ts'
export { DROP_REASONS, RelayMetrics } from './metrics.ts'
export { Relay, type RelayOptions } from './relay.ts'
export { type RepairReport, repairStore } from './repair.ts'

/**
 * RelayError: the one error class of the daemon layer, with stable codes (docs/OPERATIONS.md,
 * "Error codes" gives each code's exit status). Messages never carry a client's or a peer's
 * address, ids or keys; the one address they name is a listener's own, from the config (a port
 * that cannot be bound), which the operator must see to fix it.
 */
import { CodedError } from '../../mix/index.ts'
import { errorCode } from './atomic-file.ts'
export type RelayErrorCode =
  | 'RELAY_CONFIG_UNREADABLE'
  | 'RELAY_CONFIG_INVALID'
  | 'RELAY_KEYS_INVALID'
  | 'RELAY_NETWORK_INVALID'
  | 'RELAY_NOT_IN_NETWORK'
  | 'RELAY_STORE_LOCKED'
  | 'RELAY_STORE_FAILED'
  | 'RELAY_STORE_CORRUPT'
  | 'RELAY_LISTEN_FAILED'

/** Process exit status per code (cli/ maps errors to exits with this table). */
export const EXIT_STATUS: Record<RelayErrorCode, number> = {
  RELAY_CONFIG_UNREADABLE: 78,
  RELAY_CONFIG_INVALID: 78,
  RELAY_KEYS_INVALID: 78,
  RELAY_NETWORK_INVALID: 78,
  RELAY_NOT_IN_NETWORK: 78,
  RELAY_STORE_LOCKED: 75,
  RELAY_STORE_FAILED: 74,
  // The store lost what it had committed: it will not fix itself, so a supervisor must not restart it in a loop.
  RELAY_STORE_CORRUPT: 78,
  RELAY_LISTEN_FAILED: 71
}

export class RelayError extends CodedError<RelayErrorCode> {
  override readonly name = 'RelayError'

  static CONFIG_UNREADABLE(path: string, why: string, cause?: unknown): RelayError {
    return new RelayError('RELAY_CONFIG_UNREADABLE', `cannot read config file ${path}: ${why}`, { cause })
  }

  /** `key` is the dotted path, `rule` what it must be, `got` the offending value as text. */
  static CONFIG_INVALID(key: string, rule: string, got: string): RelayError {
    return new RelayError('RELAY_CONFIG_INVALID', `${key === '' ? 'the config' : key} ${rule} (got ${got})`)
  }

  static KEYS_INVALID(what: string): RelayError {
    return new RelayError('RELAY_KEYS_INVALID', what)
  }

  static NETWORK_INVALID(code: string, detail?: string): RelayError {
    return new RelayError(
      'RELAY_NETWORK_INVALID',
      `the network document was refused: ${code}${detail !== undefined ? ` (${detail})` : ''}`
    )
  }

  static NOT_IN_NETWORK(): RelayError {
    return new RelayError(
      'RELAY_NOT_IN_NETWORK',
      "this relay's identity key is not listed in the network document, or its role or mix key differ"
    )
  }

  static STORE_LOCKED(cause: unknown): RelayError {
    return new RelayError(
      'RELAY_STORE_LOCKED',
      'the data directory is in use by another process (one relay per data directory)',
      { cause }
    )
  }

  static STORE_FAILED(what: string, cause?: unknown): RelayError {
    return new RelayError('RELAY_STORE_FAILED', what, { cause })
  }

  /** The database lost committed writes, or is missing though this relay has run: `sealmix repair` says what is lost. */
  static STORE_CORRUPT(what: string): RelayError {
    return new RelayError(
      'RELAY_STORE_CORRUPT',
      `${what}. The relay will not run with replay protection it cannot trust: run 'sealmix repair --config FILE' on the stopped relay (docs/OPERATIONS.md, "Repair")`
    )
  }

  static LISTEN_FAILED(what: string, cause?: unknown): RelayError {
    return new RelayError('RELAY_LISTEN_FAILED', what, { cause })
  }
}

/** What an operator can do about the usual ways a listen() fails, by errno code. */
const BIND_WHY: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this host'
}

/**
 * The one line for a listener that cannot bind: which listener (`section`, its config section:
 * `listen`, `metrics`, `api`), the configured address, why, and the key to change, e.g.
 * `cannot bind metrics 127.0.0.1:9464: address in use (metrics.port)`. Without `section` (a
 * tool's listener) no key is named.
 */
export function bindProblem(section: string | undefined, host: string, port: number, e: unknown): string {
  const code = errorCode(e)
  const at = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
  const key = section === undefined ? '' : ` (${section}.${code === 'EADDRNOTAVAIL' ? 'host' : 'port'})`
  return `cannot bind${section === undefined ? '' : ` ${section}`} ${at}: ${BIND_WHY[code] ?? code}${key}`
}

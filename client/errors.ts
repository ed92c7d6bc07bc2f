/**
 * ClientError: the one error class of client/ (the SDK and the ingress), with stable codes and the
 * process exit status the CLI uses for each. Messages never carry tokens, keys or addresses.
 */
import { CodedError } from '../mix/index.ts'
export type ClientErrorCode =
  | 'CLIENT_CONFIG_INVALID'
  | 'CLIENT_CONFIG_UNREADABLE'
  | 'CLIENT_NETWORK_INVALID'
  | 'CLIENT_DIRECTORY_UNAVAILABLE'
  | 'CLIENT_NO_ROUTE'
  | 'CLIENT_INGRESS_UNVERIFIED'
  | 'CLIENT_QUEUE_FULL'
  | 'CLIENT_ACK_TIMEOUT'
  | 'CLIENT_REFUSED'
  | 'CLIENT_CLOSED'
  | 'CLIENT_HOMESERVER'
  | 'CLIENT_STORE_LOCKED'
  | 'CLIENT_STORE_CORRUPT'
  | 'CLIENT_STORE_VERSION'
  | 'CLIENT_STORE_FAILED'
  | 'CLIENT_LISTEN_FAILED'
  | 'CLIENT_NO_ROOM_KEY'
  | 'CLIENT_ROOM_TOO_LARGE'
  | 'CLIENT_CRYPTO_UNAVAILABLE'

export const CLIENT_EXIT_STATUS: Record<ClientErrorCode, number> = {
  CLIENT_CONFIG_INVALID: 78,
  CLIENT_CONFIG_UNREADABLE: 78,
  CLIENT_NETWORK_INVALID: 78,
  CLIENT_DIRECTORY_UNAVAILABLE: 69,
  CLIENT_NO_ROUTE: 69,
  CLIENT_INGRESS_UNVERIFIED: 69,
  CLIENT_QUEUE_FULL: 75,
  CLIENT_ACK_TIMEOUT: 75,
  CLIENT_REFUSED: 77,
  CLIENT_CLOSED: 70,
  CLIENT_HOMESERVER: 69,
  CLIENT_STORE_LOCKED: 75,
  // The crypto suite cannot load: in a browser, WebAssembly refused (a Content-Security-Policy without 'wasm-unsafe-eval').
  CLIENT_CRYPTO_UNAVAILABLE: 69,
  // A record that does not open under the storage key: the wrong key, or damaged data (EX_DATAERR).
  CLIENT_STORE_CORRUPT: 65,
  // A store written in a format this SDK does not read (a newer SDK wrote it).
  CLIENT_STORE_VERSION: 65,
  // The database could not be opened or written (EX_IOERR).
  CLIENT_STORE_FAILED: 74,
  CLIENT_LISTEN_FAILED: 71,
  CLIENT_NO_ROOM_KEY: 78,
  CLIENT_ROOM_TOO_LARGE: 65
}

export class ClientError extends CodedError<ClientErrorCode> {
  override readonly name = 'ClientError'
}

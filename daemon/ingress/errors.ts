/**
 * IngressError: the one error class of the ingress, with stable codes and the process exit status
 * the CLI uses for each (sysexits.h values, as the relay's). Messages never carry tokens, keys or
 * addresses.
 */
import { CodedError } from '../../mix/index.ts'
export type IngressErrorCode =
  | 'INGRESS_CONFIG_INVALID'
  | 'INGRESS_CONFIG_UNREADABLE'
  | 'INGRESS_NETWORK_INVALID'
  | 'INGRESS_HOMESERVER'
  | 'INGRESS_STORE_LOCKED'
  | 'INGRESS_LISTEN_FAILED'

export const INGRESS_EXIT_STATUS: Record<IngressErrorCode, number> = {
  INGRESS_CONFIG_INVALID: 78,
  INGRESS_CONFIG_UNREADABLE: 78,
  INGRESS_NETWORK_INVALID: 78,
  INGRESS_HOMESERVER: 69,
  INGRESS_STORE_LOCKED: 75,
  INGRESS_LISTEN_FAILED: 71
}

export class IngressError extends CodedError<IngressErrorCode> {
  override readonly name = 'IngressError'
}

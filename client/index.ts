/** The SDK: the import surface of client/ for apps that route a Matrix client through sealmix. */

export { SEALED_EVENT_TYPE } from '../mix/index.ts'
export { DirectoryClient, directoryClient, fetchTransport } from './directory.ts'
export { CLIENT_EXIT_STATUS, ClientError, type ClientErrorCode } from './errors.ts'
export { fetchSenderCert, registerCapability } from './issuance.ts'
export { loadNetwork } from './network.ts'
export {
  type ClientOptions,
  type ClientStats,
  type Contact,
  type Device,
  SealmixClient,
  type SendOptions
} from './sdk.ts'

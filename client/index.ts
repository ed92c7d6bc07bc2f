/** The SDK: the import surface of client/ for apps that route a Matrix client through sealmix. */
export { SealmixClient, type ClientOptions, type ClientStats, type Contact, type Device, type SendOptions } from './sdk.ts'
export { ClientError, CLIENT_EXIT_STATUS, type ClientErrorCode } from './errors.ts'
export { loadNetwork } from './network.ts'
export { DirectoryClient, directoryClient, fetchTransport } from './directory.ts'
export { fetchSenderCert, registerCapability } from './issuance.ts'
export { SEALED_EVENT_TYPE } from '../mix/index.ts'

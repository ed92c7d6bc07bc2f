/** The SDK: the import surface of client/ for apps that route a Matrix client through sealmix. */

export { MAX_ROOM_BATCH, MAX_ROOM_DEVICES, ROOM_EVENT_TYPE, SEALED_EVENT_TYPE } from '../mix/index.ts'
export { type BootOptions, bootClient, type StartStep } from './boot.ts'
export type {
  ReceivedMessage,
  WorkerEvent,
  WorkerEventName,
  WorkerInit,
  WorkerStatus
} from './browser/protocol.ts'
export { SealmixWorkerClient, WorkerClientError, type WorkerLike } from './browser/worker-client.ts'
export { browserSocket } from './browser-socket.ts'
export { DirectoryClient, directoryClient, fetchTransport } from './directory.ts'
export { CLIENT_EXIT_STATUS, ClientError, type ClientErrorCode } from './errors.ts'
export { fetchRoomKey, fetchSenderCert, registerCapability, registerRoomKey } from './issuance.ts'
export { type AckTimes, type LatencyStages, STAGES, stagesOf } from './latency.ts'
export type { LinkSocket, SocketFactory, SocketOptions } from './link.ts'
export { loadNetwork } from './network.ts'
export {
  ContactSchema,
  contactOf,
  type Profile,
  type ProfileKeys,
  ProfileSchema,
  profileKeys,
  validateWith
} from './profile.ts'
export type { RoomEventInput, RoomOpenResult, RoomRejectCode } from './room-messages.ts'
export {
  MAX_ROOM_KEYS,
  newRoomKey,
  nextRoomKey,
  type RegisteredRoomKey,
  type RoomKey,
  type RoomKeyAccept,
  RoomKeyring
} from './rooms.ts'
export {
  type ClientOptions,
  type ClientStats,
  type Contact,
  type Device,
  SealmixClient,
  type SendOptions
} from './sdk.ts'
export { CLIENT_STORE_VERSION, type ClientSnapshot, ClientStore, storageKeyFor } from './store.ts'

/** `sealmix ingress`: the sealed ingress's import surface, for cli/, tools/ and tests. */

export {
  type IngressConfig,
  IngressConfigSchema,
  loadIngressConfig,
  parseIngressConfig,
  readIngressConfigFile
} from './config.ts'
export { INGRESS_EXIT_STATUS, IngressError, type IngressErrorCode } from './errors.ts'
export { Ingress, type IngressOptions } from './ingress.ts'
export { type IngressKeys, ingressDescriptor, initIngressKeys, loadIngressKeys } from './keys.ts'
export {
  type HomeserverAnswer,
  type HomeserverAuth,
  homeserverCall,
  type SinkResult,
  sendToDevice,
  whoami
} from './matrix.ts'
export {
  callbackSink,
  type Delivery,
  matrixSink,
  type RoomDelivery,
  type SealedContent,
  type SealedRoomContent,
  type Sink
} from './sink.ts'

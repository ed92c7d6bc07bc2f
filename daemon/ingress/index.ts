/** `sealmix ingress`: the sealed ingress's import surface, for cli/, tools/ and tests. */
export { Ingress, type IngressOptions } from './ingress.ts'
export { IngressError, INGRESS_EXIT_STATUS, type IngressErrorCode } from './errors.ts'
export { loadIngressConfig, parseIngressConfig, readIngressConfigFile, IngressConfigSchema, type IngressConfig } from './config.ts'
export { initIngressKeys, loadIngressKeys, ingressDescriptor, type IngressKeys } from './keys.ts'
export { matrixSink, callbackSink, type Sink, type Delivery, type SealedContent } from './sink.ts'
export { homeserverCall, whoami, sendToDevice, type HomeserverAuth, type HomeserverAnswer, type SinkResult } from './matrix.ts'

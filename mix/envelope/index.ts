/** MXSS v1 sealed sender: certificates, inner content, envelopes v1/v2, submissions. */
export * from './certs.ts'
export type { Result } from './codec.ts'
export * from './envelope-v1.ts'
export * from './envelope-v2.ts'
export type { SealCode } from './errors.ts'
export * from './inner.ts'
export * from './recipient.ts'
export * from './submit.ts'

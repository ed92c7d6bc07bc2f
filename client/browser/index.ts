/**
 * The SDK for browsers: the entry of the ESM bundle dist/sealmix-client.js (npm run build). The
 * same SealmixClient as in Node, with the browser crypto binding (libsodium-wrappers and the noble
 * libraries), the platform's WebSocket and fetch, and state in IndexedDB. Run it in a Web Worker
 * (runWorker) and drive it from the page with SealmixWorkerClient, so that building packets never
 * blocks the page; or use SealmixClient directly where that does not matter.
 */
import { createBrowserCrypto } from '../../mix/index.ts'
import { serveWorker, type WorkerScope } from './worker-host.ts'

export * from '../index.ts'
export { createBrowserCrypto }

/** Call once in a worker module: serves a SealmixClient to the page that started the worker. */
export function runWorker(scope: WorkerScope = globalThis as unknown as WorkerScope): void {
  serveWorker(scope, createBrowserCrypto)
}

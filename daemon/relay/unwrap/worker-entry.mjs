// Worker bootstrap: the daemon runs TypeScript through tsx; a worker thread does not inherit the
// main thread's loader hooks in every Node 20 setup, so register tsx here, then load the worker.
import { register } from 'tsx/esm/api'

register()
await import('./worker.ts')

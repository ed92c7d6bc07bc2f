#!/usr/bin/env node
// The installed `sealmix` command: sealmix runs its TypeScript through tsx.
import { register } from 'tsx/esm/api'
register()
await import('./index.ts')

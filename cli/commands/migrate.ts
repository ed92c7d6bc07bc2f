/**
 * `sealmix migrate --config FILE [--role ingress]`: bring a stopped relay's (or ingress's) data
 * directory to the format this sealmix runs on, in place, step by step (daemon/io/data-format.ts
 * lists the steps and what each changes). Its database is held open meanwhile, so a program
 * running on the directory makes migrate exit 75 before anything changes. Run twice, the second
 * run finds nothing to do.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import {
  DATA_FORMAT,
  type DataProgram,
  loadConfig,
  loadIngressConfig,
  migrateDataFormat,
  openUnchecked
} from '../../daemon/index.ts'
import { type Flags, one, usage } from '../args.ts'
import { configProgram } from '../config-role.ts'

export async function migrateCommand(flags: Flags): Promise<number> {
  const path = one(flags, 'config')
  const role = configProgram(flags, path)
  if (role !== 'relay' && role !== 'ingress')
    throw usage(
      role === 'authority'
        ? 'an authority keeps no data directory to migrate: migrate takes a relay or an ingress config'
        : `--role must be ingress, or left out for a relay (got ${role})`
    )
  const program: DataProgram = role
  const dataDir = program === 'ingress' ? loadIngressConfig(path).dataDir : loadConfig(path).dataDir
  const location = join(dataDir, 'db')
  const db = existsSync(join(location, 'CURRENT')) ? await openUnchecked(location, { createIfMissing: false }) : null
  let r: Awaited<ReturnType<typeof migrateDataFormat>>
  try {
    r = await migrateDataFormat(dataDir, program, db)
  } finally {
    await db?.close()
  }
  if (r.kind === 'up-to-date') console.log(`${dataDir} is in format ${DATA_FORMAT} already: nothing to do`)
  else if (r.kind === 'new') console.log(`${dataDir} holds no data yet: recorded format ${DATA_FORMAT}`)
  else {
    for (const s of r.steps) console.log(`format ${s.from} -> ${s.to}: ${s.what}`)
    console.log(`${dataDir} is now in format ${DATA_FORMAT}`)
  }
  return 0
}

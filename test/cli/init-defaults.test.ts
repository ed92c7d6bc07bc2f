/**
 * `sealmix init --role gateway|mix` writes every relay config key that has a default, with that
 * default (`sealmix init --help`, docs/OPERATIONS.md "Configuration"), and the file validates.
 * The keys are found by walking the zod schema of daemon/relay/config.ts, so a default added to
 * the schema and missing from the file fails here. The key files init makes have the format of
 * docs/OPERATIONS.md "Key files".
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { ConfigSchema, parseConfig } from '../../daemon/index.ts'
import { loadCrypto, relayId } from '../../mix/index.ts'
import { PROJECT } from '../helpers/testnet.ts'

type Run = { status: number | null; stdout: string; stderr: string }
const sealmix = (...args: string[]): Run =>
  spawnSync(process.execPath, ['dist/sealmix.mjs', ...args], { cwd: PROJECT, encoding: 'utf8', timeout: 60_000 })

const HEX = 'ab'.repeat(32)

/** Key paths (dotted) the schema gives a default, each with whether an optional section holds it (then only when that section is set). */
function defaultedPaths(schema: z.ZodType, prefix = '', optional = false): Array<{ path: string; optional: boolean }> {
  if (schema instanceof z.ZodDefault) return defaultedPaths(schema.unwrap() as z.ZodType, prefix, optional)
  if (schema instanceof z.ZodOptional) return defaultedPaths(schema.unwrap() as z.ZodType, prefix, true)
  if (!(schema instanceof z.ZodObject)) return []
  const out: Array<{ path: string; optional: boolean }> = []
  for (const [key, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
    const path = prefix === '' ? key : `${prefix}.${key}`
    if (field instanceof z.ZodDefault) out.push({ path, optional })
    out.push(...defaultedPaths(field, path, optional))
  }
  return out
}

function at(o: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o)
}

describe('sealmix init writes every relay default', function () {
  this.timeout(60_000)
  const root = mkdtempSync(join(tmpdir(), 'sealmix-init-defaults-'))
  after(function () {
    rmSync(root, { recursive: true, force: true })
  })

  const paths = defaultedPaths(ConfigSchema)
  const defaults = ConfigSchema.parse({ role: 'mix', dataDir: '/d', network: { file: 'n.json', signers: [HEX] } })

  it('finds the defaulted keys in the schema (the walk itself works)', function () {
    for (const p of [
      'version',
      'listen.port',
      'limits.workers',
      'replay.capacity',
      'spool.ttlMs',
      'mailbox.pullBatch',
      'log.level',
      'directory.maxSkewMs'
    ]) {
      assert.ok(
        paths.some(x => x.path === p),
        p
      )
    }
    assert.ok(!paths.some(x => x.path === 'limits.maxUnauthenticated'), 'maxUnauthenticated has no fixed default')
  })

  for (const mode of ['network', 'directory'] as const) {
    it(`with ${mode === 'network' ? '--network (a static file)' : '--authority (directory)'}: every defaulted key, with its default, and the file validates`, function () {
      const dir = join(root, mode)
      const out = join(dir, 'relay.yaml')
      const source =
        mode === 'network'
          ? ['--network', join(dir, 'network.json'), '--signer', HEX]
          : ['--authority', `http://127.0.0.1:1=${HEX}`, '--layer', '2']
      const r = sealmix(
        'init',
        '--role',
        'mix',
        '--data-dir',
        join(dir, 'data'),
        '--listen',
        '127.0.0.1:9000',
        '--out',
        out,
        ...source
      )
      assert.equal(r.status, 0, r.stderr)
      const written = parseYaml(readFileSync(out, 'utf8')) as Record<string, unknown>
      for (const { path, optional } of paths) {
        if (optional && at(written, path.split('.')[0]!) === undefined) continue
        assert.notEqual(at(written, path), undefined, `${path} is written`)
      }
      // What no option sets is the schema's default.
      for (const section of ['limits', 'replay', 'spool', 'mailbox'] as const)
        assert.deepEqual(written[section], defaults[section], section)
      assert.equal((written.limits as Record<string, unknown>).maxUnauthenticated, undefined)
      assert.doesNotThrow(() => parseConfig(written, dir))
      // validate-config checks that a static network file can be read (its contents: at start).
      if (mode === 'network') writeFileSync(join(dir, 'network.json'), '{}')
      const v = sealmix('validate-config', '--config', out)
      assert.equal(v.status, 0, v.stdout + v.stderr)
    })
  }

  it('makes the key files of docs/OPERATIONS.md "Key files": raw 32-byte Ed25519 seeds and X25519 secrets, 0600', async function () {
    const c = await loadCrypto('sodium-native')
    const data = join(root, 'keyfiles')
    const r = sealmix(
      'init',
      '--role',
      'gateway',
      '--data-dir',
      data,
      '--listen',
      '127.0.0.1:9000',
      '--out',
      join(root, 'keyfiles.yaml'),
      '--network',
      join(root, 'n.json'),
      '--signer',
      HEX
    )
    assert.equal(r.status, 0, r.stderr)
    const printed = JSON.parse(r.stdout) as { id: string; identityKey: string; mixKey: string }
    const file = (name: string): Buffer => {
      assert.equal(statSync(join(data, 'keys', name)).mode & 0o777, 0o600, name)
      const b = readFileSync(join(data, 'keys', name))
      assert.equal(b.length, 32, name)
      return b
    }
    const identity = c.signSeedKeypair(file('identity.key'))
    assert.equal(Buffer.from(identity.publicKey).toString('hex'), printed.identityKey)
    assert.equal(relayId(c, identity.publicKey), printed.id, 'the id is BLAKE2b-256 of the identity public key')
    const mix = Buffer.alloc(32)
    c.x25519Base(mix, file('mix.key'))
    assert.equal(mix.toString('hex'), printed.mixKey)
    file('mailbox.key')
    assert.equal(statSync(join(data, 'keys')).mode & 0o777, 0o700)

    const a = sealmix(
      'init',
      '--role',
      'authority',
      '--data-dir',
      join(root, 'authority'),
      '--network-name',
      'n',
      '--genesis-ms',
      '0',
      '--out',
      join(root, 'authority.yaml')
    )
    assert.equal(a.status, 0, a.stderr)
    const seed = readFileSync(join(root, 'authority', 'authority.key'))
    assert.equal(seed.length, 32)
    assert.equal(
      Buffer.from(c.signSeedKeypair(seed).publicKey).toString('hex'),
      (JSON.parse(a.stdout) as { signer: string }).signer
    )
  })
})

/**
 * Config errors must never echo secrets. A misspelt secret key (homeserver.hs_token,
 * metrics.tokne, metrics.Token), a section written as one string (`homeserver: <token>`), a URL
 * with credentials and a file that does not parse are the cases that could print the secret in
 * the one-line error. Each case here runs the real CLI (the bundle) on every command that reads
 * that kind of file (relay, ingress, authority, client profile, and validate-config for each) with
 * a canary as the secret, and asserts the error names the key (or the position) but never the
 * canary. And every numeric key of every config schema has an upper bound, named in the message:
 * `validate-config` must not accept what `run` then dies on (replay.capacity: 1e12 would kill
 * `run` with exit 70, "Invalid typed array length").
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify as toYaml } from 'yaml'
import type { z } from 'zod'
import { AuthorityConfigSchema, ConfigSchema, IngressConfigSchema } from '../../daemon/index.ts'
import { ProfileSchema } from '../../tools/index.ts'
import { SEALMIX } from '../helpers/bundle.ts'
import { PROJECT } from '../helpers/testnet.ts'

const HEX = 'ab'.repeat(32)
const TOKEN = 'tok-0123456789abcdef-public'

function sealmix(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [...SEALMIX, ...args], { cwd: PROJECT, encoding: 'utf8', timeout: 60_000 })
  return { status: r.status, out: `${r.stdout}${r.stderr}` }
}

interface Case {
  readonly name: string
  readonly file: string
  readonly text: (canary: string) => string
  readonly says: RegExp
}

/** Every command that reads the file refuses it with status 78, names what is wrong, and never shows the canary. */
function check(dir: string, commands: ReadonlyArray<(file: string) => string[]>, cases: readonly Case[]): void {
  const leaks: string[] = []
  for (const [i, k] of cases.entries()) {
    const canary = `Sx${i}q${k.name.length}vR`
    const file = join(dir, `${i}-${k.file}`)
    writeFileSync(file, k.text(canary))
    for (const cmd of commands) {
      const args = cmd(file)
      const r = sealmix(...args)
      const where = `${k.name}: sealmix ${args[0]!} ${args[1]!} (status ${String(r.status)}): ${r.out.trim()}`
      if (r.out.includes(canary)) leaks.push(where)
      assert.equal(r.status, 78, where)
      assert.match(r.out, k.says, where)
    }
  }
  assert.deepEqual(leaks, [], 'a secret was printed')
}

describe('hostile: config errors never print a secret', function () {
  this.timeout(240_000)
  let dir: string
  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'sealmix-hostile-config-'))
  })
  after(function () {
    rmSync(dir, { recursive: true, force: true })
  })

  it('relay configs: run and validate-config', function () {
    const base = {
      role: 'mix',
      dataDir: './data',
      directory: { authorities: [{ url: 'http://127.0.0.1:1', publicKey: HEX }], address: 'ws://127.0.0.1:9', layer: 1 }
    }
    const yaml = (o: Record<string, unknown>): string => toYaml({ ...base, ...o })
    check(
      dir,
      [f => ['run', '--config', f], f => ['validate-config', '--config', f]],
      [
        {
          name: 'misspelt token key',
          file: 'a.yaml',
          text: s => yaml({ metrics: { tokne: s } }),
          says: /RELAY_CONFIG_INVALID: metrics\.tokne is not a known key/
        },
        {
          name: 'token key in capitals',
          file: 'b.yaml',
          text: s => yaml({ metrics: { Token: s } }),
          says: /metrics\.Token is not a known key/
        },
        {
          name: 'unknown top-level secret',
          file: 'c.yaml',
          text: s => yaml({ hs_token: s }),
          says: /hs_token is not a known key/
        },
        {
          name: 'short token',
          file: 'd.yaml',
          text: s => yaml({ metrics: { token: s } }),
          says: /metrics\.token must be at least 16 characters \(got <redacted>\)/
        },
        {
          name: 'section as a string',
          file: 'e.yaml',
          text: s => yaml({ metrics: s }),
          says: /metrics must be a mapping \(got a string\)/
        },
        {
          name: 'address with credentials',
          file: 'f.yaml',
          text: s => yaml({ directory: { ...base.directory, address: `http://op:${s}@mix.example:9000` } }),
          says: /directory\.address must be a ws:\/\/ or wss:\/\/ URL \(got "http:\/\/<redacted>@mix\.example:9000"\)/
        },
        {
          name: 'authority URL with credentials',
          file: 'g.yaml',
          text: s =>
            yaml({
              directory: { ...base.directory, authorities: [{ url: `ftp://op:${s}@auth.example`, publicKey: HEX }] }
            }),
          says: /directory\.authorities\.0\.url must be an http\(s\) URL/
        },
        {
          name: 'JSON that does not parse',
          file: 'h.json',
          text: s => `{"role": "mix", "metrics": {"token": ${s}}}`,
          says: /RELAY_CONFIG_UNREADABLE: .* not valid JSON at line 1, column \d+/
        },
        {
          name: 'YAML alias',
          file: 'i.yaml',
          text: s => `role: mix\nmetrics:\n  token: *${s}\n`,
          says: /RELAY_CONFIG_UNREADABLE: .* not valid YAML/
        }
      ]
    )
  })

  it('ingress configs: ingress and validate-config --role ingress', function () {
    const hs = { url: 'http://127.0.0.1:1', asToken: TOKEN, hsToken: TOKEN }
    const base = {
      dataDir: './d',
      serverName: 'example.org',
      network: { file: './n.json', signers: [HEX] },
      homeserver: hs
    }
    const yaml = (o: Record<string, unknown>): string => toYaml({ ...base, ...o })
    check(
      dir,
      [f => ['ingress', '--config', f], f => ['validate-config', '--role', 'ingress', '--config', f]],
      [
        {
          name: 'misspelt hs_token',
          file: 'a.yaml',
          text: s => yaml({ homeserver: { ...hs, hs_token: s } }),
          says: /INGRESS_CONFIG_INVALID: homeserver\.hs_token is not a known key/
        },
        {
          name: 'homeserver as a string',
          file: 'b.yaml',
          text: s => yaml({ homeserver: s }),
          says: /homeserver must be a mapping \(got a string\)/
        },
        {
          name: 'homeserver URL with credentials',
          file: 'c.yaml',
          text: s => yaml({ homeserver: { ...hs, url: `ftp://sealmix:${s}@hs.example` } }),
          says: /homeserver\.url must be an http:\/\/ or https:\/\/ URL \(got "ftp:\/\/<redacted>@hs\.example"\)/
        },
        {
          name: 'misspelt metrics token',
          file: 'd.yaml',
          text: s => yaml({ metrics: { tokne: s } }),
          says: /metrics\.tokne is not a known key/
        },
        {
          name: 'short as_token',
          file: 'e.yaml',
          text: s => yaml({ homeserver: { ...hs, asToken: s } }),
          says: /homeserver\.asToken must be at least 16 characters \(got <redacted>\)/
        },
        {
          name: 'JSON that does not parse',
          file: 'f.json',
          text: s => `{"dataDir": "./d",\n "homeserver": {"asToken": ${s}}}`,
          says: /INGRESS_CONFIG_UNREADABLE: .* is not valid JSON at line 2, column \d+/
        }
      ]
    )
  })

  it('authority configs: authority, authority admit and validate-config --role authority', function () {
    const base = { signingKeyFile: './k', network: 'net', epoch: { genesisMs: 0 }, admissionFile: './admitted.yaml' }
    const yaml = (o: Record<string, unknown>): string => toYaml({ ...base, ...o })
    check(
      dir,
      [
        f => ['authority', '--config', f],
        f => ['authority', 'admit', '--config', f, '--relay', `mix:1:${HEX}`],
        f => ['validate-config', '--role', 'authority', '--config', f]
      ],
      [
        {
          name: 'unknown secret key',
          file: 'a.yaml',
          text: s => yaml({ tokne: s }),
          says: /RELAY_CONFIG_INVALID: tokne is not a known key/
        },
        {
          name: 'nested unknown key',
          file: 'b.yaml',
          text: s => yaml({ mixing: { apiKey: s } }),
          says: /mixing\.apiKey is not a known key/
        },
        {
          name: 'peer URL with credentials',
          file: 'c.yaml',
          text: s => yaml({ peers: [{ url: `ftp://op:${s}@auth.example`, publicKey: HEX }] }),
          says: /peers\.0\.url must be an http\(s\) URL \(got "ftp:\/\/<redacted>@auth\.example"\)/
        },
        {
          name: 'section as a string',
          file: 'd.yaml',
          text: s => yaml({ metrics: s }),
          says: /metrics must be a mapping \(got a string\)/
        },
        {
          name: 'JSON that does not parse',
          file: 'e.json',
          text: s => `{"network": "net", "signingKey": ${s}}`,
          says: /RELAY_CONFIG_UNREADABLE: .* not valid JSON at line 1, column \d+/
        }
      ]
    )
  })

  it('client profiles: listen', function () {
    const base = {
      gateway: HEX,
      homeserver: { url: 'http://127.0.0.1:1', accessToken: TOKEN },
      ingressApi: 'http://127.0.0.1:2',
      device: { userId: '@a:example.org', deviceId: 'A', x25519Secret: HEX, ed25519Seed: HEX },
      mailboxId: HEX,
      capability: { keyId: 1, seed: HEX },
      trust: {},
      directory: { authorities: [{ url: 'http://127.0.0.1:3', publicKey: HEX }] }
    }
    const json = (o: Record<string, unknown>): string => JSON.stringify({ ...base, ...o })
    check(
      dir,
      [f => ['listen', '--profile', f]],
      [
        {
          name: 'misspelt access token',
          file: 'a.json',
          text: s => json({ homeserver: { ...base.homeserver, accessTokne: s } }),
          says: /CLIENT_CONFIG_INVALID: .*homeserver\.accessTokne is not a known key/
        },
        {
          name: 'homeserver as a string',
          file: 'b.json',
          text: s => json({ homeserver: s }),
          says: /homeserver must be a mapping \(got a string\)/
        },
        {
          name: 'homeserver URL with credentials',
          file: 'c.json',
          text: s => json({ homeserver: { ...base.homeserver, url: `ftp://alice:${s}@hs.example` } }),
          says: /homeserver\.url must be an http:\/\/ or https:\/\/ URL/
        },
        {
          name: 'JSON that does not parse',
          file: 'd.json',
          text: s => `{"homeserver": {"accessToken": ${s}}}`,
          says: /CLIENT_CONFIG_UNREADABLE: .* is not valid JSON at line 1, column \d+/
        }
      ]
    )
  })

  it('every numeric key of every config has an upper bound, named in the message', function () {
    const missing: string[] = []
    const schemas: Array<[string, z.ZodType]> = [
      ['relay', ConfigSchema],
      ['ingress', IngressConfigSchema],
      ['authority', AuthorityConfigSchema],
      ['profile', ProfileSchema]
    ]
    for (const [name, schema] of schemas) {
      const keys = numericKeys(schema)
      assert.ok(keys.length >= 2, `${name}: found its numeric keys`)
      for (const path of keys) {
        const raw = setAt({}, path, 1e15)
        const r = schema.safeParse(raw)
        const issue = r.success ? undefined : r.error.issues.find(i => i.path.join('.') === path.join('.'))
        if (issue?.code !== 'too_big') missing.push(`${name}: ${path.join('.')}`)
      }
    }
    assert.deepEqual(missing, [], 'numeric keys without an upper bound')
    // The finding itself: validate-config refuses what run could not allocate, with the bound in the message.
    const f = join(dir, 'capacity.yaml')
    writeFileSync(
      f,
      toYaml({
        role: 'mix',
        dataDir: './data',
        network: { file: './n.json', signers: [HEX] },
        replay: { capacity: 1e12 }
      })
    )
    const r = sealmix('validate-config', '--config', f)
    assert.equal(r.status, 78, r.out)
    assert.equal(
      r.out.trim(),
      'sealmix: RELAY_CONFIG_INVALID: replay.capacity must be <= 100000000 (got 1000000000000)'
    )
    writeFileSync(
      f,
      toYaml({
        role: 'mix',
        dataDir: './data',
        network: { file: './n.json', signers: [HEX] },
        replay: { falsePositiveRate: 1e-300 }
      })
    )
    assert.equal(
      sealmix('validate-config', '--config', f).out.trim(),
      'sealmix: RELAY_CONFIG_INVALID: replay.falsePositiveRate must be >= 1e-9 (got 1e-300)'
    )
  })
})

/** The dotted paths of every number in a zod object schema (through defaults, optionals, lists and records). */
function numericKeys(schema: z.ZodType): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = []
  const walk = (s: unknown, path: Array<string | number>): void => {
    const d = (s as { _zod: { def: Record<string, unknown> } })._zod.def
    switch (d.type) {
      case 'default':
      case 'optional':
      case 'prefault':
      case 'nullable':
        walk(d.innerType, path)
        return
      case 'pipe':
        walk(d.in, path)
        return
      case 'object':
        for (const [k, v] of Object.entries(d.shape as Record<string, unknown>)) walk(v, [...path, k])
        return
      case 'array':
        walk(d.element, [...path, 0])
        return
      case 'record':
        walk(d.valueType, [...path, 'x'])
        return
      case 'number':
        out.push(path)
    }
  }
  walk(schema, [])
  return out
}

function setAt(
  o: Record<string | number, unknown>,
  path: ReadonlyArray<string | number>,
  v: unknown
): Record<string | number, unknown> {
  let cur: Record<string | number, unknown> = o
  path.forEach((k, i) => {
    if (i === path.length - 1) {
      cur[k] = v
      return
    }
    cur[k] ??= typeof path[i + 1] === 'number' ? [] : {}
    cur = cur[k] as Record<string | number, unknown>
  })
  return o
}

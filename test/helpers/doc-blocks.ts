/**
 * The fenced blocks of the docs and the snippet marker above each, as test/docs/snippets.test.ts
 * runs them in Node and test/browser/web-chat.test.ts runs the browser ones in Chromium.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export type Kind = 'sh' | 'ts' | 'js' | 'text'
export const KINDS: Record<string, Kind> = {
  sh: 'sh',
  bash: 'sh',
  ts: 'ts',
  typescript: 'ts',
  js: 'js',
  javascript: 'js',
  text: 'text'
}

export interface Block {
  readonly doc: string
  /** 1-based line of the opening fence. */
  readonly line: number
  readonly lang: string
  readonly kind: Kind | undefined
  readonly code: string
  readonly marker:
    | { readonly expect: RegExp }
    | { readonly notRun: string }
    /** Run in Chromium by another test (`by`), not by the Node snippets test. */
    | { readonly browser: { readonly by: string; readonly expect: RegExp } }
    | { readonly bad: string }
    | null
}

export const where = (b: Block): string => `${b.doc}:${b.line} (\`\`\`${b.lang})`

/** The fenced blocks of a markdown file, with the snippet marker on the line above each fence. */
export function blocksOf(root: string, doc: string, self: string): Block[] {
  const lines = readFileSync(join(root, doc), 'utf8').split('\n')
  const out: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i]!)
    if (open === null) continue
    const [indent, fence, lang] = [open[1]!, open[2]!, open[3]!]
    const body: string[] = []
    let j = i + 1
    while (j < lines.length && !(lines[j]!.trimStart().startsWith(fence) && lines[j]!.trim() === fence))
      body.push(lines[j++]!.slice(indent.length))
    assert.ok(j < lines.length, `${doc}:${i + 1}: a fence that is never closed`)
    out.push({
      doc,
      line: i + 1,
      lang,
      kind: KINDS[lang],
      code: body.join('\n') + '\n',
      marker: markerOf(lines[i - 1] ?? '', self)
    })
    i = j
  }
  return out
}

/** `self`: the test that a not-run marker must name. */
export function markerOf(line: string, self: string): Block['marker'] {
  const m = /^<!--\s*snippet:\s*(.*?)\s*-->$/.exec(line.trim())
  if (m === null) return null
  const text = m[1]!
  const expect = /^expect \/(.*)\/([a-z]*)$/.exec(text)
  if (expect !== null) {
    try {
      return { expect: new RegExp(expect[1]!, expect[2]) }
    } catch (e) {
      return { bad: `${text} (${(e as Error).message})` }
    }
  }
  const browser = /^in Chromium by (\S+), expect \/(.*)\/([a-z]*)$/.exec(text)
  if (browser !== null) {
    try {
      return { browser: { by: browser[1]!, expect: new RegExp(browser[2]!, browser[3]) } }
    } catch (e) {
      return { bad: `${text} (${(e as Error).message})` }
    }
  }
  const notRun = /^not run by (\S+): (.+)$/.exec(text)
  if (notRun !== null && notRun[1] === self) return { notRun: notRun[2]! }
  return { bad: text }
}

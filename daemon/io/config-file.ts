/**
 * Reading a program's config file: YAML, or JSON by its .json ending. The result names what went
 * wrong without the parser's own words, which can quote the file (and the file holds tokens);
 * each program turns a failure into its own error code.
 */
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { describeParseError } from '../../mix/index.ts'

export type ConfigText =
  | { readonly kind: 'parsed'; readonly value: unknown }
  | { readonly kind: 'unreadable'; readonly why: string; readonly cause: unknown }
  | { readonly kind: 'unparsable'; readonly why: string }

export function readConfigFile(path: string): ConfigText {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    return { kind: 'unreadable', why: (e as NodeJS.ErrnoException).code ?? 'unknown error', cause: e }
  }
  const json = path.endsWith('.json')
  try {
    return { kind: 'parsed', value: json ? JSON.parse(text) : parseYaml(text) }
  } catch (e) {
    return { kind: 'unparsable', why: describeParseError(e, text, json ? 'JSON' : 'YAML') }
  }
}

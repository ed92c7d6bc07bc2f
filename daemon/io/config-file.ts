/**
 * Reading a program's config file: YAML, or JSON by its .json ending. The result names what went
 * wrong without the parser's own words, which can quote the file (and the file holds tokens);
 * each program turns a failure into its own error code.
 */
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { describeParseError } from '../../mix/index.ts'

/** The parsed file, or what is wrong with it in the words every program prints. */
export type ConfigText =
  | { readonly kind: 'parsed'; readonly value: unknown }
  | { readonly kind: 'refused'; readonly problem: string; readonly cause?: unknown }

export function readConfigFile(path: string): ConfigText {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? 'unknown error'
    return { kind: 'refused', problem: `cannot read config file ${path}: ${why}`, cause: e }
  }
  const json = path.endsWith('.json')
  try {
    return { kind: 'parsed', value: json ? JSON.parse(text) : parseYaml(text) }
  } catch (e) {
    return { kind: 'refused', problem: `${path} is ${describeParseError(e, text, json ? 'JSON' : 'YAML')}` }
  }
}

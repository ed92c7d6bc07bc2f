/**
 * `sealmix version` and `sealmix --version`: `sealmix 0.1.0 (abc1234)`, the commit only where it
 * can be known. The daemons say the same (metrics, /healthz, first log line, descriptor): one
 * source, daemon/io/build-info.ts.
 */
import { buildInfo, versionLine as line } from '../daemon/index.ts'

export function versionLine(): string {
  return line(buildInfo())
}

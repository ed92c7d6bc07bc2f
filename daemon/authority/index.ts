/** `sealmix authority`: the directory authority's import surface, for cli/, tools/ and tests. */

export {
  type Admission,
  AdmissionIndex,
  type AdmittedRelay,
  type AdmittedServer,
  admit,
  loadAdmission,
  NO_ADMISSION,
  remove,
  saveAdmission
} from './admission.ts'
export {
  Authority,
  AuthorityMetrics,
  type AuthorityOptions,
  authorityOptions,
  REFUSALS,
  type Refusal,
  reconfigureAuthority
} from './authority.ts'
export { type AuthorityConfig, AuthorityConfigSchema, authorityKey, loadAuthorityConfig } from './config.ts'

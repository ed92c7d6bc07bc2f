/** `sealmix authority`: the directory authority's import surface, for cli/, tools/ and tests. */
export { Authority, authorityOptions, AuthorityMetrics, REFUSALS, type AuthorityOptions, type Refusal } from './authority.ts'
export { admit, remove, loadAdmission, saveAdmission, AdmissionIndex, NO_ADMISSION, type Admission, type AdmittedRelay, type AdmittedServer } from './admission.ts'
export { loadAuthorityConfig, authorityKey, AuthorityConfigSchema, type AuthorityConfig } from './config.ts'

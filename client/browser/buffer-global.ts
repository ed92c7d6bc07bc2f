/**
 * Injected into the browser bundles (esbuild --inject): the SDK and the protocol core use Node's
 * Buffer API, which the `buffer` package gives in a browser, byte for byte.
 */
export { Buffer } from 'buffer'

/**
 * Preloaded into the firebase-tools Auth emulator (NODE_OPTIONS=--require,
 * see startAuthEmulator). The emulator serves its REST API through exegesis,
 * which by default compiles a JSON-schema validator for every operation of
 * the API's OpenAPI document before it listens: 14 s and 16.7 s of CPU on
 * the 2-core machine, in every `npm start`, `npm test` and bench. exegesis
 * has an option to compile each validator on the first request that needs it
 * (`lazyCompileValidationSchemas`) that firebase-tools does not set; this sets
 * it. Requests are validated by the same schemas; the emulator then listened
 * after about 3 s. Should a firebase-tools release move exegesis, nothing is
 * changed and the emulator starts as before.
 */
try {
  const { createRequire } = require('node:module');
  const fromTools = createRequire(require.resolve('firebase-tools/package.json', { paths: [__dirname] }));
  const options = fromTools('exegesis/lib/options');
  const compile = options.compileOptions;
  if (typeof compile === 'function') {
    options.compileOptions = (given = {}) => compile({ ...given, lazyCompileValidationSchemas: true });
  }
} catch {
  // exegesis not found where firebase-tools would load it: start as before.
}

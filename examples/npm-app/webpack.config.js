// The webpack config of test/npm_app.test.ts: a plain browser build of browser_entry.js, no aliases,
// fallbacks or polyfills. Minimising is off only to save CI time (terser takes about 30 s of CPU
// on this bundle and changes nothing that is resolved or bundled).
export default {
  mode: 'production',
  target: 'web',
  entry: './browser_entry.js',
  optimization: { minimize: false },
};

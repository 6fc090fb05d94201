import { build } from 'esbuild';

// @tfjs-mbq/format is browser-safe: its entry (tokenizers and chat templates included) bundles for
// the browser with no Node built-in left to resolve.
test('the format package bundles for browsers without Node built-ins', async () => {
  const out = await build({ entryPoints: ['packages/format/src/index.ts'], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' });
  const code = out.outputFiles[0]!.text;
  expect(code).toContain('TemplateProcessing');
  expect(code).not.toMatch(/from\s*["']node:|require\(["'](fs|path|node:)/);
});

import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkTfjsVersion, compareVersions, DAWN_PEER_RANGE, parseVersion, TFJS_PEER_RANGE, tfjsVersionProblem } from '../src/peer_versions.js';

const packages = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

describe('tfjs version range', () => {
  it('accepts 4.6.0 up to the last 4.x, pre-releases of those included', () => {
    for (const v of ['4.6.0', '4.6.1', '4.21.0', '4.22.0', '4.23.0-rc.0', '4.99.99']) expect(tfjsVersionProblem('@tensorflow/tfjs-core', v)).toBeNull();
  });

  it('names the version found and the range for anything else', () => {
    for (const v of ['4.5.0', '4.0.0', '3.21.0', '5.0.0', '5.1.0-rc.1']) {
      expect(() => checkTfjsVersion('@tensorflow/tfjs-core', v)).toThrow(`@tfjs-mbq needs @tensorflow/tfjs-core ^4.6.0 (4.6.0 or a newer 4.x); this app has ${v}:`);
    }
    expect(tfjsVersionProblem('@tensorflow/tfjs-converter', undefined)).toBe(
      '@tfjs-mbq needs @tensorflow/tfjs-converter ^4.6.0 (4.6.0 or a newer 4.x); this app\'s @tensorflow/tfjs-converter reports no usable version (undefined)');
  });

  it('orders versions numerically, not as text', () => {
    expect(compareVersions('4.10.0', '4.6.0')).toBeGreaterThan(0);
    expect(compareVersions('4.22.0', '4.22.0')).toBe(0);
    expect(compareVersions('4.21.9', '4.22.0')).toBeLessThan(0);
    expect(parseVersion('4.22')).toBeNull();
  });

  // One home for the range: every workspace package that names a tfjs peer names this range.
  it('is the peerDependencies range of every @tfjs-mbq package', () => {
    let seen = 0;
    for (const dir of readdirSync(packages)) {
      const file = join(packages, dir, 'package.json');
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { peerDependencies?: Record<string, string> };
      for (const [name, range] of Object.entries(pkg.peerDependencies ?? {})) {
        if (name.startsWith('@tensorflow/')) { expect(`${dir}: ${name} ${range}`).toBe(`${dir}: ${name} ${TFJS_PEER_RANGE}`); seen++; }
        if (name === 'webgpu') expect(`${dir}: webgpu ${range}`).toBe(`${dir}: webgpu ${DAWN_PEER_RANGE}`);
      }
    }
    expect(seen).toBeGreaterThanOrEqual(9);
  });
});

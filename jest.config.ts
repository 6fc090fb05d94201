/** @jest-config-loader esbuild-register */
import type { Config } from 'jest';

// ESM all the way: tests import the TypeScript sources of the workspace packages directly,
// so `npm test` exercises exactly the code that `tsc -b` builds.
const config: Config = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  roots: ['<rootDir>/packages', '<rootDir>/fixtures', '<rootDir>/examples'],
  testMatch: ['**/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  moduleNameMapper: {
    '^@tfjs-mbq/format$': '<rootDir>/packages/format/src/index.ts',
    '^@tfjs-mbq/format/node$': '<rootDir>/packages/format/src/node/index.ts',
    '^@tfjs-mbq/importer$': '<rootDir>/packages/importer/src/index.ts',
    '^@tfjs-mbq/ops$': '<rootDir>/packages/ops/src/index.ts',
    '^@tfjs-mbq/ops/backends$': '<rootDir>/packages/ops/src/backends/index.ts',
    // @tfjs-mbq/ops's package.json "imports": the Node side under jest.
    '^#navigator-gpu$': '<rootDir>/packages/ops/src/backends/navigator_gpu_node.ts',
    '^@tfjs-mbq/converter$': '<rootDir>/packages/converter/src/index.ts',
    '^@tfjs-mbq/runtime$': '<rootDir>/packages/runtime/src/index.ts',
    '^@tfjs-mbq/runtime/worker$': '<rootDir>/packages/runtime/src/worker/client.ts',
    // @tfjs-mbq/runtime's package.json "imports": the Node side under jest.
    '^#local-source$': '<rootDir>/packages/runtime/src/local_source_node.ts',
    '^@tfjs-mbq/eval$': '<rootDir>/packages/eval/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, isolatedModules: true, tsconfig: '<rootDir>/tsconfig.test.json' }],
  },
  testTimeout: 120000,
  maxWorkers: 2,
};
export default config;

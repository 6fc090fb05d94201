// The converter's typings, type-checked inside the app fixture (test/npm_app.test.ts) under
// node16 and bundler resolution. They include jimp's image type, whose own typings need
// @types/pngjs and do not resolve under node10 (jimp's subpath exports), so node10 is not offered.
import { convert, type ConvertOptions } from '@tfjs-mbq/converter';

export const options: ConvertOptions = { modelDir: 'in', calibDir: 'calib', outDir: 'out', method: 'mbq', wBits: 4 };
export const run: typeof convert = convert;

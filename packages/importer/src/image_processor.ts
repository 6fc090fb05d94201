/**
 * The checkpoint's image processor as mbq.json's `imageProcessor` (format's one description of
 * preprocessing), checked to produce exactly the `pixel_values` size the imported graph takes.
 */
import { join } from 'node:path';
import { findImageProcessorConfig, isFormatError, type ImageProcessorConfig } from '@tfjs-mbq/format';
import { ImportError } from './errors.js';
import type { HfDirFiles } from './hf_dir.js';

export function importedImageProcessor(files: HfDirFiles, imageSize: [number, number]): ImageProcessorConfig {
  let config: ImageProcessorConfig;
  try {
    config = findImageProcessorConfig({
      processorConfig: files.processorConfig === undefined ? undefined : { json: files.processorConfig, file: join(files.dir, 'processor_config.json') },
      preprocessorConfig: files.preprocessorConfig === undefined ? undefined : { json: files.preprocessorConfig, file: join(files.dir, 'preprocessor_config.json') },
    });
  } catch (e) {
    if (isFormatError(e)) throw new ImportError('PROCESSOR', e.message.includes(files.dir) ? e.message : `${files.dir}: ${e.message}`, e.file);
    throw e;
  }
  const file = join(files.dir, files.processorConfig !== undefined ? 'processor_config.json' : 'preprocessor_config.json');
  if (config.kind !== 'single') throw new ImportError('PROCESSOR', `${file}: a ${config.kind} image processor does not fit a single-image LLaVA graph`, file);
  const final = config.centerCrop ?? (config.resize && 'height' in config.resize ? config.resize : null);
  if (!final || final.height !== imageSize[0] || final.width !== imageSize[1]) {
    throw new ImportError('PROCESSOR', `${file}: the processor makes ${final ? `${final.height}x${final.width}` : 'variable-size'} images but the vision tower takes ${imageSize[0]}x${imageSize[1]}`, file);
  }
  return config;
}

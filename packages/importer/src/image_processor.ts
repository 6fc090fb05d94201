/**
 * The checkpoint's image processor settings, read by the format package (one description for every
 * processor: `ImageProcessorConfig`); mbq.json carries them with the graph's `ImageInputLayout`.
 */
import { findImageProcessorConfig, isFormatError, type ImageProcessorConfig } from '@tfjs-mbq/format';
import { join } from 'node:path';
import { ImportError } from './errors.js';
import type { HfDirFiles } from './hf_dir.js';

export function readImageProcessor(files: HfDirFiles): { config: ImageProcessorConfig; file: string } {
  const processorConfig = files.processorConfig !== undefined ? { json: files.processorConfig, file: join(files.dir, 'processor_config.json') } : undefined;
  const preprocessorConfig = files.preprocessorConfig !== undefined ? { json: files.preprocessorConfig, file: join(files.dir, 'preprocessor_config.json') } : undefined;
  const nested = processorConfig && typeof processorConfig.json === 'object' && processorConfig.json !== null && 'image_processor' in processorConfig.json;
  const file = nested ? processorConfig.file : preprocessorConfig?.file ?? join(files.dir, 'preprocessor_config.json');
  try {
    return { config: findImageProcessorConfig({ processorConfig, preprocessorConfig }), file };
  } catch (e) {
    if (isFormatError(e)) throw new ImportError('PROCESSOR', e.message.startsWith(files.dir) ? e.message : `${file}: ${e.message}`, file);
    throw e;
  }
}

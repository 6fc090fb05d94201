/**
 * Qwen2-VL import, proven against transformers: fixtures/hf/qwen2-vl-tiny (transformers 5.17 layout,
 * F32; patch merger, 2-D vision RoPE, multimodal RoPE in a Qwen2 decoder with q/k/v biases) imported
 * for the recorded image size (64x64 smart-resized to 84x84: grid 1x6x6, 9 image tokens) and run on
 * the processor's recorded patches, laid back out as the image the graph takes.
 */
import { describeImportFidelity } from './helpers/import_fidelity.js';

describeImportFidelity({
  checkpoint: 'qwen2-vl-tiny',
  imageSize: [84, 84],
  tolerance: 1e-4,
  checkImport: (r) => {
    expect(r.architecture).toBe('Qwen2VLForConditionalGeneration');
    expect(r.mbq).toMatchObject({ imageSize: [84, 84], imageTokenCount: 9, imageTokenOffset: 17, tokenizer: 'hf', eosTokenId: 454 });
    expect(r.mbq.imageInput).toEqual({ kind: 'qwen2-vl', gridThw: [1, 6, 6] });
    expect(r.mbq.imageProcessor).toMatchObject({ kind: 'qwen2-vl', minPixels: 6400, maxPixels: 12544, patchSize: 14, temporalPatchSize: 2, mergeSize: 2 });
  },
});

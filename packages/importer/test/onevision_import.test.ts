/**
 * LLaVA-OneVision import, proven against transformers: fixtures/hf/llava-onevision-tiny (transformers
 * 5.17 layout, F16; SigLIP tower, Qwen2 decoder with q/k/v biases) imported and run on the
 * processor's recorded views (base + one anyres tile, 36 image tokens with the newlines).
 */
import { describeImportFidelity } from './helpers/import_fidelity.js';

describeImportFidelity({
  checkpoint: 'llava-onevision-tiny',
  tolerance: 1e-4,
  checkImport: (r) => {
    expect(r.architecture).toBe('LlavaOnevisionForConditionalGeneration');
    expect(r.mbq).toMatchObject({ imageSize: [112, 56], imageTokenCount: 36, tokenizer: 'hf', eosTokenId: 454 });
    expect(r.mbq.imageInput).toEqual({ kind: 'views', views: 2, viewSize: [56, 56], tileGrid: [1, 1], imageSizeForLayout: [56, 56] });
    expect(r.mbq.imageProcessor).toMatchObject({ kind: 'anyres', size: { height: 56, width: 56 }, gridPinpoints: [[56, 56]], resample: 'bicubic' });
  },
});

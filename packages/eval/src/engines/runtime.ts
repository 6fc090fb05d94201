/** The runtime engine: evaluation through `loadVlm`, exactly as an app answers questions. */
import { loadVlm, type LoadProgress, type Vlm } from '@tfjs-mbq/runtime';
import type { CaptionInput, EvalEngine, QuestionInput } from './engine.js';

export class RuntimeEngine implements EvalEngine {
  readonly name = 'runtime' as const;
  readonly batched = false;
  private constructor(readonly location: string, readonly vlm: Vlm) {}

  /** Loads on the backend the caller set (`initBackend` first). */
  static async load(location: string, onProgress?: (p: LoadProgress) => void): Promise<RuntimeEngine> {
    return new RuntimeEngine(location, await loadVlm(location, { backend: 'current', onProgress }));
  }

  get inputs(): Vlm['inputs'] {
    return this.vlm.inputs;
  }

  async answer(batch: readonly QuestionInput[], maxNewTokens: number): Promise<number[][]> {
    const out: number[][] = [];
    for (const q of batch) out.push((await this.vlm.generate(q.image, q.question, { maxNewTokens })).tokenIds);
    return out;
  }

  async captionNll(batch: readonly CaptionInput[]): Promise<{ nll: number; tokens: number }> {
    let nll = 0;
    let tokens = 0;
    for (const c of batch) {
      const s = await this.vlm.score(c.image, '', c.caption);
      nll += s.nll;
      tokens += s.tokens;
    }
    return { nll, tokens };
  }

  dispose(): void {
    this.vlm.dispose();
  }
}

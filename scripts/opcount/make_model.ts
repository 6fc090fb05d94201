/**
 * A random-weight VLM with LLaMA-7B's decoder structure (32 blocks, 32 attention heads, 32 KV
 * heads) but narrow layers (head_dim 4, hidden 128, MLP 256), in the fixture's graph conventions
 * (scripts/memory/synthetic.ts). Ops and dispatches per token depend on the block and head
 * counts, not on the widths, so this counts what the 7B-shaped model runs per token.
 *
 *   node scripts/opcount/dist/make_model.mjs <outDir>
 */
import { writeSyntheticVlm } from '../memory/synthetic.js';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node scripts/opcount/dist/make_model.mjs <outDir>');
  process.exit(2);
}
await writeSyntheticVlm(dir, { blocks: 32, hidden: 128, mlp: 256, heads: 32, kvHeads: 32, seed: 7 });
console.log(`wrote ${dir}: 32 blocks, 32 heads, 32 KV heads, hidden 128, MLP 256`);

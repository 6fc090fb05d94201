#!/usr/bin/env python3
"""A LLaVA-1.5-7B-shaped checkpoint with random float16 weights (issue 12 §4), for timing only.

  PYTHONUNBUFFERED=1 python3 scripts/llava7b/make_checkpoint.py <out-dir>

Shapes are llava-hf/llava-1.5-7b-hf's: CLIP ViT-L/14 at 336 px (24 layers, hidden 1024), a
2-layer GELU projector, a LLaMA-7B decoder (32 layers, hidden 4096, MLP 11008, 32 heads, vocab
32064). Built with transformers' from_config on the GPU (its default init), saved with
save_pretrained (sharded safetensors). The tokenizer is fixtures/tiny-vlm's word-level one (the
converter's calibration reads word-level tokenizers only so far; its ids sit inside the 32064 rows),
with a chat template `<bos><image>... question`; the processor settings are
fixtures/hf/llava-1.5-tiny's scaled to 336 px, so that an image is 576 tokens, as in LLaVA-1.5.
"""
import json
import shutil
import sys
import time
from pathlib import Path

import torch
import transformers

HERE = Path(__file__).resolve().parent
TINY = HERE.parent.parent / "fixtures" / "hf" / "llava-1.5-tiny"
WORD_LEVEL = HERE.parent.parent / "fixtures" / "tiny-vlm"
TEMPLATE = ("{{ '<bos>' }}{% for message in messages %}"
            "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>' }}{% endfor %}"
            "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ ' ' + content['text'] }}{% endfor %}"
            "{% endfor %}")


def main():
    out = Path(sys.argv[1])
    if out.exists() and (out / "config.json").exists():
        print(f"checkpoint already at {out}")
        return
    out.mkdir(parents=True, exist_ok=True)
    ids = json.loads((WORD_LEVEL / "mbq.json").read_text())  # <image>, <bos>, <eos>, <pad> ids
    t0 = time.time()
    config = transformers.LlavaConfig(
        vision_config=dict(model_type="clip_vision_model", hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                           num_attention_heads=16, image_size=336, patch_size=14, projection_dim=768,
                           hidden_act="quick_gelu", layer_norm_eps=1e-5),
        text_config=dict(model_type="llama", vocab_size=32064, hidden_size=4096, intermediate_size=11008,
                         num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=4096,
                         rms_norm_eps=1e-5, bos_token_id=ids["bosTokenId"], eos_token_id=ids["eosTokenId"], pad_token_id=ids["padTokenId"],
                         tie_word_embeddings=False),
        image_token_index=ids["imageTokenId"], projector_hidden_act="gelu", vision_feature_layer=-2,
        vision_feature_select_strategy="default", image_seq_length=576, pad_token_id=ids["padTokenId"])
    torch.manual_seed(0)
    torch.set_default_dtype(torch.float16)
    with torch.device("cuda"):
        model = transformers.LlavaForConditionalGeneration(config)
    n = sum(p.numel() for p in model.parameters())
    print(f"built {n / 1e9:.2f} B parameters in {time.time() - t0:.1f} s", flush=True)
    t1 = time.time()
    model.save_pretrained(out, max_shard_size="4GB")
    print(f"saved in {time.time() - t1:.1f} s", flush=True)
    shutil.copy(WORD_LEVEL / "tokenizer.json", out / "tokenizer.json")
    (out / "tokenizer_config.json").write_text(json.dumps({
        "backend": "tokenizers", "bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
        "processor_class": "LlavaProcessor", "tokenizer_class": "TokenizersBackend", "model_max_length": 4096}, indent=2))
    (out / "chat_template.jinja").write_text(TEMPLATE)
    proc = json.loads((TINY / "processor_config.json").read_text())
    proc["image_processor"]["size"] = {"shortest_edge": 336}
    proc["image_processor"]["crop_size"] = {"height": 336, "width": 336}
    (out / "processor_config.json").write_text(json.dumps(proc, indent=2))
    print(f"checkpoint at {out}: {sum(f.stat().st_size for f in out.iterdir()) / 2**30:.1f} GiB", flush=True)


if __name__ == "__main__":
    main()

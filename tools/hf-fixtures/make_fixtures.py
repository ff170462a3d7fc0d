#!/usr/bin/env python3
"""Makes the Hugging Face compatibility fixtures of the training module's tests.

Tiny random-initialised GPT2LMHeadModel, BertForMaskedLM and BertForSequenceClassification are built with
transformers, saved with save_pretrained (model.safetensors + config.json), and run in float32 eval mode on fixed
input ids; the inputs and logits go to expected.safetensors beside each model. Fulgur's tests load the model directory
and must reproduce the logits within 1e-4.

Run on a machine with torch and transformers (the GPU machine has both; no network is needed):
    python3 tools/hf-fixtures/make_fixtures.py OUT_DIR
then copy OUT_DIR/* into training/src/test/resources/hf/.
"""
import json
import os
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import (BertConfig, BertForMaskedLM, BertForSequenceClassification, GPT2Config,
                          GPT2LMHeadModel)


def save(model, out, name, inputs, logits):
    d = os.path.join(out, name)
    model.save_pretrained(d, safe_serialization=True)
    tensors = {k: v.contiguous() for k, v in inputs.items()}
    tensors["logits"] = logits.detach().float().contiguous()
    save_file(tensors, os.path.join(d, "expected.safetensors"),
              metadata={"transformers": transformers.__version__, "torch": torch.__version__})
    print(name, {k: tuple(v.shape) for k, v in tensors.items()})


def main(out):
    torch.manual_seed(1234)
    gen = torch.Generator().manual_seed(99)

    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=509, n_positions=64, n_embd=48, n_layer=2, n_head=4,
                                      resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)).eval()
    ids = torch.randint(0, 509, (2, 19), generator=gen)
    with torch.no_grad():
        logits = gpt2(input_ids=ids).logits
    save(gpt2, out, "gpt2-tiny", {"input_ids": ids}, logits)

    bert_config = dict(vocab_size=311, hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=96, max_position_embeddings=64, type_vocab_size=2,
                       hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    ids = torch.randint(5, 311, (2, 17), generator=gen)
    mask = torch.ones(2, 17, dtype=torch.long)
    mask[1, 11:] = 0                      # the second sequence is padded after 11 tokens
    ids[1, 11:] = 0
    types = torch.zeros(2, 17, dtype=torch.long)
    types[:, 9:] = 1
    types[1, 11:] = 0
    inputs = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}

    mlm = BertForMaskedLM(BertConfig(**bert_config)).eval()
    with torch.no_grad():
        logits = mlm(**inputs).logits
    save(mlm, out, "bert-mlm-tiny", inputs, logits)

    cls = BertForSequenceClassification(BertConfig(num_labels=3, **bert_config)).eval()
    with torch.no_grad():
        logits = cls(**inputs).logits
    save(cls, out, "bert-cls-tiny", inputs, logits)

    with open(os.path.join(out, "VERSIONS.json"), "w") as f:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__}, f)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "hf-fixtures-out")

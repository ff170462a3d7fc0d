#!/usr/bin/env python3
"""Checks that Hugging Face transformers loads a checkpoint directory written by Fulgur and computes its logits.

For each DIR: the model class comes from config.json's "architectures" (GPT2LMHeadModel, BertForMaskedLM or
BertForSequenceClassification) and is loaded with from_pretrained(DIR) in float32 eval mode; loading fails on a missing,
unexpected or misshapen tensor (output_loading_info is checked). If DIR/expected.safetensors exists (input_ids, and
attention_mask / token_type_ids when the model takes them, plus the logits Fulgur computed), the inputs are run and the
max |logits - expected| is printed; the exit status is 1 if it exceeds --tol (default 1e-4) for any DIR.

Run on the GPU machine (torch and transformers installed, no network needed):
    python3 tools/hf-fixtures/check_fulgur_checkpoint.py training/target/hf-export/gpt2-fulgur-tied [DIR ...]
"""
import argparse
import json
import os
import sys

import torch
import transformers
from safetensors.torch import load_file

MODEL_CLASSES = {
    "GPT2LMHeadModel": transformers.GPT2LMHeadModel,
    "BertForMaskedLM": transformers.BertForMaskedLM,
    "BertForSequenceClassification": transformers.BertForSequenceClassification,
}
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def check(directory, tol):
    with open(os.path.join(directory, "config.json")) as f:
        architectures = json.load(f).get("architectures") or []
    known = [a for a in architectures if a in MODEL_CLASSES]
    if not known:
        print(f"{directory}: config.json architectures {architectures} name none of {sorted(MODEL_CLASSES)}")
        return False
    model, info = MODEL_CLASSES[known[0]].from_pretrained(directory, output_loading_info=True)
    model = model.float().eval()
    problems = {k: v for k, v in info.items() if v}  # missing_keys, unexpected_keys, mismatched_keys, error_msgs
    if problems:
        print(f"{directory}: {known[0]} loaded with problems: {problems}")
        return False
    print(f"{directory}: {known[0]} loaded, {sum(p.numel() for p in model.parameters())} parameters "
          f"(transformers {transformers.__version__}, torch {torch.__version__})")
    expected_path = os.path.join(directory, "expected.safetensors")
    if not os.path.exists(expected_path):
        print(f"{directory}: no expected.safetensors, logits not compared")
        return True
    expected = load_file(expected_path)
    inputs = {k: expected[k].long() for k in INPUT_NAMES if k in expected}
    with torch.no_grad():
        logits = model(**inputs).logits.float()
    reference = expected["logits"].float()
    if tuple(logits.shape) != tuple(reference.shape):
        print(f"{directory}: logits shape {tuple(logits.shape)}, expected.safetensors has {tuple(reference.shape)}")
        return False
    diff = (logits - reference).abs().max().item()
    ok = diff <= tol
    print(f"{directory}: max |logits - expected| = {diff:.3e} ({'ok' if ok else 'FAIL'}, tolerance {tol:.0e}; "
          f"logits range [{reference.min().item():.3f}, {reference.max().item():.3f}])")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", metavar="DIR")
    parser.add_argument("--tol", type=float, default=1e-4)
    args = parser.parse_args()
    results = [check(d, args.tol) for d in args.dirs]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()

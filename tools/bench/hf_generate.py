#!/usr/bin/env python3
"""Hugging Face `generate` on the same GPT-2 checkpoint and request distribution as `fulgur bench serve`: the
baseline for the serving load test on the GPU machine.

Requests: random token prompts of uniform length in [prompt-min, prompt-max] and max_tokens uniform in
[output-min, output-max] (the same distributions as the Java load test, not the same draws). They run as static
batches of --batch (left-padded), greedy, each batch until its longest request is done (`min_new_tokens` = the
batch's longest, so no request stops early at a random end-of-text). Only each request's own max_tokens count as
useful output. Prints one JSON row (requests/s, useful output tokens/s, p50/p90 batch latency) per line.

Usage: python3 tools/bench/hf_generate.py --checkpoint DIR [--requests 64] [--batch 8] [--dtype float32] ...
"""
import argparse
import json
import random
import statistics
import time

import torch
from transformers import GPT2LMHeadModel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--requests", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--prompt-min", type=int, default=32)
    ap.add_argument("--prompt-max", type=int, default=256)
    ap.add_argument("--output-min", type=int, default=64)
    ap.add_argument("--output-max", type=int, default=128)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=1, help="batches run first, unrecorded")
    a = ap.parse_args()

    dtype = getattr(torch, a.dtype)
    model = GPT2LMHeadModel.from_pretrained(a.checkpoint, torch_dtype=dtype, attn_implementation="sdpa").cuda().eval()
    vocab = model.config.vocab_size
    rng = random.Random(a.seed)
    reqs = [([rng.randrange(vocab) for _ in range(rng.randint(a.prompt_min, a.prompt_max))],
             rng.randint(a.output_min, a.output_max)) for _ in range(a.requests)]
    pad = 0

    def run(batch):
        width = max(len(p) for p, _ in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, (p, _) in enumerate(batch):
            ids[i, width - len(p):] = torch.tensor(p)
            mask[i, width - len(p):] = 1
        longest = max(n for _, n in batch)
        with torch.inference_mode():
            model.generate(input_ids=ids.cuda(), attention_mask=mask.cuda(), do_sample=False,
                           max_new_tokens=longest, min_new_tokens=longest, pad_token_id=pad)

    batches = [reqs[i:i + a.batch] for i in range(0, len(reqs), a.batch)]
    for b in batches[:a.warmup]:
        run(b)
    torch.cuda.synchronize()
    lat = []
    start = time.perf_counter()
    for b in batches:
        t = time.perf_counter()
        run(b)
        torch.cuda.synchronize()
        lat.append(time.perf_counter() - t)
    total = time.perf_counter() - start
    useful = sum(n for _, n in reqs)
    print(json.dumps({"name": "hf_generate_static", "parameters": {
        "requests": a.requests, "batch": a.batch, "prompt": [a.prompt_min, a.prompt_max],
        "output": [a.output_min, a.output_max], "dtype": a.dtype, "attn": "sdpa"},
        "requests_per_s": round(a.requests / total, 3), "output_tokens_per_s": round(useful / total, 1),
        "batch_latency_p50_s": round(statistics.median(lat), 3),
        "batch_latency_p90_s": round(sorted(lat)[int(0.9 * (len(lat) - 1))], 3),
        "seconds": round(total, 2), "card": torch.cuda.get_device_name(0),
        "torch": torch.__version__}))


if __name__ == "__main__":
    main()

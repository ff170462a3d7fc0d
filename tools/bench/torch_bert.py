#!/usr/bin/env python3
"""BERT-base masked-LM training throughput in PyTorch: the baseline of ai.fulgur.training.bert.BertTrainingBench.

A minimal BERT (post-LN encoder, fused q|k|v nn.Linear, erf GELU, scaled_dot_product_attention without mask, MLM
transform dense+GELU+LayerNorm, decoder tied to the word embedding with its own bias, no dropout), AdamW (fused,
weight decay 0.01 off biases and norms, lr 1e-4), bf16 autocast over F32 weights, torch.compile. Same data and
measurement as the Java benchmark: random token ids with 15% of positions as targets (ignore_index -100 elsewhere),
kept on the device; `--warmup` steps, then `--steps` steps timed between two device syncs. One JSON row.

  python3 tools/bench/torch_bert.py --seq 512 --batch 16 [--steps 20 --warmup 10 --peak-tflops 989 --no-compile
  --profile N]
"""
import argparse
import sys
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Layer(nn.Module):
    def __init__(self, c, heads, inner):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(c, 3 * c)
        self.attn_out = nn.Linear(c, c)
        self.attn_norm = nn.LayerNorm(c, eps=1e-12)
        self.intermediate = nn.Linear(c, inner)
        self.output = nn.Linear(inner, c)
        self.output_norm = nn.LayerNorm(c, eps=1e-12)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, c)
        x = self.attn_norm(x + self.attn_out(y))
        return self.output_norm(x + self.output(F.gelu(self.intermediate(x))))


class BertMlm(nn.Module):
    def __init__(self, vocab=30522, c=768, layers=12, heads=12, inner=3072, positions=512, types=2):
        super().__init__()
        self.word = nn.Embedding(vocab, c)
        self.position = nn.Embedding(positions, c)
        self.token_type = nn.Embedding(types, c)
        self.emb_norm = nn.LayerNorm(c, eps=1e-12)
        self.layers = nn.ModuleList(Layer(c, heads, inner) for _ in range(layers))
        self.transform = nn.Linear(c, c)
        self.transform_norm = nn.LayerNorm(c, eps=1e-12)
        self.decoder_bias = nn.Parameter(torch.zeros(vocab))
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, idx, targets):
        t = idx.shape[1]
        pos = torch.arange(t, device=idx.device)
        x = self.word(idx) + self.position(pos) + self.token_type(torch.zeros_like(idx))
        x = self.emb_norm(x)
        for layer in self.layers:
            x = layer(x)
        z = self.transform_norm(F.gelu(self.transform(x)))
        logits = F.linear(z, self.word.weight, self.decoder_bias)
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-100)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--peak-tflops", type=float, default=989.0)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--profile", type=int, default=0, help="then N more steps under torch.profiler, table on stderr")
    a = ap.parse_args()

    torch.manual_seed(1)
    dev = "cuda"
    vocab, c, layers, positions, types = 30522, 768, 12, 512, 2
    model = BertMlm(vocab, c, layers, 12, 3072, positions, types).to(dev)
    params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, fused=True)
    step_model = model if a.no_compile else torch.compile(model)
    ids = torch.randint(0, vocab, (a.batch, a.seq), device=dev)
    keep = torch.rand(a.batch, a.seq, device=dev) < 0.15
    targets = torch.where(keep, ids, torch.full_like(ids, -100))

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = step_model(ids, targets)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    first = None
    for s in range(a.warmup):
        loss = step()
        if s == 0:
            first = loss.item()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    last = loss.item()
    seconds = time.perf_counter() - t0
    tokens_per_s = a.batch * a.seq * a.steps / seconds
    flops_per_token = 6.0 * (params - (positions + types) * c) + 12.0 * layers * a.seq * c
    print(json.dumps({
        "bench": "bert_training", "engine": "pytorch", "torch": torch.__version__, "compiled": not a.no_compile,
        "model": "bert-base", "seq": a.seq, "batch": a.batch, "dtype": "bf16", "card": torch.cuda.get_device_name(0),
        "params": params, "warmup": a.warmup, "steps": a.steps, "first_loss": first, "last_loss": last,
        "step_ms": seconds * 1e3 / a.steps, "tokens_per_s": tokens_per_s, "flops_per_token": flops_per_token,
        "mfu": flops_per_token * tokens_per_s / (a.peak_tflops * 1e12),
        "peak_bytes": torch.cuda.max_memory_allocated()}), flush=True)
    if a.profile > 0:
        from torch.profiler import profile, ProfilerActivity
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(a.profile):
                step()
            torch.cuda.synchronize()
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=60, max_name_column_width=90),
              file=sys.stderr)


if __name__ == "__main__":
    main()

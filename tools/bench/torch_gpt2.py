#!/usr/bin/env python3
"""GPT-2 training throughput in PyTorch: the baseline of ai.fulgur.training.gpt2.Gpt2TrainingBench.

A minimal GPT-2 (nn.Linear, nn.LayerNorm, tanh GELU, scaled_dot_product_attention causal, head tied to the token
embedding, no dropout), AdamW (fused, weight decay 0.1 off biases and norms, betas 0.9/0.95, lr 6e-4), bf16 autocast
over F32 weights, torch.compile. Same shapes and measurement as the Java benchmark: random tokens kept on the device,
`--warmup` steps (compilation happens here), then `--steps` timed steps between two device syncs (the last loss is
read after them). Prints one JSON row with tokens/s, MFU ((6*N + 12*L*T*C) FLOPs per token, N without the position
embedding) and torch.cuda.max_memory_allocated.

  python3 tools/bench/torch_gpt2.py --seq 1024 --batch 8 [--steps 10 --warmup 3 --peak-tflops 989 --no-compile]
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c, heads):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(c)
        self.c_attn = nn.Linear(c, 3 * c)
        self.attn_proj = nn.Linear(c, c)
        self.ln_2 = nn.LayerNorm(c)
        self.c_fc = nn.Linear(c, 4 * c)
        self.mlp_proj = nn.Linear(4 * c, c)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.attn_proj(y.transpose(1, 2).contiguous().view(b, t, c))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt2(nn.Module):
    def __init__(self, layers=12, heads=12, c=768, vocab=50257, positions=1024):
        super().__init__()
        self.wte = nn.Embedding(vocab, c)
        self.wpe = nn.Embedding(positions, c)
        self.blocks = nn.ModuleList(Block(c, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(c)
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2's scaled init of the residual projections
            if name.endswith("proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * layers))

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 0.02)

    def forward(self, idx, targets):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(t, device=idx.device))
        for block in self.blocks:
            x = block(x)
        logits = F.linear(self.ln_f(x), self.wte.weight)  # tied head
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--peak-tflops", type=float, default=989.0)
    ap.add_argument("--no-compile", action="store_true")
    a = ap.parse_args()

    torch.manual_seed(1)
    dev = "cuda"
    layers, heads, c, vocab = 12, 12, 768, 50257
    positions = max(1024, a.seq)
    model = Gpt2(layers, heads, c, vocab, positions).to(dev)
    params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=6e-4, betas=(0.9, 0.95), fused=True)
    step_model = model if a.no_compile else torch.compile(model)
    ids = torch.randint(0, vocab, (a.batch, a.seq + 1), device=dev)
    x, y = ids[:, :-1].contiguous(), ids[:, 1:].contiguous()

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = step_model(x, y)
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
    last = loss.item()  # the closing sync
    seconds = time.perf_counter() - t0
    tokens_per_s = a.batch * a.seq * a.steps / seconds
    non_position = params - positions * c
    flops_per_token = 6.0 * non_position + 12.0 * layers * a.seq * c
    print(json.dumps({
        "bench": "gpt2_training", "engine": "pytorch", "torch": torch.__version__, "compiled": not a.no_compile,
        "model": "gpt2-124m", "seq": a.seq, "batch": a.batch, "dtype": "bf16", "attention": "sdpa",
        "card": torch.cuda.get_device_name(0), "params": params, "warmup": a.warmup, "steps": a.steps,
        "first_loss": first, "last_loss": last, "step_ms": seconds * 1e3 / a.steps, "tokens_per_s": tokens_per_s,
        "flops_per_token": flops_per_token, "tflops": flops_per_token * tokens_per_s / 1e12,
        "mfu": flops_per_token * tokens_per_s / (a.peak_tflops * 1e12),
        "peak_bytes": torch.cuda.max_memory_allocated()}), flush=True)


if __name__ == "__main__":
    main()

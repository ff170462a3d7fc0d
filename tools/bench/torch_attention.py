"""PyTorch baseline for Fulgur's FlashAttention benchmark (ai.fulgur.cuda.FlashAttentionBench):
torch.nn.functional.scaled_dot_product_attention with the FLASH_ATTENTION and CUDNN_ATTENTION backends
(torch.nn.attention.sdpa_kernel) on the same shapes: bf16, (b, h, n, d) contiguous, n = 512 ... 16384, d = 64 and 128,
b*n = 16384 tokens, h*d = 2048, causal and not. TFLOP/s with FlashAttention's counting (forward 4*b*h*n^2*d, backward
2.5x that, halved when causal); median of CUDA-event-timed repetitions after warm-up; fresh random inputs.
Usage: python3 tools/bench/torch_attention.py [--forward-only] [lengths...]   (prints one JSON object per line;
--forward-only skips the backward timing, for the forward-kernel comparisons)"""
import datetime
import json
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel


def median_ms(fn, warmup=5, repeats=20):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def main():
    forward_only = "--forward-only" in sys.argv[1:]
    lengths = [int(s) for s in sys.argv[1:] if s != "--forward-only"] or [512, 1024, 2048, 4096, 8192, 16384]
    card = torch.cuda.get_device_name(0)
    tokens, width = 16384, 2048
    for d in (64, 128):
        h = width // d
        for n in lengths:
            b = max(1, tokens // n)
            for causal in (False, True):
                q, k, v, dout = (torch.rand(b, h, n, d, device="cuda").mul_(2).sub_(1).to(torch.bfloat16)
                                 for _ in range(4))
                flops = 4 * b * h * n * n * d / (2 if causal else 1)
                for name, backend in (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
                    row = {"n": n, "d": d, "b": b, "h": h, "causal": causal, "dtype": "bf16"}
                    try:
                        with sdpa_kernel(backend):
                            fwd = median_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal))
                            bwd = None
                            if not forward_only:
                                qg, kg, vg = (x.detach().requires_grad_(True) for x in (q, k, v))
                                out = F.scaled_dot_product_attention(qg, kg, vg, is_causal=causal)
                                bwd = median_ms(lambda: torch.autograd.grad(out, (qg, kg, vg), dout,
                                                                            retain_graph=True))
                                del out, qg, kg, vg
                    except RuntimeError as e:  # the backend does not take this shape
                        print(json.dumps({"name": f"torch_sdpa_{name}", "parameters": row, "error": str(e)[:200]}))
                        continue
                    for direction, ms, f in (("fwd", fwd, flops), ("bwd", bwd, 2.5 * flops)):
                        if ms is None:
                            continue
                        print(json.dumps({"name": f"torch_sdpa_{name}_{direction}", "parameters": row,
                                          "value": round(f / (ms * 1e-3) / 1e12, 1), "unit": "TFLOP/s",
                                          "ms": round(ms, 4), "card": card, "torch": torch.__version__,
                                          "date": datetime.date.today().isoformat()}), flush=True)


if __name__ == "__main__":
    main()

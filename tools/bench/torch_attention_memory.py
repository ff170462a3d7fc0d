"""PyTorch baseline for Fulgur's attention memory benchmark (ai.fulgur.cuda.AttentionMemoryBench): peak GPU memory of
one forward + backward of torch.nn.functional.scaled_dot_product_attention with the MATH backend (materialises the
n x n scores and probabilities) and the FLASH_ATTENTION backend, bf16, (b, h, n, d) = (1, 16, n, 64), n = 1024 ...
16384. The peak is torch.cuda.max_memory_allocated after a reset taken once q, k, v and dO exist, so it counts those
inputs, as Fulgur's does. Usage: python3 tools/bench/torch_attention_memory.py [lengths...]"""
import datetime
import json
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel


def main():
    lengths = [int(s) for s in sys.argv[1:]] or [1024, 2048, 4096, 8192, 16384]
    card = torch.cuda.get_device_name(0)
    b, h, d = 1, 16, 64
    for n in lengths:
        for name, backend in (("math", SDPBackend.MATH), ("flash", SDPBackend.FLASH_ATTENTION)):
            row = {"n": n, "d": d, "b": b, "h": h, "dtype": "bf16"}
            q, k, v, dout = (torch.rand(b, h, n, d, device="cuda").mul_(2).sub_(1).to(torch.bfloat16)
                             for _ in range(4))
            q.requires_grad_(True)
            k.requires_grad_(True)
            v.requires_grad_(True)
            torch.cuda.synchronize()
            inputs = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            try:
                with sdpa_kernel(backend):
                    out = F.scaled_dot_product_attention(q, k, v)
                    grads = torch.autograd.grad(out, (q, k, v), dout)
                torch.cuda.synchronize()
                peak = torch.cuda.max_memory_allocated()
                print(json.dumps({"name": f"attention_peak_memory_torch_{name}", "parameters": row,
                                  "peak_mib": round(peak / 2**20, 1), "inputs_mib": round(inputs / 2**20, 1),
                                  "card": card, "torch": torch.__version__,
                                  "date": datetime.date.today().isoformat()}), flush=True)
                del out, grads
            except RuntimeError as e:  # out of memory, or the backend does not take this shape
                print(json.dumps({"name": f"attention_peak_memory_torch_{name}", "parameters": row,
                                  "error": str(e)[:200]}), flush=True)
            del q, k, v, dout
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()

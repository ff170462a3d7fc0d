"""PyTorch baseline for Fulgur's GEMM benchmark (ai.fulgur.cuda.GemmBench): torch.matmul TFLOP/s on the same
square shapes and dtypes, median of CUDA-event-timed repetitions after warm-up, fresh random inputs.
Usage: python3 tools/bench/torch_gemm.py [sizes...]   (prints one JSON object per line)"""
import datetime
import json
import sys

import torch


def median_ms(fn, warmup=10, repeats=50):
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
    sizes = [int(s) for s in sys.argv[1:]] or [4096, 8192]
    torch.backends.cuda.matmul.allow_tf32 = False  # Fulgur's F32 path is exact fp32 too
    card = torch.cuda.get_device_name(0)
    for name, dtype in (("bf16", torch.bfloat16), ("f16", torch.float16), ("f32", torch.float32)):
        for n in sizes:
            a = torch.rand(n, n, device="cuda", dtype=torch.float32).mul_(2).sub_(1).to(dtype)
            b = torch.rand(n, n, device="cuda", dtype=torch.float32).mul_(2).sub_(1).to(dtype)
            c = torch.empty(n, n, device="cuda", dtype=dtype)
            ms = median_ms(lambda: torch.matmul(a, b, out=c))
            print(json.dumps({"name": f"torch_gemm_{name}", "parameters": {"n": n}, "value": round(2 * n ** 3 / (ms * 1e-3) / 1e12, 1),
                              "unit": "TFLOP/s", "ms": round(ms, 4), "card": card, "torch": torch.__version__,
                              "date": datetime.date.today().isoformat()}), flush=True)


if __name__ == "__main__":
    main()

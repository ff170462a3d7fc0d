"""PyTorch baseline for Fulgur's GEMM benchmark (ai.fulgur.cuda.GemmBench): torch.matmul TFLOP/s on the same square
shapes and dtypes with the same methodology, so tools/bench/gemm_compare.sh can alternate the two:

- inputs uniform in [-1, 1), generated once per shape; output in the input dtype (torch.matmul(a, b, out=c));
  F32 without TF32 (Fulgur's F32 path is exact fp32); otherwise torch's defaults (its BLAS library choice and
  reduced-precision-reduction flags, printed in each row), since the target is torch.matmul as users call it;
  --blas cublas|cublaslt picks torch's library explicitly;
- WARMUP untimed calls, then SAMPLES samples (--samples, at least 30), each CALLS back-to-back calls between two
  CUDA events; a sample's value is its time divided by CALLS; the statistic is the median, p10 and p90 beside it;
- no L2 flush between calls (GemmBench does none either).

Usage: python3 tools/bench/torch_gemm.py [--dtypes bf16,f16,f32] [--samples N] [--round R] [--blas LIB] [sizes...]
Prints one JSON object per line."""
import datetime
import json
import os
import sys

import torch

WARMUP = 20
SAMPLES = 50
CALLS = 10


def samples_ms(fn, samples):
    """Sorted per-call milliseconds: WARMUP untimed calls, then `samples` samples of CALLS back-to-back calls."""
    for _ in range(WARMUP):
        fn()
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(samples):
        start.record()
        for _ in range(CALLS):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / CALLS)
    times.sort()
    return times


def main():
    args = sys.argv[1:]
    sizes, dtypes, samples, rnd, blas = [], ["bf16", "f16", "f32"], SAMPLES, 0, None
    i = 0
    while i < len(args):
        if args[i] == "--dtypes":
            dtypes, i = args[i + 1].split(","), i + 2
        elif args[i] == "--samples":
            samples, i = int(args[i + 1]), i + 2
        elif args[i] == "--blas":
            blas, i = args[i + 1], i + 2
        elif args[i] == "--round":
            rnd, i = int(args[i + 1]), i + 2
        else:
            sizes, i = sizes + [int(args[i])], i + 1
    if samples < 30:
        raise SystemExit(f"--samples must be at least 30 for a stable median, got {samples}")
    sizes = sizes or [4096, 8192]
    torch.backends.cuda.matmul.allow_tf32 = False
    if blas:
        torch.backends.cuda.preferred_blas_library(blas)
    settings = {"blas": str(torch.backends.cuda.preferred_blas_library()),
                "bf16_reduced_precision_reduction":
                    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction,
                "fp16_reduced_precision_reduction":
                    torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction}
    card = torch.cuda.get_device_name(0)
    kinds = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}
    for name in dtypes:
        dtype = kinds[name.strip()]
        for n in sizes:
            a = torch.rand(n, n, device="cuda", dtype=torch.float32).mul_(2).sub_(1).to(dtype)
            b = torch.rand(n, n, device="cuda", dtype=torch.float32).mul_(2).sub_(1).to(dtype)
            c = torch.empty(n, n, device="cuda", dtype=dtype)
            ms = samples_ms(lambda: torch.matmul(a, b, out=c), samples)
            median = ms[len(ms) // 2]
            print(json.dumps({"engine": "torch", "name": f"torch_gemm_{name}", "dtype": name, "n": n,
                              "value": round(2 * n ** 3 / (median * 1e-3) / 1e12, 1), "unit": "TFLOP/s",
                              "ms": round(median, 5), "ms_p10": round(ms[len(ms) // 10], 5),
                              "ms_p90": round(ms[len(ms) * 9 // 10], 5), "samples": samples,
                              "calls_per_sample": CALLS, "warmup": WARMUP, "round": rnd,
                              "cublaslt_workspace_kib": os.environ.get("CUBLASLT_WORKSPACE_SIZE", "torch default"),
                              "settings": settings,
                              "card": card, "torch": torch.__version__,
                              "date": datetime.date.today().isoformat()}), flush=True)
            del a, b, c
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()

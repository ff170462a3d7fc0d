"""Prints the forward comparison table of docs/PERF.md ("Hopper forward with TMA") from the JSON lines of
ai.fulgur.cuda.HopperFlashForwardBench and tools/bench/torch_attention.py (same device call).
Usage: python3 tools/bench/hopper_forward_table.py BENCH.jsonl TORCH.jsonl"""
import json
import sys


def rows(path):
    out = []
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def main():
    table = {}
    for r in rows(sys.argv[1]) + rows(sys.argv[2]):
        if "value" not in r:
            continue
        p = r["parameters"]
        table.setdefault((p["d"], p["n"], p["causal"]), {})[r["name"]] = r["value"]
    cols = ["flash_attention_fwd", "flash_attention_fwd_hopper", "flash_attention_fwd_hopper_tma",
            "torch_sdpa_flash_fwd", "torch_sdpa_cudnn_fwd"]
    print("| d | n | causal | mma.sync | Hopper cp.async | Hopper TMA | FLASH | cuDNN | TMA / cp.async | TMA / cuDNN |")
    print("| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (d, n, causal), v in sorted(table.items()):
        vals = [v.get(c) for c in cols]
        tma, old, cudnn = vals[2], vals[1], vals[4]
        ratio = f"{tma / old:.2f}" if tma and old else "-"
        ratio2 = f"{tma / cudnn:.2f}" if tma and cudnn else "-"
        cells = " | ".join("-" if x is None else f"{x:.1f}" for x in vals)
        print(f"| {d} | {n} | {'yes' if causal else 'no'} | {cells} | {ratio} | {ratio2} |")


if __name__ == "__main__":
    main()

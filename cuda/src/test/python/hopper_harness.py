"""Device-side check and timing of the Hopper (wgmma) FlashAttention forward without Java, like flash_harness.py:
loads flash_attention_hopper.fatbin and flash_attention_forward.fatbin with the CUDA driver (ctypes), launches them on
torch tensors, compares O and the logsumexp with an fp32 torch reference on the same bf16/f16 inputs (causal aligned
bottom-right, GQA, softmax scale, strided views, lengths that are not tile multiples), and times the Hopper kernel
against the mma.sync kernel and torch SDPA (FLASH and cuDNN backends) on FlashAttentionBench's shapes.
Usage: python3 hopper_harness.py FATBIN_DIR [check|bench|all] [variant ...]
A variant is name:d:bn:wg (kernel flash_fwd_hopper_<dtype>_d<d><name>); name@file takes the kernel from
FATBIN_DIR/file.fatbin instead (an earlier or experimental build). Prints one JSON object per line.
"""
import json
import math
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from flash_harness import Flash, Module, launch, params, strides


class Hopper:
    def __init__(self, d):
        self.mod = Module(f"{d}/flash_attention_hopper.fatbin")
        self.dir = d
        self.extra = {}

    def forward(self, q, k, v, opt, o=None, lse=None, name="", bn=128, wg=2):
        B, Nq, Hq, D = q.shape
        Nk, Hkv = k.shape[1], k.shape[2]
        o = torch.full_like(q, float("nan")) if o is None else o
        lse = torch.full((B, Hq, Nq), float("nan"), device=q.device) if lse is None else lse
        kw = dict(hq=Hq, hkv=Hkv, nq_rows=Nq, nk_rows=Nk, scale=opt.get("scale", 1 / math.sqrt(D)),
                  window_left=-1, window_right=0 if opt.get("causal") else -1, seqs=B, seq_table=0,
                  q=q.data_ptr(), k=k.data_ptr(), v=v.data_ptr(), o=o.data_ptr(), lse=lse.data_ptr(),
                  **strides("q", q), **strides("k", k), **strides("v", v), **strides("o", o))
        dt = {torch.bfloat16: "bf16", torch.float16: "f16"}[q.dtype]
        bm = 64 * wg
        smem = (bm + 4 * bn) * D * 2 + 1024
        mod = self.mod
        if "@" in name:  # name@file: a kernel of another fatbin in the same folder (an experiment)
            name, f = name.split("@")
            if f not in self.extra:
                self.extra[f] = Module(f"{self.dir}/{f}.fatbin")
            mod = self.extra[f]
        launch(mod.fn(f"flash_fwd_hopper_{dt}_d{D}{name}", smem), ((Nq + bm - 1) // bm, Hq, B), 128 * wg, smem,
               params(**kw))
        return o, lse


def reference(q, k, v, causal, scale):
    """fp32 attention on the same 16-bit inputs: O (B, Nq, Hq, D) and lse (B, Hq, Nq); +inf for a row with no key."""
    B, Nq, Hq, D = q.shape
    Nk, Hkv = k.shape[1], k.shape[2]
    qf = q.float().transpose(1, 2)
    kf = k.float().transpose(1, 2).repeat_interleave(Hq // Hkv, dim=1)
    vf = v.float().transpose(1, 2).repeat_interleave(Hq // Hkv, dim=1)
    s = qf @ kf.transpose(-1, -2) * scale
    if causal:
        i = torch.arange(Nq, device=q.device)[:, None]
        j = torch.arange(Nk, device=q.device)[None, :]
        s = s.masked_fill(j > i + (Nk - Nq), float("-inf"))
    lse = torch.logsumexp(s, dim=-1)
    p = torch.exp(s - lse[..., None]).nan_to_num(0.0)
    o = (p @ vf).transpose(1, 2)
    return o, torch.where(torch.isinf(lse), torch.full_like(lse, float("inf")), lse)


def rel(a, b):
    a = a.float()
    b = b.float()
    fin = torch.isfinite(b)
    if not torch.equal(torch.isfinite(a), fin):
        return float("nan")
    d = (a - b)[fin]
    return (d.norm() / b[fin].norm().clamp_min(1e-30)).item()


def check(fatbins, variants):
    hop = Hopper(fatbins)
    fa2 = Flash(fatbins)
    cases = [  # b, nq, nk, hq, hkv, causal, scale, transposed
        (1, 1, 1, 2, 2, False, None, False), (2, 63, 63, 2, 2, False, None, False),
        (2, 200, 200, 4, 4, True, None, False), (1, 1000, 1000, 8, 2, False, None, False),
        (1, 2049, 2049, 2, 1, True, None, False), (2, 77, 300, 4, 2, True, None, False),
        (1, 300, 113, 2, 2, True, None, False), (1, 129, 1023, 2, 2, False, 0.3, False),
        (2, 113, 150, 2, 2, False, None, True), (1, 1, 700, 2, 2, True, None, False),
        (1, 4096, 4096, 4, 4, True, None, False),
    ]
    worst = 0.0
    for dtype in (torch.bfloat16, torch.float16):
        for (name, d, bn, wg) in variants:
            if name and dtype != torch.bfloat16:
                continue  # tuning variants are built for bf16 only
            for (b, nq, nk, hq, hkv, causal, scale, tr) in cases:
                g = torch.Generator(device="cuda").manual_seed(nq * 7 + nk + d)
                def rnd(n, h):
                    if tr:
                        return (torch.rand(b, h, n, d, device="cuda", generator=g) * 2 - 1).to(dtype).transpose(1, 2)
                    return (torch.rand(b, n, h, d, device="cuda", generator=g) * 2 - 1).to(dtype)
                q, k, v = rnd(nq, hq), rnd(nk, hkv), rnd(nk, hkv)
                sc = scale if scale is not None else 1 / math.sqrt(d)
                opt = {"causal": causal, "scale": sc}
                o, lse = hop.forward(q, k, v, opt, name=name, bn=bn, wg=wg)
                torch.cuda.synchronize()
                ro, rl = reference(q, k, v, causal, sc)
                fo, fl = fa2.forward(q.contiguous() if tr else q, k, v.contiguous() if tr else v, opt)
                e_o, e_l = rel(o, ro), rel(lse, rl)
                nan = bool(torch.isnan(o).any() or torch.isnan(lse).any())
                ok = (not nan) and e_o <= 1e-2 and e_l <= 1e-4
                worst = max(worst, e_o if ok else float("inf"))
                print(json.dumps({"check": f"hopper{name}", "dtype": str(dtype)[6:], "d": d, "b": b, "nq": nq,
                                  "nk": nk, "hq": hq, "hkv": hkv, "causal": causal, "scale": sc, "transposed": tr,
                                  "rel_o": e_o, "rel_lse": e_l, "rel_o_mma_sync": rel(fo, ro), "nan": nan,
                                  "ok": ok}), flush=True)
    print(json.dumps({"check": "summary", "worst_rel_o": worst}))
    return worst != float("inf")


def median_ms(fn, warmup=5, repeats=20):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


def bench(fatbins, variants, lengths):
    hop = Hopper(fatbins)
    fa2 = Flash(fatbins)
    card = torch.cuda.get_device_name(0)
    rows = []
    for d in (64, 128):
        h = 2048 // d
        for n in lengths:
            b = max(1, 16384 // n)
            for causal in (False, True):
                q, k, v = ((torch.rand(b, n, h, d, device="cuda") * 2 - 1).to(torch.bfloat16) for _ in range(3))
                o = torch.empty_like(q)
                lse = torch.empty(b, h, n, device="cuda")
                opt = {"causal": causal, "scale": 1 / math.sqrt(d)}
                flops = 4 * b * h * n * n * d / (2 if causal else 1)
                res = {"mma_sync": median_ms(lambda: fa2.forward(q, k, v, opt, o=o, lse=lse))}
                for (name, vd, bn, wg) in variants:
                    if vd == d:
                        res[f"hopper{name}"] = median_ms(
                            lambda: hop.forward(q, k, v, opt, o=o, lse=lse, name=name, bn=bn, wg=wg))
                qt, kt, vt = (x.transpose(1, 2).contiguous() for x in (q, k, v))
                for nm, be in (("torch_flash", SDPBackend.FLASH_ATTENTION), ("torch_cudnn", SDPBackend.CUDNN_ATTENTION)):
                    try:
                        with sdpa_kernel(be):
                            res[nm] = median_ms(lambda: F.scaled_dot_product_attention(qt, kt, vt, is_causal=causal))
                    except RuntimeError:
                        pass
                row = {"n": n, "d": d, "b": b, "h": h, "causal": causal, "card": card,
                       "ms": {k_: round(t, 4) for k_, t in res.items()},
                       "tflops": {k_: round(flops / (t * 1e-3) / 1e12, 1) for k_, t in res.items()}}
                rows.append(row)
                print(json.dumps(row), flush=True)
    for d in (64, 128):
        names = list(next(r for r in rows if r["d"] == d)["tflops"].keys())
        print("d n causal " + " ".join(names))
        for r in rows:
            if r["d"] == d:
                print(r["d"], r["n"], "c" if r["causal"] else "-",
                      " ".join(str(r["tflops"].get(x, "-")) for x in names))


def main():
    fatbins = sys.argv[1]
    what = sys.argv[2] if len(sys.argv) > 2 else "all"
    specs = sys.argv[3:] or [":64:64:1", ":128:128:2"]  # the tiles of the selected kernels (HopperFlashForward)
    variants = []
    for s in specs:
        name, d, bn, wg = s.split(":")
        variants.append((name, int(d), int(bn), int(wg)))
    ok = True
    if what in ("check", "all"):
        ok = check(fatbins, variants)
    if what in ("bench", "all"):
        bench(fatbins, variants, [512, 1024, 2048, 4096, 8192, 16384])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

"""Device-side check and timing of the Hopper (wgmma) FlashAttention backward without Java, like hopper_harness.py:
loads flash_attention_hopper_backward.fatbin (and the mma.sync fatbins for the forward, D = rowsum(dO ∘ O), the dQ
conversion and the mma.sync backward it is compared with) through the CUDA driver (ctypes), launches them on torch
tensors, compares dQ, dK, dV with an fp32 torch autograd reference on the same bf16/f16 inputs (causal aligned
bottom-right, GQA, softmax scale, strided views, lengths that are not tile multiples; outputs poisoned with NaN), and
times the whole backward (delta, zeroing, kernel, conversion) against the mma.sync backward (flash_bwd_fused_*) and
torch SDPA's FLASH and cuDNN backward on FlashAttentionBench's shapes.
Usage: python3 hopper_bwd_harness.py FATBIN_DIR [check|bench|all] [variant ...]
A variant is name:d:bm:wg (kernel flash_bwd_hopper_<dtype>_d<d><name>). Prints one JSON object per line, then
a short table.
"""
import json
import math
import struct
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from flash_harness import Flash, Module, launch, params, strides
from hopper_harness import median_ms


def rel(a, b):
    """‖a − b‖ / ‖b‖, with a floor on ‖b‖ of 1e-3 per element (one key: dQ and dK are exactly 0, and only rounding
    is left); NaN anywhere gives NaN."""
    a = a.float()
    b = b.float()
    floor = 1e-3 * math.sqrt(b.numel())
    return ((a - b).norm() / b.norm().clamp_min(floor)).item()


class HopperBackward:
    def __init__(self, d):
        self.mod = Module(f"{d}/flash_attention_hopper_backward.fatbin")
        self.flash = Flash(d)
        self.sms = torch.cuda.get_device_properties(0).multi_processor_count

    def backward(self, dout, q, k, v, o, lse, opt, grads=None, name="", bm=64, wg=2):
        B, Nq, Hq, D = q.shape
        Nk, Hkv = k.shape[1], k.shape[2]
        if grads is None:
            grads = (torch.full_like(q, float("nan")), torch.full_like(k, float("nan")),
                     torch.full_like(v, float("nan")))
        dq, dk, dv = grads
        delta = torch.empty((B, Hq, Nq), device=q.device)
        accum = torch.zeros((B, Nq, Hq, D), device=q.device, dtype=torch.float32)
        kw = dict(hq=Hq, hkv=Hkv, nq_rows=Nq, nk_rows=Nk, scale=opt.get("scale", 1 / math.sqrt(D)),
                  window_left=-1, window_right=0 if opt.get("causal") else -1, seqs=B, seq_table=0,
                  q=q.data_ptr(), k=k.data_ptr(), v=v.data_ptr(), o=o.data_ptr(), lse=lse.data_ptr(),
                  dout=dout.data_ptr(), dq=dq.data_ptr(), dk=dk.data_ptr(), dv=dv.data_ptr(), delta=delta.data_ptr(),
                  dq_accum=accum.data_ptr(),
                  **strides("q", q), **strides("k", k), **strides("v", v), **strides("o", o), **strides("do", dout),
                  **strides("dq", dq), **strides("dk", dk), **strides("dv", dv))
        pk = params(**kw)
        dt = {torch.bfloat16: "bf16", torch.float16: "f16"}[q.dtype]
        suffix = f"{dt}_d{D}"
        rows = B * Nq * Hq
        bwd = self.flash.bwd
        launch(bwd.fn(f"flash_bwd_delta_{suffix}", 0), (min((rows + 7) // 8, self.sms * 16), 1, 1), 256, 0, pk,
               struct.pack("<q", B))
        bn = 64 * wg
        smem = (2 * bn + 4 * bm) * D * 2 + bn * bm * 2 + 16 * bm + 1024
        launch(self.mod.fn(f"flash_bwd_hopper_{suffix}{name}", smem), ((Nk + bn - 1) // bn, Hkv, B), 128 * wg, smem,
               pk)
        launch(bwd.fn(f"flash_bwd_dq_convert_{suffix}", 0),
               (min((rows * D // 2 + 255) // 256, self.sms * 16), 1, 1), 256, 0, pk, struct.pack("<q", B))
        return dq, dk, dv


def reference(q, k, v, dout, causal, scale):
    """fp32 autograd attention on the same 16-bit inputs: dq, dk, dv in the inputs' (B, N, H, D) layout."""
    Hq, Hkv = q.shape[2], k.shape[2]
    Nq, Nk = q.shape[1], k.shape[1]
    qf, kf, vf = (x.detach().float().requires_grad_(True) for x in (q, k, v))
    qh = qf.transpose(1, 2)
    kh = kf.transpose(1, 2).repeat_interleave(Hq // Hkv, dim=1)
    vh = vf.transpose(1, 2).repeat_interleave(Hq // Hkv, dim=1)
    s = qh @ kh.transpose(-1, -2) * scale
    if causal:
        i = torch.arange(Nq, device=q.device)[:, None]
        j = torch.arange(Nk, device=q.device)[None, :]
        s = s.masked_fill(j > i + (Nk - Nq), float("-inf"))
    p = torch.softmax(s, dim=-1).nan_to_num(0.0)
    out = (p @ vh).transpose(1, 2)
    out.backward(dout.float())
    return qf.grad, kf.grad, vf.grad


def check(fatbins, variants):
    hb = HopperBackward(fatbins)
    fa2 = hb.flash
    cases = [  # b, nq, nk, hq, hkv, causal, scale, transposed
        (1, 1, 1, 2, 2, False, None, False), (2, 63, 63, 2, 2, False, None, False),
        (2, 200, 200, 4, 4, True, None, False), (1, 1000, 1000, 8, 2, False, None, False),
        (1, 2049, 2049, 2, 1, True, None, False), (2, 77, 300, 4, 2, True, None, False),
        (1, 300, 113, 2, 2, True, None, False), (1, 129, 1023, 2, 2, False, 0.3, False),
        (2, 113, 150, 2, 2, False, None, True), (1, 1, 700, 2, 2, True, None, False),
    ]
    ok_all = True
    for dtype in (torch.bfloat16, torch.float16):
        for (name, d, bm, wg) in variants:
            if name and dtype != torch.bfloat16:
                continue  # tuning variants are built for bf16 only
            for (b, nq, nk, hq, hkv, causal, scale, tr) in cases:
                g = torch.Generator(device="cuda").manual_seed(nq * 7 + nk + d + hq)

                def rnd(n, h):
                    if tr:
                        return (torch.rand(b, h, n, d, device="cuda", generator=g) * 2 - 1).to(dtype).transpose(1, 2)
                    return (torch.rand(b, n, h, d, device="cuda", generator=g) * 2 - 1).to(dtype)
                q, k, v, dout = rnd(nq, hq), rnd(nk, hkv), rnd(nk, hkv), rnd(nq, hq)
                sc = scale if scale is not None else 1 / math.sqrt(d)
                opt = {"causal": causal, "scale": sc}
                qc, vc = (q.contiguous(), v.contiguous()) if tr else (q, v)
                o, lse = fa2.forward(qc, k, vc, opt)
                dq, dk, dv = hb.backward(dout, q, k, v, o, lse, opt, name=name, bm=bm, wg=wg)
                fq, fk, fv = fa2.backward(dout, qc, k, vc, o, lse, opt, fused=True)
                torch.cuda.synchronize()
                rq, rk, rv = reference(q, k, v, dout, causal, sc)
                errs = [rel(dq, rq), rel(dk, rk), rel(dv, rv)]
                base = [rel(fq, rq), rel(fk, rk), rel(fv, rv)]
                nan = any(bool(torch.isnan(x).any()) for x in (dq, dk, dv))
                # within 1e-2 and at most twice the mma.sync backward's error (plus a floor for tiny errors)
                ok = (not nan) and all(e <= 1e-2 and e <= 2 * bb + 1e-3 for e, bb in zip(errs, base))
                ok_all &= ok
                print(json.dumps({"check": f"hopper_bwd{name}", "dtype": str(dtype)[6:], "d": d, "b": b, "nq": nq,
                                  "nk": nk, "hq": hq, "hkv": hkv, "causal": causal, "scale": sc, "transposed": tr,
                                  "rel_dq_dk_dv": [round(e, 6) for e in errs],
                                  "mma_sync": [round(e, 6) for e in base], "nan": nan, "ok": ok}), flush=True)
    print(json.dumps({"check": "summary", "ok": ok_all}), flush=True)
    return ok_all


def bench(fatbins, variants, lengths):
    hb = HopperBackward(fatbins)
    fa2 = hb.flash
    card = torch.cuda.get_device_name(0)
    rows = []
    for d in (64, 128):
        h = 2048 // d
        for n in lengths:
            b = max(1, 16384 // n)
            for causal in (False, True):
                q, k, v, dout = ((torch.rand(b, n, h, d, device="cuda") * 2 - 1).to(torch.bfloat16) for _ in range(4))
                opt = {"causal": causal, "scale": 1 / math.sqrt(d)}
                o, lse = fa2.forward(q, k, v, opt)
                grads = (torch.empty_like(q), torch.empty_like(k), torch.empty_like(v))
                flops = 2.5 * 4 * b * h * n * n * d / (2 if causal else 1)
                res = {"mma_sync": median_ms(lambda: fa2.backward(dout, q, k, v, o, lse, opt, grads=grads,
                                                                  fused=True))}
                for (name, vd, bm, wg) in variants:
                    if vd == d:
                        res[f"hopper{name}"] = median_ms(lambda: hb.backward(dout, q, k, v, o, lse, opt, grads=grads,
                                                                             name=name, bm=bm, wg=wg))
                qt, kt, vt, dot = (x.transpose(1, 2).contiguous() for x in (q, k, v, dout))
                for nm, be in (("torch_flash", SDPBackend.FLASH_ATTENTION), ("torch_cudnn", SDPBackend.CUDNN_ATTENTION)):
                    try:
                        with sdpa_kernel(be):
                            qg, kg, vg = (x.detach().requires_grad_(True) for x in (qt, kt, vt))
                            out = F.scaled_dot_product_attention(qg, kg, vg, is_causal=causal)
                            res[nm] = median_ms(lambda: torch.autograd.grad(out, (qg, kg, vg), dot, retain_graph=True))
                            del out, qg, kg, vg
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
    specs = sys.argv[3:] or [":64:128:2", ":128:64:2"]  # the tiles of the selected kernels (HopperFlashBackward)
    variants = []
    for s in specs:
        name, d, bm, wg = s.split(":")
        variants.append((name, int(d), int(bm), int(wg)))
    ok = True
    if what in ("check", "all"):
        ok = check(fatbins, variants)
    if what in ("bench", "all"):
        bench(fatbins, variants, [512, 1024, 2048, 4096, 8192, 16384])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

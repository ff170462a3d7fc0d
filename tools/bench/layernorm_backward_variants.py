#!/usr/bin/env python3
"""BF16 layer norm backward at GPT-2's shape (16384 x 768), kernel by kernel, on the GPU machine without Java.

Launches Fulgur's kernels straight from their fatbin/cubin through the driver API (ctypes) on torch-allocated buffers,
and times them as CUDA graph replays (device time, without Python's ~20 us a launch), in the same process and
alternated round by round with:
  - torch's own layer norm backward (aten.native_layer_norm_backward, bf16, dx + dgamma + dbeta),
  - a copy of the same bytes as the layer norm backward (graph-timed) and a 1 GiB copy (timed eagerly: captured in
    a graph it ran at 2.8 TB/s on an H200 against 4.2 eagerly),
  - Fulgur's kernels from LAYERNORM_FATBIN: the backward with its finishing kernel, and the main kernel alone,
  - with --baseline, the same from an earlier fatbin (an earlier kernel: no gamma in shared memory),
  - the variants of tools/bench/layernorm_backward_variants.cu (block size and grid, the finish by a programmatic
    dependent launch, a cooperative one-launch backward).
Every Fulgur candidate is first checked against torch's float32 backward (dx, dgamma, dbeta) and dropped, loudly, if
it disagrees. Usage: layernorm_backward_variants.py LAYERNORM_FATBIN [VARIANTS_CUBIN] [--baseline FATBIN]
[--rounds K] [--check-only]. Prints one JSON object per check and per candidate and round, then a summary table.
"""
import argparse
import ctypes
import json
import os
import statistics
import struct
import sys

import torch

# the driver-API pieces of the FlashAttention harnesses: libcuda, error check, module loading, launch on torch's stream
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "cuda", "src", "test", "python"))
from flash_harness import Module, check, cuda, launch as launch_packed  # noqa: E402

ROWS, C = 16384, 768
N, W = 24, 8  # the kernel's lanes (C <= 32 N) and pack elements (16 bytes of bf16)
I64, I32, PTR = "<q", "<i", "<Q"


def function(module, name, shared):
    """The kernel, allowed `shared` bytes of dynamic shared memory (0 while unknown: the caller sets it before a launch
    that needs any), or None where the module lacks it."""
    try:
        return module.fn(name, shared)
    except RuntimeError:
        return None


def packed(args):
    return [struct.pack(fmt, v) for fmt, v in args]


def launch(f, grid, threads, shared, args):
    """On torch's current stream, so that a graph capture takes it in."""
    launch_packed(f, (grid, 1, 1), threads, shared, *packed(args))


class LaunchAttributeValue(ctypes.Union):
    _fields_ = [("pad", ctypes.c_char * 64), ("value", ctypes.c_int)]


class LaunchAttribute(ctypes.Structure):
    _fields_ = [("id", ctypes.c_int), ("pad", ctypes.c_char * 4), ("value", LaunchAttributeValue)]


class LaunchConfig(ctypes.Structure):
    _fields_ = [("gridDimX", ctypes.c_uint), ("gridDimY", ctypes.c_uint), ("gridDimZ", ctypes.c_uint),
                ("blockDimX", ctypes.c_uint), ("blockDimY", ctypes.c_uint), ("blockDimZ", ctypes.c_uint),
                ("sharedMemBytes", ctypes.c_uint), ("hStream", ctypes.c_void_p),
                ("attrs", ctypes.POINTER(LaunchAttribute)), ("numAttrs", ctypes.c_uint)]


def launch_dependent(f, grid, threads, shared, args, attribute=6):
    """cuLaunchKernelEx with one int attribute: 6 programmatic stream serialization (may start before the previous
    kernel completes), 2 cooperative (every block resident at once)."""
    holders = [ctypes.create_string_buffer(b, len(b)) for b in packed(args)]
    params = (ctypes.c_void_p * len(holders))(*[ctypes.cast(h, ctypes.c_void_p) for h in holders])
    attr = LaunchAttribute()
    attr.id = attribute
    attr.value.value = 1
    config = LaunchConfig(grid, 1, 1, threads, 1, 1, shared, ctypes.c_void_p(torch.cuda.current_stream().cuda_stream),
                          ctypes.pointer(attr), 1)
    check(cuda.cuLaunchKernelEx(ctypes.byref(config), f, params, None), "cuLaunchKernelEx")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fatbin")
    ap.add_argument("variants", nargs="?")
    ap.add_argument("--baseline")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--check-only", action="store_true", help="run each candidate once, checked, and stop (for ncu)")
    a = ap.parse_args()

    dev = torch.device("cuda")
    props = torch.cuda.get_device_properties(0)
    sms = props.multi_processor_count

    g = torch.Generator(device=dev).manual_seed(1)
    x = (torch.randn(ROWS, C, device=dev, generator=g) * 2 + 0.5).to(torch.bfloat16)
    dy = torch.randn(ROWS, C, device=dev, generator=g).to(torch.bfloat16)
    gamma = (1 + 0.2 * torch.randn(C, device=dev, generator=g)).to(torch.bfloat16)
    beta = (0.1 * torch.randn(C, device=dev, generator=g)).to(torch.bfloat16)
    _, mean, rstd = torch.ops.aten.native_layer_norm(x, [C], gamma, beta, 1e-5)
    ref_dx, ref_dg, ref_db = torch.ops.aten.native_layer_norm_backward(
        dy.float(), x.float(), [C], mean, rstd, gamma.float(), beta.float(), [True, True, True])
    mean = mean.reshape(ROWS).contiguous()
    rstd = rstd.reshape(ROWS).contiguous()
    moved = 3 * ROWS * C * 2 + 2 * ROWS * 4  # x, dy read, dx written (bf16), mean and rstd read

    dx = torch.empty_like(x)
    dgamma = torch.empty_like(gamma)
    dbeta = torch.empty_like(beta)
    partial = torch.empty(2 * 8 * sms * C, dtype=torch.float32, device=dev)  # up to 8 blocks a multiprocessor

    candidates = {}  # name -> (call, bytes moved, note)
    same_src = torch.empty(moved // 2, dtype=torch.uint8, device=dev)  # moved in all: half read, half written
    same_dst = torch.empty_like(same_src)
    candidates["copy_same_bytes"] = (lambda: same_dst.copy_(same_src), moved, "")
    candidates["torch_native_layer_norm_backward"] = (
        lambda: torch.ops.aten.native_layer_norm_backward(dy, x, [C], mean.reshape(ROWS, 1), rstd.reshape(ROWS, 1),
                                                          gamma, beta, [True, True, True]), moved, "")

    def fulgur(f, finish, threads, gamma_in_shared=True, grid=None):
        """The backward (main kernel, then the finish when given) as launched by CudaNorm: one wave of blocks."""
        warps = threads // 32
        shared = (N // W * W * 32 * 4 if gamma_in_shared else 0) + 2 * warps * (N // W) * W * 32 * 4
        # CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: function() set it to 0
        check(cuda.cuFuncSetAttribute(f, 8, shared), "cuFuncSetAttribute")
        blocks = ctypes.c_int()
        check(cuda.cuOccupancyMaxActiveBlocksPerMultiprocessor(ctypes.byref(blocks), f, threads,
                                                                ctypes.c_size_t(shared)), "occupancy")
        grid = min(-(-ROWS // warps), sms * blocks.value) if grid is None else grid
        dg_part = partial.data_ptr()
        db_part = dg_part + grid * C * 4

        def call():
            launch(f, grid, threads, shared, [
                (I64, ROWS), (I32, C), (PTR, dx.data_ptr()), (PTR, dg_part), (PTR, db_part),
                (PTR, dy.data_ptr()), (PTR, x.data_ptr()), (PTR, mean.data_ptr()), (PTR, rstd.data_ptr()),
                (PTR, gamma.data_ptr())])
            if finish is not None:
                finish_columns = finish[1]
                (launch_dependent if len(finish) > 2 else launch)(finish[0], -(-C // finish_columns), 256, 0, [
                    (I64, grid), (I64, C), (PTR, dgamma.data_ptr()), (PTR, dbeta.data_ptr()),
                    (PTR, dg_part), (PTR, db_part)])
        return call, f"grid {grid} = {sms} SMs x {blocks.value} blocks of {threads}, {shared} B shared"

    def add(name, module, kernel, threads, finish, gamma_in_shared=True, grid=None):
        f = function(module, kernel, 0)
        if f is None:
            print(f"# {name}: no {kernel}")
            return
        call, note = fulgur(f, finish, threads, gamma_in_shared, grid)
        candidates[name] = (call, moved, note)
        call_main, _ = fulgur(f, None, threads, gamma_in_shared, grid)
        candidates[name + "_main_only"] = (call_main, moved, note)

    prod = Module(a.fatbin)
    finish = (function(prod, "layernorm_param_grad_finish_bf16", 0), 8)
    add("fulgur", prod, "layernorm_backward_warp24_vec_full_bf16", 512, finish)  # CudaNorm.backwardThreads
    if a.baseline:
        base = Module(a.baseline)
        add("baseline", base, "layernorm_backward_warp24_vec_full_bf16", 256,
            (function(base, "layernorm_param_grad_finish_bf16", 0), 4), gamma_in_shared=False)
        add("fulgur_with_baseline_finish", prod, "layernorm_backward_warp24_vec_full_bf16", 512,
            (function(base, "layernorm_param_grad_finish_bf16", 0), 4))
    if a.variants:
        var = Module(a.variants)
        for name in ["lnbw_d2_t256_b2", "lnbw_d2_t512_b1"]:
            add(name, var, name, int(name.split("_t")[1].split("_")[0]), finish)
        # whole rounds: every warp the same number of rows (16384 = 8 rows x 2048 warps)
        add("lnbw_d2_t256_b2_grid256", var, "lnbw_d2_t256_b2", 256, finish, grid=256)
        add("lnbw_d2_t512_b1_grid128", var, "lnbw_d2_t512_b1", 512, finish, grid=128)
        pdl = (function(var, "lnbw_finish_wait", 0), 8, "dependent")
        add("lnbw_d2_t256_b2_pdl", var, "lnbw_d2_t256_b2", 256, pdl)
        add("lnbw_d2_t256_b2_trigger_pdl", var, "lnbw_d2_t256_b2_trigger", 256, pdl)
        coop = function(var, "lnbw_coop_d2_t256_b2", 0)
        if coop is not None:
            _, note = fulgur(coop, None, 256)  # its grid and shared memory (and the shared-memory opt-in)
            grid = int(note.split()[1])
            shared = int(note.split(", ")[1].split()[0])
            counters = torch.zeros(2, dtype=torch.int32, device=dev)
            dg_part = partial.data_ptr()

            def coop_call():
                launch_dependent(coop, grid, 256, shared, [
                    (I64, ROWS), (I32, C), (PTR, dx.data_ptr()), (PTR, dg_part), (PTR, dg_part + grid * C * 4),
                    (PTR, dy.data_ptr()), (PTR, x.data_ptr()), (PTR, mean.data_ptr()), (PTR, rstd.data_ptr()),
                    (PTR, gamma.data_ptr()), (PTR, dgamma.data_ptr()), (PTR, dbeta.data_ptr()),
                    (PTR, counters.data_ptr())], attribute=2)
            candidates["lnbw_coop_d2_t256_b2"] = (coop_call, moved, note + ", cooperative")

    # correctness first: a wrong kernel has no time
    for name in list(candidates):
        if name.startswith(("torch", "copy")) or name.endswith("_main_only"):
            continue
        for t in (dx, dgamma, dbeta):
            t.fill_(float("nan"))
        try:
            candidates[name][0]()
            torch.cuda.synchronize()
        except RuntimeError as e:
            print(f"# {name}: failed to run: {e}")
            del candidates[name]
            continue
        errs = {k: ((got.float() - ref).abs().max() / ref.abs().max()).item()
                for k, got, ref in (("dx", dx, ref_dx), ("dgamma", dgamma, ref_dg), ("dbeta", dbeta, ref_db))}
        ok = all(e < 1e-2 for e in errs.values())
        print(json.dumps({"check": name, "relative_max_error": errs, "ok": ok, "launch": candidates[name][2]}))
        if not ok:
            del candidates[name]
            candidates.pop(name + "_main_only", None)
    if a.check_only:
        return

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up off the capture
        for call, _, _ in candidates.values():
            for _ in range(3):
                call()
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    graphs = {}
    for name, (call, _, _) in candidates.items():
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for _ in range(a.calls):
                call()
        graphs[name] = graph
    big_src = torch.empty(1 << 30, dtype=torch.uint8, device=dev)
    big_dst = torch.empty_like(big_src)

    times = {name: [] for name in ["copy_1GiB"] + list(candidates)}
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for graph in graphs.values():
        graph.replay()
    torch.cuda.synchronize()
    for r in range(a.rounds):
        per = []
        for _ in range(5):
            start.record()
            for _ in range(10):
                big_dst.copy_(big_src)
            stop.record()
            stop.synchronize()
            per.append(start.elapsed_time(stop) / 10)
        times["copy_1GiB"].append(statistics.median(per))
        for name, graph in graphs.items():
            per = []
            for _ in range(5):
                start.record()
                graph.replay()
                stop.record()
                stop.synchronize()
                per.append(start.elapsed_time(stop) / a.calls)
            times[name].append(statistics.median(per))
        for name in times:
            nbytes = 2 * (1 << 30) if name == "copy_1GiB" else candidates[name][1]
            print(json.dumps({"round": r, "name": name, "ms": times[name][-1], "GBps": nbytes / times[name][-1] / 1e6}))

    best = {name: min(v) for name, v in times.items()}
    copy = 2 * (1 << 30) / best["copy_1GiB"] / 1e6
    same = moved / best["copy_same_bytes"] / 1e6
    print(f"\n{props.name}, {sms} SMs; rows {ROWS} x {C} bf16; best of {a.rounds} rounds (median of 5 graph replays "
          f"of {a.calls} calls; the 1 GiB copy eager)")
    print(f"copy 1 GiB {copy:.1f} GB/s, copy of the same bytes {same:.1f} GB/s")
    print(f"{'candidate':40s} {'us':>8s} {'GB/s':>8s} {'/1GiB':>6s} {'/same':>6s}  launch")
    for name, ms in best.items():
        if name.startswith("copy"):
            continue
        gbs = moved / ms / 1e6
        print(f"{name:40s} {ms * 1e3:8.2f} {gbs:8.1f} {gbs / copy:6.3f} {gbs / same:6.3f}  {candidates[name][2]}")


if __name__ == "__main__":
    main()

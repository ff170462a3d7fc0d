// Layer normalisation over the rows of contiguous (R, C) tensors (layernorm.cu), forward and backward, llm.c style:
// the forward saves per-row mean and rstd = 1/√(var + eps) (biased variance, two passes over the row: mean, then the
// squared deviations), the backward recomputes xhat. F32, BF16 and F16 compute in float with F32 mean/rstd, F64 in
// double with F64 mean/rstd, as CpuNorm. gamma and beta may be null (no affine part; the backward takes gamma as ones).
//
// Rows of at most 1024 columns: one warp per row, the row in registers (in its storage type: BF16/F16 rows are widened
// in each pass, not kept widened), 16-byte loads and stores when the rows are aligned; a BF16/F16 forward warp loads
// two rows before computing either, and the backward warps load their next row while computing the current one, so
// enough bytes are in flight to reach copy bandwidth with half-size elements. The backward warps also sum
// dgamma = Σ dy·xhat and dbeta = Σ dy over their rows, each warp in its own slice of shared memory; the block adds its
// warps in order and writes one partial row, and layernorm_param_grad_finish adds the partial rows in order: no
// atomics, the same bits on every run. Longer rows: one block per row re-reading the row from cache, and dgamma/dbeta
// from a separate column kernel (layernorm_param_grad_partial) into the same partial rows.
#include "fulgur.cuh"
#include <type_traits>

extern __shared__ __align__(16) unsigned char layernorm_smem[];

// Widening that the compiler may neither share between passes nor hoist: a row held in registers in BF16/F16 is
// widened again in each pass over it, where ordinary widening would be computed once, early, and kept in twice the
// registers (with two rows in flight that spilled). `after` is a value of the pass (the row's mean, say): as an input
// of the asm it keeps the widening from running before that value exists and makes each pass's widening distinct.
// The asm works on the 32-bit words that hold two elements each. Values are the exact widening either way.
__device__ __forceinline__ void widen_pair_after(unsigned int w, float after, __nv_bfloat16, float& lo, float& hi) {
    unsigned int l, h;
    asm("shl.b32 %0, %2, 16;\n\tand.b32 %1, %2, 0xffff0000;" : "=r"(l), "=r"(h) : "r"(w), "f"(after));
    lo = __uint_as_float(l);
    hi = __uint_as_float(h);
}
__device__ __forceinline__ void widen_pair_after(unsigned int w, float after, __half, float& lo, float& hi) {
    asm("{\n\t.reg .b16 a, b;\n\tmov.b32 {a, b}, %2;\n\tcvt.f32.f16 %0, a;\n\tcvt.f32.f16 %1, b;\n\t}"
        : "=f"(lo), "=f"(hi) : "r"(w), "f"(after));
}

// The W elements of a pack in the compute type: for BF16/F16 packs of an even number of elements widened afresh once
// `after` is known (see widen_pair_after), plainly otherwise.
template <typename T, int W>
__device__ __forceinline__ void widen_pack(const Vec<T, W>& p, compute_t<T> after, compute_t<T> (&v)[W]) {
    if constexpr (sizeof(T) == 2 && W % 2 == 0) {
        const unsigned int* words = reinterpret_cast<const unsigned int*>(p.v);
#pragma unroll
        for (int k = 0; k < W / 2; k++) widen_pair_after(words[k], after, T(), v[2 * k], v[2 * k + 1]);
    } else {
#pragma unroll
        for (int k = 0; k < W; k++) v[k] = (compute_t<T>) widen(p.v[k]);
    }
}

// W compute values rounded to a pack of the storage type: BF16/F16 pairs in one cvt.rn.{bf16,f16}x2.f32 (the same
// round-to-nearest-even as narrow, half the instructions), plainly otherwise.
template <typename T, int W>
__device__ __forceinline__ Vec<T, W> narrow_pack(const compute_t<T> (&o)[W]) {
    Vec<T, W> q;
    if constexpr (std::is_same_v<T, __nv_bfloat16> && W % 2 == 0) {
#pragma unroll
        for (int k = 0; k < W; k += 2) {
            const __nv_bfloat162 h = __floats2bfloat162_rn(o[k], o[k + 1]);
            q.v[k] = h.x;
            q.v[k + 1] = h.y;
        }
    } else if constexpr (std::is_same_v<T, __half> && W % 2 == 0) {
#pragma unroll
        for (int k = 0; k < W; k += 2) {
            const __half2 h = __floats2half2_rn(o[k], o[k + 1]);
            q.v[k] = h.x;
            q.v[k + 1] = h.y;
        }
    } else {
#pragma unroll
        for (int k = 0; k < W; k++) q.v[k] = narrow<T>(o[k]);
    }
    return q;
}

// xhat = (v − m)·s. For BF16/F16 as one FMA, v·s + (−m·s) with ms = m·s: its extra rounding (|m·s|·2^-24) is far
// below the output's 2^-9; F32/F64 keep the exact-order form, whose outputs are compared at 1e-5 even for rows far
// from 0.
template <typename T>
__device__ __forceinline__ compute_t<T> layernorm_xhat(compute_t<T> v, compute_t<T> m, compute_t<T> s,
                                                       compute_t<T> ms) {
    if constexpr (sizeof(T) == 2) {
        return fmaf(v, s, -ms);
    } else {
        return (v - m) * s;
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// CUDA kernels

// y (rows, C), mean (rows), rstd (rows), x (rows, C), gamma (C) or null, beta (C) or null; C ≤ 32·N, a warp per
// ROWS consecutive rows. Lane l holds the packs of W consecutive elements that start at columns (p·32 + l)·W,
// p < N/W: with W = 16 / sizeof(T) (C % W == 0, every pointer 16-byte aligned) every load and store is 16 bytes.
// The rows stay in registers in their storage type (a BF16 row of 768 takes 12 registers a lane, not 24) and are
// widened where used; all ROWS rows are loaded before any arithmetic, so a warp keeps ROWS rows in flight. The
// arithmetic, and so every bit of the output, is that of one row at a time. FULL: C = 32·W·ceil(N/W) (every lane's
// packs all inside the row, as for C = 768 and 1024), which drops the per-element bounds tests; the kernel is bound
// by the instructions it issues at GPT-2 sizes (ncu: 64% of issue slots busy), so each one counts: y = xhat·g + b is
// one FMA (g = 1, b = 0 when null: the same value) and BF16/F16 outputs are rounded in pairs.
template <typename T, int N, int W, int ROWS, bool FULL>
__device__ void layernorm_forward_warp_kernel(int64_t rows, int C, double eps, T* __restrict__ y,
                                              compute_t<T>* __restrict__ mean, compute_t<T>* __restrict__ rstd,
                                              const T* __restrict__ x, const T* __restrict__ gamma,
                                              const T* __restrict__ beta) {
    using A = compute_t<T>;
    using P = Vec<T, W>;
    constexpr int PACKS = (N + W - 1) / W;
    const int lane = threadIdx.x & 31;
    const int64_t first = ((int64_t) blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5)) * ROWS;
    if (first >= rows) return;
    P raw[ROWS][PACKS];
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        const bool live = first + r < rows;
        const T* xr = x + (first + r) * C;
#pragma unroll
        for (int p = 0; p < PACKS; p++) {
            const int j = (p * 32 + lane) * W;
            if (live && (FULL || j < C)) raw[r][p] = *reinterpret_cast<const P*>(xr + j);
        }
    }
    A m[ROWS];
    A s[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        A sum = 0;
#pragma unroll
        for (int p = 0; p < PACKS; p++) {
            const bool in = FULL || (p * 32 + lane) * W < C;
            A v[W];
            widen_pack(raw[r][p], (A) r, v);
#pragma unroll
            for (int k = 0; k < W; k++) sum += in ? v[k] : (A) 0;
        }
        m[r] = warp_reduce(sum, SumOp()) / (A) C;
    }
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        A sq = 0;
#pragma unroll
        for (int p = 0; p < PACKS; p++) {
            const bool in = FULL || (p * 32 + lane) * W < C;
            A v[W];
            widen_pack(raw[r][p], m[r], v);
#pragma unroll
            for (int k = 0; k < W; k++) {
                const A d = in ? v[k] - m[r] : (A) 0;
                sq += d * d;
            }
        }
        const A var = warp_reduce(sq, SumOp()) / (A) C;
        s[r] = (A) 1 / sqrt(var + (A) eps);
    }
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        const int64_t row = first + r;
        if (row >= rows) break;
        T* yr = y + row * C;
        const A ms = m[r] * s[r];
#pragma unroll
        for (int p = 0; p < PACKS; p++) {
            const int j = (p * 32 + lane) * W;
            if (FULL || j < C) {
                P g;
                P b;
                if (gamma != nullptr) g = *reinterpret_cast<const P*>(gamma + j);
                if (beta != nullptr) b = *reinterpret_cast<const P*>(beta + j);
                A v[W];
                widen_pack(raw[r][p], s[r], v);
#pragma unroll
                for (int k = 0; k < W; k++) {
                    const A gk = gamma != nullptr ? (A) widen(g.v[k]) : (A) 1;
                    const A bk = beta != nullptr ? (A) widen(b.v[k]) : (A) 0;
                    v[k] = fma(layernorm_xhat<T>(v[k], m[r], s[r], ms), gk, bk);
                }
                *reinterpret_cast<P*>(yr + j) = narrow_pack<T, W>(v);
            }
        }
        if (lane == 0) {
            mean[row] = m[r];
            rstd[row] = s[r];
        }
    }
}

// As layernorm_forward_warp_kernel for any C: a block per row (blockIdx.x), W-element packs (C % W == 0 and every
// pointer W·sizeof(T)-aligned); passes 2 and 3 re-read the row, mostly from L1/L2.
template <typename T, int W>
__device__ void layernorm_forward_block_kernel(int64_t rows, int64_t C, double eps, T* __restrict__ y,
                                               compute_t<T>* __restrict__ mean, compute_t<T>* __restrict__ rstd,
                                               const T* __restrict__ x, const T* __restrict__ gamma,
                                               const T* __restrict__ beta) {
    using A = compute_t<T>;
    using P = Vec<T, W>;
    __shared__ A scratch[32];
    const int64_t row = blockIdx.x;
    if (row >= rows) return;
    const P* xr = reinterpret_cast<const P*>(x + row * C);
    const int64_t packs = C / W;
    A sum = 0;
#pragma unroll 4
    for (int64_t i = threadIdx.x; i < packs; i += blockDim.x) {
        const P p = xr[i];
#pragma unroll
        for (int k = 0; k < W; k++) sum += (A) widen(p.v[k]);
    }
    const A m = block_reduce(sum, SumOp(), scratch) / (A) C;
    A sq = 0;
#pragma unroll 4
    for (int64_t i = threadIdx.x; i < packs; i += blockDim.x) {
        const P p = xr[i];
#pragma unroll
        for (int k = 0; k < W; k++) {
            const A d = (A) widen(p.v[k]) - m;
            sq += d * d;
        }
    }
    const A var = block_reduce(sq, SumOp(), scratch) / (A) C;
    const A s = (A) 1 / sqrt(var + (A) eps);
    P* yr = reinterpret_cast<P*>(y + row * C);
    const P* gr = reinterpret_cast<const P*>(gamma);
    const P* br = reinterpret_cast<const P*>(beta);
#pragma unroll 4
    for (int64_t i = threadIdx.x; i < packs; i += blockDim.x) {
        const P p = xr[i];
        P g, b, q;
        if (gamma != nullptr) g = gr[i];
        if (beta != nullptr) b = br[i];
#pragma unroll
        for (int k = 0; k < W; k++) {
            A o = ((A) widen(p.v[k]) - m) * s;
            if (gamma != nullptr) o *= (A) widen(g.v[k]);
            if (beta != nullptr) o += (A) widen(b.v[k]);
            q.v[k] = narrow<T>(o);
        }
        yr[i] = q;
    }
    if (threadIdx.x == 0) {
        mean[row] = m;
        rstd[row] = s;
    }
}

// One row of the backward warp kernel in flight: the lane's packs of dy and x in their storage type, and the row's
// mean and rstd.
template <typename T, int N, int W>
struct LayernormBackwardRow {
    Vec<T, W> dy[(N + W - 1) / W];
    Vec<T, W> x[(N + W - 1) / W];
    compute_t<T> m;
    compute_t<T> s;
};

// Issues the loads of `row` into `r` (nothing waits for them here).
template <typename T, int N, int W, bool FULL>
__device__ __forceinline__ void layernorm_backward_load(LayernormBackwardRow<T, N, W>& r, int64_t row, int C, int lane,
                                                        const T* __restrict__ dy, const T* __restrict__ x,
                                                        const compute_t<T>* __restrict__ mean,
                                                        const compute_t<T>* __restrict__ rstd) {
    using P = Vec<T, W>;
#pragma unroll
    for (int p = 0; p < (N + W - 1) / W; p++) {
        const int j = (p * 32 + lane) * W;
        if (FULL || j < C) {
            r.dy[p] = *reinterpret_cast<const P*>(dy + row * C + j);
            r.x[p] = *reinterpret_cast<const P*>(x + row * C + j);
        }
    }
    r.m = mean[row];
    r.s = rstd[row];
}

// The dgamma/dbeta accumulators of R consecutive elements of a lane, side by side ({Σ dy·xhat, Σ dy} per element):
// one 16-byte shared-memory load and store serve two F32 elements where separate arrays took four loads and four
// stores, and the backward is bound by the instructions it issues, not by bandwidth. R = 2 for packs of an even
// number of elements, 1 otherwise.
template <typename A, int R>
struct alignas(2 * R * sizeof(A) <= 16 ? 2 * R * sizeof(A) : 16) LayernormGradRecord {
    A v[2 * R];
};
template <int W>
constexpr int layernorm_record_elements() { return W % 2 == 0 ? 2 : 1; }

// gamma widened in shared memory, laid out as the lanes read it: column j — element k = j % W of pack p of lane l —
// sits in the U-element unit (p·W + k) / U of lane l, units lane-minor (unit q of every lane side by side), so each
// lane reads its pack with W / U conflict-free shared loads, and no lane widens gamma in its loop. U = 16 bytes of A
// when a pack holds whole units, else 1.
template <typename A, int W>
constexpr int layernorm_gamma_unit() { return (W * sizeof(A)) % 16 == 0 ? 16 / (int) sizeof(A) : 1; }
template <typename A, int W>
__device__ __forceinline__ int layernorm_gamma_index(int j) {
    constexpr int U = layernorm_gamma_unit<A, W>();
    const int pack = j / W;
    const int k = j % W;
    return ((((pack >> 5) * W + k) / U) * 32 + (pack & 31)) * U + k % U;
}
// Fills the block's gamma (ones when null) for columns j < C; the caller syncs the block before reading it.
template <typename T, int W>
__device__ __forceinline__ void layernorm_gamma_fill(compute_t<T>* __restrict__ gammaS, int C,
                                                     const T* __restrict__ gamma) {
    using A = compute_t<T>;
    for (int j = threadIdx.x; j < C; j += blockDim.x) {
        gammaS[layernorm_gamma_index<A, W>(j)] = gamma != nullptr ? (A) widen(gamma[j]) : (A) 1;
    }
}
// The lane's pack p of the block's gamma.
template <typename A, int W>
__device__ __forceinline__ void layernorm_gamma_pack(const A* __restrict__ gammaS, int p, int lane, A (&g)[W]) {
    constexpr int U = layernorm_gamma_unit<A, W>();
#pragma unroll
    for (int u = 0; u < W / U; u++) {
        const Vec<A, U> q = *reinterpret_cast<const Vec<A, U>*>(gammaS + ((p * (W / U) + u) * 32 + lane) * U);
#pragma unroll
        for (int t = 0; t < U; t++) g[u * U + t] = q.v[t];
    }
}

// dx of one loaded row, and (ACC) its dy·xhat and dy added to the lane's dgamma/dbeta accumulators: element i of the
// lane's packs in record i / R, slot i % R, of the warp's shared-memory slice, the records lane-minor (record q of
// every lane side by side: acc[q·32 + lane]). FULL as in the forward: no per-element bounds tests. gammaS: the block's
// widened gamma (layernorm_gamma_fill). The kernel issues an instruction every 2.1 cycles per scheduler with 4 warps
// each (ncu), so instructions count: gamma comes widened from shared memory, the accumulators' zeroing and null tests
// are compiled out (ACC), and BF16/F16 rows compute xhat with one FMA (layernorm_xhat) and dx as g·s + (x·a + b) with
// the row constants a = −s·s·mean(g·xhat) and b = m·s·s·mean(g·xhat) − s·mean(g): two FMAs, no xhat. F32/F64 keep the
// exact-order form.
template <typename T, int N, int W, bool FULL, bool ACC>
__device__ __forceinline__ void layernorm_backward_row(
        const LayernormBackwardRow<T, N, W>& r, int64_t row, int C, int lane, T* __restrict__ dx,
        const compute_t<T>* __restrict__ gammaS,
        LayernormGradRecord<compute_t<T>, layernorm_record_elements<W>()>* __restrict__ acc) {
    using A = compute_t<T>;
    using P = Vec<T, W>;
    constexpr int PACKS = (N + W - 1) / W;
    constexpr int R = layernorm_record_elements<W>();
    const A ms = r.m * r.s;
    A sumG = 0;
    A sumGx = 0;
#pragma unroll
    for (int p = 0; p < PACKS; p++) {
        const int j = (p * 32 + lane) * W;
        const bool in = FULL || j < C;
        A vg[W];
        if (in) layernorm_gamma_pack<A, W>(gammaS, p, lane, vg);
        A vd[W];
        A vx[W];
        widen_pack(r.dy[p], r.m, vd);
        widen_pack(r.x[p], r.m, vx);
#pragma unroll
        for (int k0 = 0; k0 < W; k0 += R) {
            LayernormGradRecord<A, R> rec;
            if constexpr (ACC) rec = acc[((p * W + k0) / R) * 32 + lane];
#pragma unroll
            for (int t = 0; t < R; t++) {
                const int k = k0 + t;
                const A d = in ? vd[k] : (A) 0;
                const A xhat = in ? layernorm_xhat<T>(vx[k], r.m, r.s, ms) : (A) 0;
                const A g = in ? d * vg[k] : (A) 0;
                sumG += g;
                sumGx += g * xhat;
                if constexpr (ACC) {
                    rec.v[2 * t] += d * xhat;
                    rec.v[2 * t + 1] += d;
                }
            }
            if constexpr (ACC) acc[((p * W + k0) / R) * 32 + lane] = rec;
        }
    }
    const A meanG = warp_reduce(sumG, SumOp()) / (A) C;
    const A meanGx = warp_reduce(sumGx, SumOp()) / (A) C;
    const A sMeanG = r.s * meanG;
    const A sMeanGx = r.s * meanGx;
    const A a = -r.s * sMeanGx;
    const A b = ms * sMeanGx - sMeanG;
    T* dxr = dx + row * C;
#pragma unroll
    for (int p = 0; p < PACKS; p++) {
        const int j = (p * 32 + lane) * W;
        if (FULL || j < C) {
            A vg[W];
            layernorm_gamma_pack<A, W>(gammaS, p, lane, vg);
            A vd[W];
            A vx[W];
            widen_pack(r.dy[p], meanGx, vd);
            widen_pack(r.x[p], meanGx, vx);
#pragma unroll
            for (int k = 0; k < W; k++) {
                const A g = vd[k] * vg[k];
                if constexpr (sizeof(T) == 2) {
                    vd[k] = fmaf(g, r.s, fmaf(vx[k], a, b));
                } else {
                    const A xhat = layernorm_xhat<T>(vx[k], r.m, r.s, ms);
                    vd[k] = r.s * (g - meanG - xhat * meanGx);
                }
            }
            *reinterpret_cast<P*>(dxr + j) = narrow_pack<T, W>(vd);
        }
    }
}

// The warp's rows of the backward warp kernel: rows start, start + stride, ... with DEPTH rows in flight (while row k
// is computed, the loads of row k + DEPTH − 1 are under way; a ring of DEPTH buffers whose indices unroll into
// registers).
template <typename T, int N, int W, int DEPTH, bool FULL, bool ACC>
__device__ __forceinline__ void layernorm_backward_rows(
        int64_t rows, int C, int64_t start, int64_t stride, int lane, T* __restrict__ dx, const T* __restrict__ dy,
        const T* __restrict__ x, const compute_t<T>* __restrict__ mean, const compute_t<T>* __restrict__ rstd,
        const compute_t<T>* __restrict__ gammaS,
        LayernormGradRecord<compute_t<T>, layernorm_record_elements<W>()>* __restrict__ acc) {
    LayernormBackwardRow<T, N, W> ring[DEPTH];
#pragma unroll
    for (int k = 0; k + 1 < DEPTH; k++) {
        const int64_t ahead = start + k * stride;
        if (ahead < rows) layernorm_backward_load<T, N, W, FULL>(ring[k], ahead, C, lane, dy, x, mean, rstd);
    }
    for (int64_t row = start; row < rows; row += DEPTH * stride) {
#pragma unroll
        for (int k = 0; k < DEPTH; k++) {
            const int64_t current = row + k * stride;
            if (current >= rows) break;
            const int64_t ahead = current + (DEPTH - 1) * stride;
            if (ahead < rows) {
                layernorm_backward_load<T, N, W, FULL>(ring[(k + DEPTH - 1) % DEPTH], ahead, C, lane, dy, x, mean,
                                                       rstd);
            }
            layernorm_backward_row<T, N, W, FULL, ACC>(ring[k], current, C, lane, dx, gammaS, acc);
        }
    }
}

// dx (rows, C) = rstd · (g − mean(g) − xhat · mean(g · xhat)) with g = dy · gamma, xhat = (x − mean) · rstd; and,
// when dgammaPart is not null, the block's partial sums dgammaPart[blockIdx.x, :] = Σ dy·xhat and
// dbetaPart[blockIdx.x, :] = Σ dy over its rows. C ≤ 32·N, packs of W elements as the forward; warp w of block b
// takes rows w·gridDim.x + b, then every gridDim.x·warps-th (the grid is one wave, sized from the occupancy), DEPTH
// rows in flight (layernorm_backward_rows); rows stay in registers in their storage type and are widened where used
// (xhat and g are recomputed in the second pass rather than kept, which halves the registers of a BF16 row). dgamma
// and dbeta accumulate across the warp's rows in its shared-memory slices. Dynamic shared memory: the block's widened
// gamma, ceil(N/W)·W·32 values of compute_t<T> rounded up to 16 bytes, then, when dgammaPart is not null, the slices:
// 2·warps·ceil(N/W)·W·32 values (CudaNorm.backwardSharedBytes).
template <typename T, int N, int W, int DEPTH, bool FULL>
__device__ void layernorm_backward_warp_kernel(int64_t rows, int C, T* __restrict__ dx,
                                               compute_t<T>* __restrict__ dgammaPart,
                                               compute_t<T>* __restrict__ dbetaPart, const T* __restrict__ dy,
                                               const T* __restrict__ x, const compute_t<T>* __restrict__ mean,
                                               const compute_t<T>* __restrict__ rstd, const T* __restrict__ gamma) {
    using A = compute_t<T>;
    constexpr int PACKS = (N + W - 1) / W;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warps = blockDim.x >> 5;
    A* gammaS = reinterpret_cast<A*>(layernorm_smem);
    constexpr int GAMMA_BYTES = (PACKS * W * 32 * (int) sizeof(A) + 15) / 16 * 16;
    layernorm_gamma_fill<T, W>(gammaS, C, gamma);
    // dgamma/dbeta accumulators in shared memory, a slice of PACKS·W/R·32 records per warp (registers held them
    // before, and at 48 of them a lane left room for only one block of two-row warps per multiprocessor)
    constexpr int R = layernorm_record_elements<W>();
    using Record = LayernormGradRecord<A, R>;
    constexpr int SLICE = PACKS * W / R * 32;
    Record* acc = nullptr;
    if (dgammaPart != nullptr) {
        acc = reinterpret_cast<Record*>(layernorm_smem + GAMMA_BYTES) + warp * SLICE;
        for (int i = lane; i < SLICE; i += 32) {
#pragma unroll
            for (int t = 0; t < 2 * R; t++) acc[i].v[t] = 0;
        }
    }
    __syncthreads();
    // warp-major: the rows of a last, partial round (16384 rows are 7.76 rounds of a one-wave H200 grid) spread over
    // every block and so every multiprocessor, where block-major order gave them all to the first blocks
    const int64_t start = (int64_t) warp * gridDim.x + blockIdx.x;
    const int64_t stride = (int64_t) gridDim.x * warps;
    if (dgammaPart == nullptr) {
        layernorm_backward_rows<T, N, W, DEPTH, FULL, false>(rows, C, start, stride, lane, dx, dy, x, mean, rstd,
                                                             gammaS, nullptr);
        return;
    }
    layernorm_backward_rows<T, N, W, DEPTH, FULL, true>(rows, C, start, stride, lane, dx, dy, x, mean, rstd, gammaS,
                                                        acc);
    // the block's partial row: for each column, the warps' slices added in warp order (a fixed order: the same bits on
    // every run), written once
    __syncthreads();
    const Record* slices = reinterpret_cast<const Record*>(layernorm_smem + GAMMA_BYTES);
    for (int j = threadIdx.x; j < C; j += blockDim.x) {
        const int pack = j / W;  // column j: element j % W of pack pack / 32 of lane pack % 32
        const int i = (pack / 32) * W + j % W;
        const int at = (i / R) * 32 + pack % 32;
        const int slot = i % R;
        A g = slices[at].v[2 * slot];
        A b = slices[at].v[2 * slot + 1];
        for (int w = 1; w < warps; w++) {
            g += slices[w * SLICE + at].v[2 * slot];
            b += slices[w * SLICE + at].v[2 * slot + 1];
        }
        dgammaPart[(int64_t) blockIdx.x * C + j] = g;
        dbetaPart[(int64_t) blockIdx.x * C + j] = b;
    }
}

// dx only, for any C: a block per row (blockIdx.x), W-element packs as the forward; pass 2 re-reads the row.
template <typename T, int W>
__device__ void layernorm_backward_block_kernel(int64_t rows, int64_t C, T* __restrict__ dx, const T* __restrict__ dy,
                                                const T* __restrict__ x, const compute_t<T>* __restrict__ mean,
                                                const compute_t<T>* __restrict__ rstd, const T* __restrict__ gamma) {
    using A = compute_t<T>;
    using P = Vec<T, W>;
    __shared__ A scratch[32];
    const int64_t row = blockIdx.x;
    if (row >= rows) return;
    const A m = mean[row];
    const A s = rstd[row];
    const P* xr = reinterpret_cast<const P*>(x + row * C);
    const P* dyr = reinterpret_cast<const P*>(dy + row * C);
    const P* gr = reinterpret_cast<const P*>(gamma);
    const int64_t packs = C / W;
    A sumG = 0;
    A sumGx = 0;
#pragma unroll 2
    for (int64_t i = threadIdx.x; i < packs; i += blockDim.x) {
        const P px = xr[i];
        const P pd = dyr[i];
        P pg;
        if (gamma != nullptr) pg = gr[i];
#pragma unroll
        for (int k = 0; k < W; k++) {
            const A g = gamma != nullptr ? (A) widen(pd.v[k]) * (A) widen(pg.v[k]) : (A) widen(pd.v[k]);
            sumG += g;
            sumGx += g * (((A) widen(px.v[k]) - m) * s);
        }
    }
    const A meanG = block_reduce(sumG, SumOp(), scratch) / (A) C;
    const A meanGx = block_reduce(sumGx, SumOp(), scratch) / (A) C;
    P* dxr = reinterpret_cast<P*>(dx + row * C);
#pragma unroll 2
    for (int64_t i = threadIdx.x; i < packs; i += blockDim.x) {
        const P px = xr[i];
        const P pd = dyr[i];
        P pg, q;
        if (gamma != nullptr) pg = gr[i];
#pragma unroll
        for (int k = 0; k < W; k++) {
            const A g = gamma != nullptr ? (A) widen(pd.v[k]) * (A) widen(pg.v[k]) : (A) widen(pd.v[k]);
            const A xhat = ((A) widen(px.v[k]) - m) * s;
            q.v[k] = narrow<T>(s * (g - meanG - xhat * meanGx));
        }
        dxr[i] = q;
    }
}

// Partial column sums for the block path: dgammaPart[s, j] = Σ dy·xhat and dbetaPart[s, j] = Σ dy over rows
// [s·rowsPerSplit, (s+1)·rowsPerSplit) of split s = blockIdx.y. 256 threads: 32 consecutive columns (coalesced) ×
// 8 warps striding over the rows; the warps are added in order.
template <typename T>
__device__ void layernorm_param_grad_partial_kernel(int64_t rows, int64_t C, int64_t rowsPerSplit,
                                                    compute_t<T>* __restrict__ dgammaPart,
                                                    compute_t<T>* __restrict__ dbetaPart, const T* __restrict__ dy,
                                                    const T* __restrict__ x, const compute_t<T>* __restrict__ mean,
                                                    const compute_t<T>* __restrict__ rstd) {
    using A = compute_t<T>;
    constexpr int WARPS = 8;
    __shared__ A partGamma[WARPS][33];
    __shared__ A partBeta[WARPS][33];
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int64_t j = (int64_t) blockIdx.x * 32 + lane;
    const int64_t r0 = (int64_t) blockIdx.y * rowsPerSplit;
    const int64_t r1 = r0 + rowsPerSplit < rows ? r0 + rowsPerSplit : rows;
    A sg = 0;
    A sb = 0;
    if (j < C) {
#pragma unroll 4
        for (int64_t r = r0 + warp; r < r1; r += WARPS) {
            const A d = widen(dy[r * C + j]);
            sg += d * (((A) widen(x[r * C + j]) - mean[r]) * rstd[r]);
            sb += d;
        }
    }
    partGamma[warp][lane] = sg;
    partBeta[warp][lane] = sb;
    __syncthreads();
    if (warp == 0 && j < C) {
        for (int w = 1; w < WARPS; w++) {
            sg += partGamma[w][lane];
            sb += partBeta[w][lane];
        }
        dgammaPart[(int64_t) blockIdx.y * C + j] = sg;
        dbetaPart[(int64_t) blockIdx.y * C + j] = sb;
    }
}

// dgamma (C) = Σ_p dgammaPart[p, :], dbeta (C) = Σ_p dbetaPart[p, :], in double; either output may be null.
// A block of 256 threads takes FINISH_COLUMNS consecutive columns (a 32-byte sector of an F32 partial row): thread t
// sums column t % FINISH_COLUMNS over the parts p ≡ t / FINISH_COLUMNS (mod GROUPS), issuing FINISH_UNROLL parts'
// loads before adding any; the lanes of one column then add by shuffles and the warps in warp order through shared
// memory, a fixed order: the same bits on every run. The kernel is latency, not bandwidth (a few hundred partial rows
// from L2 after a one-wave backward): what counts is the trips to memory and the steps after them.
constexpr int FINISH_COLUMNS = 8;
constexpr int FINISH_UNROLL = 16;
template <typename T>
__device__ void layernorm_param_grad_finish_kernel(int64_t parts, int64_t C, T* __restrict__ dgamma,
                                                   T* __restrict__ dbeta, const compute_t<T>* __restrict__ dgammaPart,
                                                   const compute_t<T>* __restrict__ dbetaPart) {
    using A = compute_t<T>;
    constexpr int GROUPS = 256 / FINISH_COLUMNS;
    constexpr int WARPS = 256 / 32;
    __shared__ double warpSums[2][WARPS][FINISH_COLUMNS];
    const int column = threadIdx.x % FINISH_COLUMNS;
    const int group = threadIdx.x / FINISH_COLUMNS;
    const int64_t j = (int64_t) blockIdx.x * FINISH_COLUMNS + column;
    double sg = 0;
    double sb = 0;
    if (j < C) {
        for (int64_t p0 = group; p0 < parts; p0 += (int64_t) GROUPS * FINISH_UNROLL) {
            A g[FINISH_UNROLL];
            A b[FINISH_UNROLL];
#pragma unroll
            for (int u = 0; u < FINISH_UNROLL; u++) {
                const int64_t p = p0 + (int64_t) u * GROUPS;
                g[u] = p < parts ? dgammaPart[p * C + j] : (A) 0;
                b[u] = p < parts ? dbetaPart[p * C + j] : (A) 0;
            }
#pragma unroll
            for (int u = 0; u < FINISH_UNROLL; u++) {
                sg += (double) g[u];
                sb += (double) b[u];
            }
        }
    }
    // a warp holds 32 / FINISH_COLUMNS groups of every column: lanes l, l ^ 8, l ^ 16 and l ^ 24 share l's column
#pragma unroll
    for (int lanes = FINISH_COLUMNS; lanes < 32; lanes *= 2) {
        sg += __shfl_xor_sync(0xffffffffu, sg, lanes);
        sb += __shfl_xor_sync(0xffffffffu, sb, lanes);
    }
    const int warp = threadIdx.x / 32;
    if (threadIdx.x % 32 < FINISH_COLUMNS) {
        warpSums[0][warp][column] = sg;
        warpSums[1][warp][column] = sb;
    }
    __syncthreads();
    if (threadIdx.x < FINISH_COLUMNS && j < C) {
        double tg = warpSums[0][0][column];
        double tb = warpSums[1][0][column];
#pragma unroll
        for (int w = 1; w < WARPS; w++) {
            tg += warpSums[0][w][column];
            tb += warpSums[1][w][column];
        }
        if (dgamma != nullptr) dgamma[j] = narrow<T>((A) tg);
        if (dbeta != nullptr) dbeta[j] = narrow<T>((A) tb);
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// entry points per dtype (mean, rstd and the partials are compute_t<T>: F32 for F32/BF16/F16, F64 for F64).
// layernorm_{forward,backward}_warp<N>_<dtype>: 32·(N/2) < C ≤ 32·N for N in 1, 2, 4, 8, 12, 16, 24, 32 (one entry per
// N, so each gets only the registers it needs); 256 threads (the BF16/F16 vectorised backward at N = 24: 512);
// forward: a warp per LAYERNORM_FORWARD_ROWS(T) rows (2 for BF16/F16, whose rows are half the bytes, 1 for F32/F64;
// CudaNorm.forwardRowsPerWarp mirrors it), grid ceil(rows / (8·rows per warp)); backward any grid (its partial rows =
// grid) with the dynamic shared memory of CudaNorm.backwardSharedBytes. *_block_*: any C, a block of a multiple of 32
// threads per row, grid rows. layernorm_param_grad_partial_*: 256 threads, grid (ceil(C / 32), splits).
// layernorm_param_grad_finish_*: 256 threads, grid ceil(C / FINISH_COLUMNS).

#define LAYERNORM_FORWARD_ROWS(T) (sizeof(T) == 2 ? 2 : 1)
// Rows in flight per warp of the vectorised backward: two up to 96 bytes of a row a lane (a BF16 row of 1024, an F32
// row of 768); longer F32 rows and F64 rows would spill their second row's registers.
#define LAYERNORM_BACKWARD_DEPTH(T, N) (sizeof(T) * (N) <= 96 ? 2 : 1)

// Three entry points per N: *_vec_* takes 16-byte packs (C % (16 / sizeof(T)) == 0 and every pointer 16-byte aligned,
// which CudaNorm checks) and, for the forward, LAYERNORM_FORWARD_ROWS(T) rows a warp; *_vec_full_* the same for rows
// that fill every lane's packs (C = 32·W·ceil(N/W), CudaNorm.fullRows), without bounds tests; the other reads element
// by element, a row a warp. Apart, each gets only the registers it needs (together, the element path's set the count,
// and the full and partial paths in one function made the 64-register C = 1024 forward spill).
#define LAYERNORM_FORWARD_WARP_ENTRY_POINT(SUFFIX, T, N, MIN_BLOCKS, VEC_MIN_BLOCKS)                                 \
    extern "C" __global__ void __launch_bounds__(256, VEC_MIN_BLOCKS) layernorm_forward_warp##N##_vec_##SUFFIX(    \
            int64_t rows, int C, double eps, void* y, void* mean, void* rstd, const void* x, const void* gamma,     \
            const void* beta) {                                                                                     \
        using A = compute_t<T>;                                                                                     \
        layernorm_forward_warp_kernel<T, N, 16 / sizeof(T), LAYERNORM_FORWARD_ROWS(T), false>(                      \
                rows, C, eps, (T*) y, (A*) mean, (A*) rstd, (const T*) x, (const T*) gamma, (const T*) beta);       \
    }                                                                                                               \
    extern "C" __global__ void __launch_bounds__(256, VEC_MIN_BLOCKS) layernorm_forward_warp##N##_vec_full_##SUFFIX( \
            int64_t rows, int C, double eps, void* y, void* mean, void* rstd, const void* x, const void* gamma,     \
            const void* beta) {                                                                                     \
        using A = compute_t<T>;                                                                                     \
        layernorm_forward_warp_kernel<T, N, 16 / sizeof(T), LAYERNORM_FORWARD_ROWS(T), true>(                       \
                rows, C, eps, (T*) y, (A*) mean, (A*) rstd, (const T*) x, (const T*) gamma, (const T*) beta);       \
    }                                                                                                               \
    extern "C" __global__ void __launch_bounds__(256, MIN_BLOCKS) layernorm_forward_warp##N##_##SUFFIX(            \
            int64_t rows, int C, double eps, void* y, void* mean, void* rstd, const void* x, const void* gamma,     \
            const void* beta) {                                                                                     \
        using A = compute_t<T>;                                                                                     \
        layernorm_forward_warp_kernel<T, N, 1, 1, false>(rows, C, eps, (T*) y, (A*) mean, (A*) rstd, (const T*) x,  \
                                                         (const T*) gamma, (const T*) beta);                        \
    }
// The vectorised backward of T at N: DEPTH rows in flight a warp, FULL rows or not.
#define LAYERNORM_BACKWARD_VEC_CALL(T, N, DEPTH, FULL)                                                              \
    using A = compute_t<T>;                                                                                         \
    layernorm_backward_warp_kernel<T, N, 16 / sizeof(T), DEPTH, FULL>(                                              \
            rows, C, (T*) dx, (A*) dgammaPart, (A*) dbetaPart, (const T*) dy, (const T*) x, (const A*) mean,        \
            (const A*) rstd, (const T*) gamma);
#define LAYERNORM_BACKWARD_WARP_ENTRY_POINT(SUFFIX, T, N, MIN_BLOCKS, VEC_THREADS, VEC_MIN_BLOCKS)                   \
    extern "C" __global__ void __launch_bounds__(VEC_THREADS, VEC_MIN_BLOCKS)                                       \
    layernorm_backward_warp##N##_vec_##SUFFIX(                                                                      \
            int64_t rows, int C, void* dx, void* dgammaPart, void* dbetaPart, const void* dy, const void* x,        \
            const void* mean, const void* rstd, const void* gamma) {                                                \
        LAYERNORM_BACKWARD_VEC_CALL(T, N, LAYERNORM_BACKWARD_DEPTH(T, N), false)                                    \
    }                                                                                                               \
    extern "C" __global__ void __launch_bounds__(VEC_THREADS, VEC_MIN_BLOCKS)                                       \
    layernorm_backward_warp##N##_vec_full_##SUFFIX(                                                                 \
            int64_t rows, int C, void* dx, void* dgammaPart, void* dbetaPart, const void* dy, const void* x,        \
            const void* mean, const void* rstd, const void* gamma) {                                                \
        LAYERNORM_BACKWARD_VEC_CALL(T, N, LAYERNORM_BACKWARD_DEPTH(T, N), true)                                     \
    }                                                                                                               \
    extern "C" __global__ void __launch_bounds__(256, MIN_BLOCKS) layernorm_backward_warp##N##_##SUFFIX(           \
            int64_t rows, int C, void* dx, void* dgammaPart, void* dbetaPart, const void* dy, const void* x,        \
            const void* mean, const void* rstd, const void* gamma) {                                                \
        using A = compute_t<T>;                                                                                     \
        layernorm_backward_warp_kernel<T, N, 1, 1, false>(rows, C, (T*) dx, (A*) dgammaPart, (A*) dbetaPart,        \
                                                          (const T*) dy, (const T*) x, (const A*) mean,             \
                                                          (const A*) rstd, (const T*) gamma);                       \
    }

// The F64 backward warp kernels stop at N = 16 (C ≤ 512; CudaNorm takes the block kernel beyond): at N = 24 their
// registers spill. FW_BLOCKS, FW_VEC_BLOCKS, BW_BLOCKS and BW_VEC_BLOCKS: the warp kernels' __launch_bounds__
// minimum of resident blocks of 256 (2 caps the registers at 128, 4 at 64). The 16-bit vectorised forward, two rows
// a warp in 12 registers each (C = 768), fits 64 registers: 4 blocks, 64 rows in flight per multiprocessor. The
// 16-bit vectorised backward (dgamma/dbeta in shared memory, two rows a warp in flight) fits 128 up to C = 768: 2
// blocks; the others take 1 (at 2 they spill).
#define LAYERNORM_WARP_ENTRY_POINTS(SUFFIX, T, N, FW_BLOCKS, FW_VEC_BLOCKS, BW_BLOCKS, BW_VEC_BLOCKS)               \
    LAYERNORM_FORWARD_WARP_ENTRY_POINT(SUFFIX, T, N, FW_BLOCKS, FW_VEC_BLOCKS)                                      \
    LAYERNORM_BACKWARD_WARP_ENTRY_POINT(SUFFIX, T, N, BW_BLOCKS, 256, BW_VEC_BLOCKS)

#define LAYERNORM_ENTRY_POINTS(SUFFIX, T, FW_BLOCKS, FW_VEC_BLOCKS, BW_BLOCKS, BW_VEC_BLOCKS)                       \
    LAYERNORM_WARP_ENTRY_POINTS(SUFFIX, T, 1, FW_BLOCKS, FW_VEC_BLOCKS, BW_BLOCKS, BW_VEC_BLOCKS)                      \
    LAYERNORM_WARP_ENTRY_POINTS(SUFFIX, T, 2, FW_BLOCKS, FW_VEC_BLOCKS, BW_BLOCKS, BW_VEC_BLOCKS)                      \
    LAYERNORM_WARP_ENTRY_POINTS(SUFFIX, T, 4, FW_BLOCKS, FW_VEC_BLOCKS, BW_BLOCKS, BW_VEC_BLOCKS)                      \
    LAYERNORM_WARP_ENTRY_POINTS(SUFFIX, T, 8, FW_BLOCKS, FW_VEC_BLOCKS, BW_BLOCKS, BW_VEC_BLOCKS)                      \
    LAYERNORM_WARP_ENTRY_POINTS(SUFFIX, T, 12, FW_BLOCKS, FW_VEC_BLOCKS, BW_BLOCKS, BW_VEC_BLOCKS)                     \
    LAYERNORM_WARP_ENTRY_POINTS(SUFFIX, T, 16, FW_BLOCKS, FW_VEC_BLOCKS, BW_BLOCKS, BW_VEC_BLOCKS)                     \
    LAYERNORM_FORWARD_WARP_ENTRY_POINT(SUFFIX, T, 24, FW_BLOCKS, FW_VEC_BLOCKS)                                    \
    LAYERNORM_FORWARD_WARP_ENTRY_POINT(SUFFIX, T, 32, FW_BLOCKS, FW_VEC_BLOCKS)                                    \
    extern "C" __global__ void layernorm_forward_block_##SUFFIX(int64_t rows, int64_t C, double eps, void* y,      \
                                                                void* mean, void* rstd, const void* x,              \
                                                                const void* gamma, const void* beta) {              \
        using A = compute_t<T>;                                                                                     \
        constexpr int V = 16 / sizeof(T);                                                                           \
        const bool vec = C % V == 0 && aligned16(y) && aligned16(x) && aligned16(gamma) && aligned16(beta);         \
        if (vec)                                                                                                    \
            layernorm_forward_block_kernel<T, V>(rows, C, eps, (T*) y, (A*) mean, (A*) rstd, (const T*) x,          \
                                                 (const T*) gamma, (const T*) beta);                                \
        else                                                                                                        \
            layernorm_forward_block_kernel<T, 1>(rows, C, eps, (T*) y, (A*) mean, (A*) rstd, (const T*) x,          \
                                                 (const T*) gamma, (const T*) beta);                                \
    }                                                                                                               \
    extern "C" __global__ void layernorm_backward_block_##SUFFIX(int64_t rows, int64_t C, void* dx, const void* dy, \
                                                                 const void* x, const void* mean, const void* rstd, \
                                                                 const void* gamma) {                               \
        using A = compute_t<T>;                                                                                     \
        constexpr int V = 16 / sizeof(T);                                                                           \
        const bool vec = C % V == 0 && aligned16(dx) && aligned16(dy) && aligned16(x) && aligned16(gamma);          \
        if (vec)                                                                                                    \
            layernorm_backward_block_kernel<T, V>(rows, C, (T*) dx, (const T*) dy, (const T*) x, (const A*) mean,   \
                                                  (const A*) rstd, (const T*) gamma);                               \
        else                                                                                                        \
            layernorm_backward_block_kernel<T, 1>(rows, C, (T*) dx, (const T*) dy, (const T*) x, (const A*) mean,   \
                                                  (const A*) rstd, (const T*) gamma);                               \
    }                                                                                                               \
    extern "C" __global__ void layernorm_param_grad_partial_##SUFFIX(int64_t rows, int64_t C, int64_t rowsPerSplit, \
                                                                     void* dgammaPart, void* dbetaPart,             \
                                                                     const void* dy, const void* x,                 \
                                                                     const void* mean, const void* rstd) {          \
        using A = compute_t<T>;                                                                                     \
        layernorm_param_grad_partial_kernel<T>(rows, C, rowsPerSplit, (A*) dgammaPart, (A*) dbetaPart,              \
                                               (const T*) dy, (const T*) x, (const A*) mean, (const A*) rstd);      \
    }                                                                                                               \
    extern "C" __global__ void layernorm_param_grad_finish_##SUFFIX(int64_t parts, int64_t C, void* dgamma,        \
                                                                    void* dbeta, const void* dgammaPart,            \
                                                                    const void* dbetaPart) {                        \
        using A = compute_t<T>;                                                                                     \
        layernorm_param_grad_finish_kernel<T>(parts, C, (T*) dgamma, (T*) dbeta, (const A*) dgammaPart,             \
                                              (const A*) dbetaPart);                                                \
    }

LAYERNORM_ENTRY_POINTS(f64, double, 1, 1, 1, 1)
LAYERNORM_ENTRY_POINTS(f32, float, 2, 2, 1, 1)
LAYERNORM_ENTRY_POINTS(bf16, __nv_bfloat16, 2, 4, 1, 2)
LAYERNORM_ENTRY_POINTS(f16, __half, 2, 4, 1, 2)
// The 16-bit vectorised backward at N = 24 (GPT-2's C = 768) runs blocks of 512 (one a multiprocessor at 128
// registers; CudaNorm.backwardThreads mirrors it): the same 16 warps a multiprocessor as two blocks of 256, but half
// the partial rows for the finishing sum; 1.2% faster on an H200 at 16384 rows
// (tools/bench/layernorm_backward_variants.py).
LAYERNORM_BACKWARD_WARP_ENTRY_POINT(f32, float, 24, 1, 256, 1)
LAYERNORM_BACKWARD_WARP_ENTRY_POINT(f32, float, 32, 1, 256, 1)
LAYERNORM_BACKWARD_WARP_ENTRY_POINT(bf16, __nv_bfloat16, 24, 1, 512, 1)
LAYERNORM_BACKWARD_WARP_ENTRY_POINT(bf16, __nv_bfloat16, 32, 1, 256, 1)
LAYERNORM_BACKWARD_WARP_ENTRY_POINT(f16, __half, 24, 1, 512, 1)
LAYERNORM_BACKWARD_WARP_ENTRY_POINT(f16, __half, 32, 1, 256, 1)

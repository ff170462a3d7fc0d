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

// dx of one loaded row, and (when acc is not null) its dy·xhat and dy added to the lane's dgamma/dbeta accumulators:
// element i of the lane's packs in record i / R, slot i % R, of the warp's shared-memory slice, the records lane-minor
// (record q of every lane side by side: acc[q·32 + lane]). FULL as in the forward: no per-element bounds tests.
// BF16/F16 rows compute xhat with one FMA (layernorm_xhat) and dx as s·g − s·mean(g) − xhat·s·mean(g·xhat) in
// two FMAs; F32/F64 keep the exact-order form.
template <typename T, int N, int W, bool FULL>
__device__ __forceinline__ void layernorm_backward_row(
        const LayernormBackwardRow<T, N, W>& r, int64_t row, int C, int lane, T* __restrict__ dx,
        const T* __restrict__ gamma,
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
        P qg;
        if (in && gamma != nullptr) qg = *reinterpret_cast<const P*>(gamma + j);
        A vd[W];
        A vx[W];
        widen_pack(r.dy[p], r.m, vd);
        widen_pack(r.x[p], r.m, vx);
#pragma unroll
        for (int k0 = 0; k0 < W; k0 += R) {
            LayernormGradRecord<A, R> rec{};
            if (acc != nullptr) rec = acc[((p * W + k0) / R) * 32 + lane];
#pragma unroll
            for (int t = 0; t < R; t++) {
                const int k = k0 + t;
                const A d = in ? vd[k] : (A) 0;
                const A xhat = in ? layernorm_xhat<T>(vx[k], r.m, r.s, ms) : (A) 0;
                const A g = gamma != nullptr && in ? d * (A) widen(qg.v[k]) : d;
                sumG += g;
                sumGx += g * xhat;
                rec.v[2 * t] += d * xhat;
                rec.v[2 * t + 1] += d;
            }
            if (acc != nullptr) acc[((p * W + k0) / R) * 32 + lane] = rec;
        }
    }
    const A meanG = warp_reduce(sumG, SumOp()) / (A) C;
    const A meanGx = warp_reduce(sumGx, SumOp()) / (A) C;
    const A sMeanG = r.s * meanG;
    const A sMeanGx = r.s * meanGx;
    T* dxr = dx + row * C;
#pragma unroll
    for (int p = 0; p < PACKS; p++) {
        const int j = (p * 32 + lane) * W;
        if (FULL || j < C) {
            P qg;
            if (gamma != nullptr) qg = *reinterpret_cast<const P*>(gamma + j);
            A vd[W];
            A vx[W];
            widen_pack(r.dy[p], meanGx, vd);
            widen_pack(r.x[p], meanGx, vx);
#pragma unroll
            for (int k = 0; k < W; k++) {
                const A d = vd[k];
                const A xhat = layernorm_xhat<T>(vx[k], r.m, r.s, ms);
                const A g = gamma != nullptr ? d * (A) widen(qg.v[k]) : d;
                if constexpr (sizeof(T) == 2) {
                    vd[k] = fmaf(xhat, -sMeanGx, fmaf(g, r.s, -sMeanG));
                } else {
                    vd[k] = r.s * (g - meanG - xhat * meanGx);
                }
            }
            *reinterpret_cast<P*>(dxr + j) = narrow_pack<T, W>(vd);
        }
    }
}

// dx (rows, C) = rstd · (g − mean(g) − xhat · mean(g · xhat)) with g = dy · gamma, xhat = (x − mean) · rstd; and,
// when dgammaPart is not null, the block's partial sums dgammaPart[blockIdx.x, :] = Σ dy·xhat and
// dbetaPart[blockIdx.x, :] = Σ dy over its rows. C ≤ 32·N, packs of W elements as the forward; warp w of block b
// takes rows b·warps + w, then every gridDim.x·warps-th (the grid is one wave, sized from the occupancy). Rows are
// double-buffered: the next row's dy and x are loading while this row is computed, so each warp keeps two rows in
// flight; rows stay in registers in their storage type and are widened where used (xhat and g are recomputed in the
// second pass rather than kept, which halves the registers of a BF16 row). dgamma and dbeta accumulate across the
// warp's rows in its shared-memory slices. Dynamic shared memory when dgammaPart is not null: 2·warps·ceil(N/W)·W·32
// values of compute_t<T> (CudaNorm.backwardSharedBytes).
template <typename T, int N, int W, bool PIPELINE, bool FULL>
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
    // dgamma/dbeta accumulators in shared memory, a slice of PACKS·W/R·32 records per warp (registers held them
    // before, and at 48 of them a lane left room for only one block of two-row warps per multiprocessor)
    constexpr int R = layernorm_record_elements<W>();
    using Record = LayernormGradRecord<A, R>;
    constexpr int SLICE = PACKS * W / R * 32;
    Record* acc = nullptr;
    if (dgammaPart != nullptr) {
        acc = reinterpret_cast<Record*>(layernorm_smem) + warp * SLICE;
        for (int i = lane; i < SLICE; i += 32) {
#pragma unroll
            for (int t = 0; t < 2 * R; t++) acc[i].v[t] = 0;
        }
        __syncwarp();
    }
    const int64_t stride = (int64_t) gridDim.x * warps;
    LayernormBackwardRow<T, N, W> a;
    int64_t row = (int64_t) blockIdx.x * warps + warp;
    if constexpr (!PIPELINE) {
        // one row at a time (see LAYERNORM_BACKWARD_PIPELINE; the unvectorised path too: a second row would spill)
        for (; row < rows; row += stride) {
            layernorm_backward_load<T, N, W, FULL>(a, row, C, lane, dy, x, mean, rstd);
            layernorm_backward_row<T, N, W, FULL>(a, row, C, lane, dx, gamma, acc);
        }
    } else {
        LayernormBackwardRow<T, N, W> b;
        if (row < rows) layernorm_backward_load<T, N, W, FULL>(a, row, C, lane, dy, x, mean, rstd);
        for (; row < rows; row += 2 * stride) {
            const int64_t next = row + stride;
            if (next < rows) layernorm_backward_load<T, N, W, FULL>(b, next, C, lane, dy, x, mean, rstd);
            layernorm_backward_row<T, N, W, FULL>(a, row, C, lane, dx, gamma, acc);
            if (next >= rows) break;
            if (next + stride < rows) {
                layernorm_backward_load<T, N, W, FULL>(a, next + stride, C, lane, dy, x, mean, rstd);
            }
            layernorm_backward_row<T, N, W, FULL>(b, next, C, lane, dx, gamma, acc);
        }
    }
    if (dgammaPart == nullptr) return;
    // the block's partial row: for each column, the warps' slices added in warp order (a fixed order: the same bits on
    // every run), written once
    __syncthreads();
    const Record* slices = reinterpret_cast<const Record*>(layernorm_smem);
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
// A block of 256 threads takes FINISH_COLUMNS consecutive columns: thread t sums column t % FINISH_COLUMNS over the
// parts p ≡ t / FINISH_COLUMNS (mod 256 / FINISH_COLUMNS), then the groups are added pairwise in a fixed tree (the
// same bits on every run). This kernel is latency, not bandwidth: a few hundred partial rows from L2 after a one-wave
// backward. Narrow blocks put 192 blocks on the device for GPT-2's 768 columns (blocks of 32 columns gave 24 blocks,
// 7.4 µs under ncu; of 8 columns 96 blocks, 4.6 µs), 64 groups leave each thread ~4 of the 264 partial rows of a
// one-wave BF16 backward on an H200, and the tree replaces a chain of 31 dependent shared-memory adds in one thread.
constexpr int FINISH_COLUMNS = 4;
template <typename T>
__device__ void layernorm_param_grad_finish_kernel(int64_t parts, int64_t C, T* __restrict__ dgamma,
                                                   T* __restrict__ dbeta, const compute_t<T>* __restrict__ dgammaPart,
                                                   const compute_t<T>* __restrict__ dbetaPart) {
    using A = compute_t<T>;
    constexpr int GROUPS = 256 / FINISH_COLUMNS;
    __shared__ double sumGamma[GROUPS][FINISH_COLUMNS];
    __shared__ double sumBeta[GROUPS][FINISH_COLUMNS];
    const int column = threadIdx.x % FINISH_COLUMNS;
    const int group = threadIdx.x / FINISH_COLUMNS;
    const int64_t j = (int64_t) blockIdx.x * FINISH_COLUMNS + column;
    double sg = 0;
    double sb = 0;
    if (j < C) {
#pragma unroll 4
        for (int64_t p = group; p < parts; p += GROUPS) {
            sg += dgammaPart[p * C + j];
            sb += dbetaPart[p * C + j];
        }
    }
    sumGamma[group][column] = sg;
    sumBeta[group][column] = sb;
#pragma unroll
    for (int half = GROUPS / 2; half > 0; half /= 2) {
        __syncthreads();
        if (group < half) {
            sumGamma[group][column] += sumGamma[group + half][column];
            sumBeta[group][column] += sumBeta[group + half][column];
        }
    }
    if (group == 0 && j < C) {
        if (dgamma != nullptr) dgamma[j] = narrow<T>((A) sumGamma[0][column]);
        if (dbeta != nullptr) dbeta[j] = narrow<T>((A) sumBeta[0][column]);
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// entry points per dtype (mean, rstd and the partials are compute_t<T>: F32 for F32/BF16/F16, F64 for F64).
// layernorm_{forward,backward}_warp<N>_<dtype>: 32·(N/2) < C ≤ 32·N for N in 1, 2, 4, 8, 12, 16, 24, 32 (one entry per
// N, so each gets only the registers it needs); 256 threads; forward: a warp per LAYERNORM_FORWARD_ROWS(T) rows (2
// for BF16/F16, whose rows are half the bytes, 1 for F32/F64; CudaNorm.forwardRowsPerWarp mirrors it), grid
// ceil(rows / (8·rows per warp)); backward any grid (its partial rows = grid) with 2·C·sizeof(compute_t<T>) bytes of
// dynamic shared memory when dgammaPart is not null. *_block_*: any C, a block of a multiple of 32 threads per row,
// grid rows. layernorm_param_grad_partial_*: 256 threads, grid (ceil(C / 32), splits). layernorm_param_grad_finish_*:
// 256 threads, grid ceil(C / FINISH_COLUMNS).

#define LAYERNORM_FORWARD_ROWS(T) (sizeof(T) == 2 ? 2 : 1)
// Whether the vectorised backward double-buffers its rows: up to 96 bytes of a row a lane (a BF16 row of 1024, an F32
// row of 768); longer F32 rows and F64 rows would spill their second row's registers.
#define LAYERNORM_BACKWARD_PIPELINE(T, N) (sizeof(T) * (N) <= 96)

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
// The vectorised backward of T at N: double-buffered or not (PIPELINE), FULL rows or not.
#define LAYERNORM_BACKWARD_VEC_CALL(T, N, PIPELINE, FULL)                                                           \
    using A = compute_t<T>;                                                                                         \
    layernorm_backward_warp_kernel<T, N, 16 / sizeof(T), PIPELINE, FULL>(                                           \
            rows, C, (T*) dx, (A*) dgammaPart, (A*) dbetaPart, (const T*) dy, (const T*) x, (const A*) mean,        \
            (const A*) rstd, (const T*) gamma);
#define LAYERNORM_BACKWARD_WARP_ENTRY_POINT(SUFFIX, T, N, MIN_BLOCKS, VEC_MIN_BLOCKS)                                \
    extern "C" __global__ void __launch_bounds__(256, VEC_MIN_BLOCKS) layernorm_backward_warp##N##_vec_##SUFFIX(   \
            int64_t rows, int C, void* dx, void* dgammaPart, void* dbetaPart, const void* dy, const void* x,        \
            const void* mean, const void* rstd, const void* gamma) {                                                \
        LAYERNORM_BACKWARD_VEC_CALL(T, N, LAYERNORM_BACKWARD_PIPELINE(T, N), false)                                 \
    }                                                                                                               \
    extern "C" __global__ void __launch_bounds__(256, VEC_MIN_BLOCKS) layernorm_backward_warp##N##_vec_full_##SUFFIX( \
            int64_t rows, int C, void* dx, void* dgammaPart, void* dbetaPart, const void* dy, const void* x,        \
            const void* mean, const void* rstd, const void* gamma) {                                                \
        LAYERNORM_BACKWARD_VEC_CALL(T, N, LAYERNORM_BACKWARD_PIPELINE(T, N), true)                                  \
    }                                                                                                               \
    extern "C" __global__ void __launch_bounds__(256, MIN_BLOCKS) layernorm_backward_warp##N##_##SUFFIX(           \
            int64_t rows, int C, void* dx, void* dgammaPart, void* dbetaPart, const void* dy, const void* x,        \
            const void* mean, const void* rstd, const void* gamma) {                                                \
        using A = compute_t<T>;                                                                                     \
        layernorm_backward_warp_kernel<T, N, 1, false, false>(rows, C, (T*) dx, (A*) dgammaPart, (A*) dbetaPart,    \
                                                              (const T*) dy, (const T*) x, (const A*) mean,         \
                                                              (const A*) rstd, (const T*) gamma);                   \
    }

// The F64 backward warp kernels stop at N = 16 (C ≤ 512; CudaNorm takes the block kernel beyond): at N = 24 their
// registers spill. FW_BLOCKS, FW_VEC_BLOCKS, BW_BLOCKS and BW_VEC_BLOCKS: the warp kernels' __launch_bounds__
// minimum of resident blocks of 256 (2 caps the registers at 128, 4 at 64). The 16-bit vectorised forward, two rows
// a warp in 12 registers each (C = 768), fits 64 registers: 4 blocks, 64 rows in flight per multiprocessor. The 16-bit vectorised backward
// (dgamma/dbeta in shared memory, two rows a warp in flight) fits 128 up to C = 768: 2 blocks; the others take 1
// (at 2 they spill).
#define LAYERNORM_WARP_ENTRY_POINTS(SUFFIX, T, N, FW_BLOCKS, FW_VEC_BLOCKS, BW_BLOCKS, BW_VEC_BLOCKS)               \
    LAYERNORM_FORWARD_WARP_ENTRY_POINT(SUFFIX, T, N, FW_BLOCKS, FW_VEC_BLOCKS)                                      \
    LAYERNORM_BACKWARD_WARP_ENTRY_POINT(SUFFIX, T, N, BW_BLOCKS, BW_VEC_BLOCKS)

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
LAYERNORM_BACKWARD_WARP_ENTRY_POINT(f32, float, 24, 1, 1)
LAYERNORM_BACKWARD_WARP_ENTRY_POINT(f32, float, 32, 1, 1)
LAYERNORM_BACKWARD_WARP_ENTRY_POINT(bf16, __nv_bfloat16, 24, 1, 2)
LAYERNORM_BACKWARD_WARP_ENTRY_POINT(bf16, __nv_bfloat16, 32, 1, 1)
LAYERNORM_BACKWARD_WARP_ENTRY_POINT(f16, __half, 24, 1, 2)
LAYERNORM_BACKWARD_WARP_ENTRY_POINT(f16, __half, 32, 1, 1)

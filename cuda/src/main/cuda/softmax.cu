// Softmax and log-softmax over the rows of contiguous (R, C) tensors (softmax.cu), forward and backward; F32, BF16 and
// F16 compute in float, F64 in double. The functions are CpuActivation's: the row max is subtracted (0 for an all -inf
// row, whose outputs are then NaN), NaN propagates, backward is dx = y·(dy − Σ dy·y) or dx = dy − exp(y)·Σ dy.
//
// Rows of at most 1024 columns: one warp per row, eight rows per 256-thread block, the row held in registers (N values
// a lane, one entry point per N, picked from C at launch), one read and one write of memory. Longer rows: one block per
// row; forward makes one pass for an online max and sum and one for the output, backward one for Σ and one for dx.
// Both use 16-byte loads and stores when every row is 16-byte aligned (C a multiple of 16 bytes, aligned pointers).
#include "fulgur.cuh"

// ---------------------------------------------------------------------------------------------------------------------
// online max and sum of exponentials: (m, s) stands for s·exp(m) = Σ exp(x)

template <typename A> __device__ __forceinline__ void online_add(A& m, A& s, A v) {
    if (v > m) {
        // the new element contributes exp(v − v): 1, or NaN for v = +inf as the CPU's exp(x − max) gives
        s = s * exp(m - v) + (isinf(v) ? (A) NAN : (A) 1);
        m = v;
    } else if (v != -INFINITY) { // -inf contributes 0 (and exp(-inf − -inf) would be NaN)
        s += exp(v - m);         // NaN v: s becomes NaN, so the whole row is NaN as on the CPU
    }
}

// s·exp(m − M): the state (m, s) rescaled to a larger max M; an empty state (m = -inf) is 0
template <typename A> __device__ __forceinline__ A online_part(A s, A m, A M) {
    return m == -INFINITY ? (A) 0 : s * exp(m - M);
}

template <typename A> __device__ __forceinline__ void online_merge(A& m, A& s, A m2, A s2) {
    const A M = MaxOp()(m, m2);
    s = online_part(s, m, M) + online_part(s2, m2, M);
    m = M;
}

// ---------------------------------------------------------------------------------------------------------------------
// CUDA kernels

// y, x (rows, C), C ≤ 32·N; a warp per row. Lane l holds the packs of W consecutive elements that start at columns
// (p·32 + l)·W, p < N/W: with W = 16 / sizeof(T) (C % W == 0, rows 16-byte aligned) every load and store is 16 bytes.
template <typename T, int N, int W>
__device__ void softmax_forward_warp_kernel(int64_t rows, int C, bool logSoftmax, T* __restrict__ y,
                                            const T* __restrict__ x) {
    using A = compute_t<T>;
    constexpr int P = N / W;
    const int lane = threadIdx.x & 31;
    const int64_t row = (int64_t) blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;
    const T* xr = x + row * C;
    T* yr = y + row * C;
    A v[N];
#pragma unroll
    for (int p = 0; p < P; p++) {
        const int j = (p * 32 + lane) * W;
        if (j < C) {
            const Vec<T, W> q = *reinterpret_cast<const Vec<T, W>*>(xr + j);
#pragma unroll
            for (int k = 0; k < W; k++) v[p * W + k] = widen(q.v[k]);
        } else {
#pragma unroll
            for (int k = 0; k < W; k++) v[p * W + k] = -INFINITY;
        }
    }
    A m = -INFINITY;
#pragma unroll
    for (int i = 0; i < N; i++) m = MaxOp()(m, v[i]);
    m = warp_reduce(m, MaxOp());
    if (m == -INFINITY) m = 0; // an all -inf row: as the CPU, the sum is 0 and every output NaN
    A s = 0;
#pragma unroll
    for (int p = 0; p < P; p++) {
#pragma unroll
        for (int k = 0; k < W; k++) {
            const A e = (p * 32 + lane) * W < C ? exp(v[p * W + k] - m) : (A) 0;
            s += e;
            if (!logSoftmax) v[p * W + k] = e;
        }
    }
    s = warp_reduce(s, SumOp());
    const A logSum = log(s) + m;
    const A inv = (A) 1 / s;
#pragma unroll
    for (int p = 0; p < P; p++) {
        const int j = (p * 32 + lane) * W;
        if (j < C) {
            Vec<T, W> q;
#pragma unroll
            for (int k = 0; k < W; k++) q.v[k] = narrow<T>(logSoftmax ? v[p * W + k] - logSum : v[p * W + k] * inv);
            *reinterpret_cast<Vec<T, W>*>(yr + j) = q;
        }
    }
}

// y, x (rows, C); a block per row (blockIdx.x), W-element packs (C % W == 0, rows W·sizeof(T)-aligned).
template <typename T, int W>
__device__ void softmax_forward_block_kernel(int64_t rows, int64_t C, bool logSoftmax, T* __restrict__ y,
                                             const T* __restrict__ x) {
    using A = compute_t<T>;
    __shared__ A scratchMax[32];
    __shared__ A scratchSum[32];
    const int64_t row = blockIdx.x;
    if (row >= rows) return;
    const Vec<T, W>* xr = reinterpret_cast<const Vec<T, W>*>(x + row * C);
    Vec<T, W>* yr = reinterpret_cast<Vec<T, W>*>(y + row * C);
    const int64_t packs = C / W;
    A m = -INFINITY;
    A s = 0;
#pragma unroll 4
    for (int64_t i = threadIdx.x; i < packs; i += blockDim.x) {
        const Vec<T, W> p = xr[i];
#pragma unroll
        for (int k = 0; k < W; k++) online_add(m, s, (A) widen(p.v[k]));
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const A m2 = __shfl_xor_sync(0xffffffffu, m, o);
        const A s2 = __shfl_xor_sync(0xffffffffu, s, o);
        online_merge(m, s, m2, s2);
    }
    if ((threadIdx.x & 31) == 0) {
        scratchMax[threadIdx.x >> 5] = m;
        scratchSum[threadIdx.x >> 5] = s;
    }
    __syncthreads();
    m = scratchMax[0];
    s = scratchSum[0];
    for (int w = 1; w < (int) (blockDim.x >> 5); w++) online_merge(m, s, scratchMax[w], scratchSum[w]);
    if (m == -INFINITY) m = 0; // all -inf: s is 0, the outputs NaN, as the CPU
    const A logSum = log(s) + m;
    const A inv = (A) 1 / s;
#pragma unroll 4
    for (int64_t i = threadIdx.x; i < packs; i += blockDim.x) {
        const Vec<T, W> p = xr[i];
        Vec<T, W> q;
#pragma unroll
        for (int k = 0; k < W; k++) {
            const A v = widen(p.v[k]);
            q.v[k] = narrow<T>(logSoftmax ? v - logSum : exp(v - m) * inv);
        }
        yr[i] = q;
    }
}

// dx, y, dy (rows, C), C ≤ 32·N; a warp per row, packs of W elements as the forward.
template <typename T, int N, int W>
__device__ void softmax_backward_warp_kernel(int64_t rows, int C, bool logSoftmax, T* __restrict__ dx,
                                             const T* __restrict__ y, const T* __restrict__ dy) {
    using A = compute_t<T>;
    constexpr int P = N / W;
    const int lane = threadIdx.x & 31;
    const int64_t row = (int64_t) blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;
    A yv[N];
    A gv[N];
#pragma unroll
    for (int p = 0; p < P; p++) {
        const int j = (p * 32 + lane) * W;
        if (j < C) {
            const Vec<T, W> qy = *reinterpret_cast<const Vec<T, W>*>(y + row * C + j);
            const Vec<T, W> qg = *reinterpret_cast<const Vec<T, W>*>(dy + row * C + j);
#pragma unroll
            for (int k = 0; k < W; k++) {
                yv[p * W + k] = widen(qy.v[k]);
                gv[p * W + k] = widen(qg.v[k]);
            }
        } else {
#pragma unroll
            for (int k = 0; k < W; k++) {
                yv[p * W + k] = 0;
                gv[p * W + k] = 0;
            }
        }
    }
    A dot = 0;
#pragma unroll
    for (int i = 0; i < N; i++) dot += logSoftmax ? gv[i] : gv[i] * yv[i];
    dot = warp_reduce(dot, SumOp());
#pragma unroll
    for (int p = 0; p < P; p++) {
        const int j = (p * 32 + lane) * W;
        if (j < C) {
            Vec<T, W> q;
#pragma unroll
            for (int k = 0; k < W; k++) {
                const A yk = yv[p * W + k];
                const A gk = gv[p * W + k];
                q.v[k] = narrow<T>(logSoftmax ? gk - exp(yk) * dot : yk * (gk - dot));
            }
            *reinterpret_cast<Vec<T, W>*>(dx + row * C + j) = q;
        }
    }
}

// dx, y, dy (rows, C); a block per row, W-element packs as the forward.
template <typename T, int W>
__device__ void softmax_backward_block_kernel(int64_t rows, int64_t C, bool logSoftmax, T* __restrict__ dx,
                                              const T* __restrict__ y, const T* __restrict__ dy) {
    using A = compute_t<T>;
    __shared__ A scratch[32];
    const int64_t row = blockIdx.x;
    if (row >= rows) return;
    const Vec<T, W>* yr = reinterpret_cast<const Vec<T, W>*>(y + row * C);
    const Vec<T, W>* gr = reinterpret_cast<const Vec<T, W>*>(dy + row * C);
    Vec<T, W>* dxr = reinterpret_cast<Vec<T, W>*>(dx + row * C);
    const int64_t packs = C / W;
    A dot = 0;
#pragma unroll 4
    for (int64_t i = threadIdx.x; i < packs; i += blockDim.x) {
        const Vec<T, W> g = gr[i];
        const Vec<T, W> p = yr[i];
#pragma unroll
        for (int k = 0; k < W; k++) dot += logSoftmax ? (A) widen(g.v[k]) : (A) widen(g.v[k]) * (A) widen(p.v[k]);
    }
    dot = block_reduce(dot, SumOp(), scratch);
#pragma unroll 4
    for (int64_t i = threadIdx.x; i < packs; i += blockDim.x) {
        const Vec<T, W> g = gr[i];
        const Vec<T, W> p = yr[i];
        Vec<T, W> q;
#pragma unroll
        for (int k = 0; k < W; k++) {
            const A gk = widen(g.v[k]);
            const A yk = widen(p.v[k]);
            q.v[k] = narrow<T>(logSoftmax ? gk - exp(yk) * dot : yk * (gk - dot));
        }
        dxr[i] = q;
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// entry points per dtype. softmax_{forward,backward}_warp<N>_<dtype>: 32·(N/2) < C ≤ 32·N for N in 1, 2, 4, 8, 12, 16,
// 24, 32 (one entry per N, so each gets only the registers it needs); 256 threads, 8 rows a block, grid ceil(rows / 8).
// softmax_{forward,backward}_block_<dtype>: any C, a block of a multiple of 32 threads per row, grid rows.
// logSoftmax: 0 or 1.

#define SOFTMAX_WARP_ENTRY_POINTS(SUFFIX, T, N, MIN_BLOCKS)                                                          \
    extern "C" __global__ void __launch_bounds__(256, MIN_BLOCKS) softmax_forward_warp##N##_##SUFFIX(              \
            int64_t rows, int C, int logSoftmax, void* y, const void* x) {                                          \
        constexpr int V = 16 / sizeof(T);                                                                           \
        if constexpr (N % V == 0) {                                                                                 \
            if (C % V == 0 && aligned16(x) && aligned16(y)) {                                                       \
                softmax_forward_warp_kernel<T, N, V>(rows, C, logSoftmax, (T*) y, (const T*) x);                    \
                return;                                                                                             \
            }                                                                                                       \
        }                                                                                                           \
        softmax_forward_warp_kernel<T, N, 1>(rows, C, logSoftmax, (T*) y, (const T*) x);                            \
    }                                                                                                               \
    extern "C" __global__ void __launch_bounds__(256, MIN_BLOCKS) softmax_backward_warp##N##_##SUFFIX(             \
            int64_t rows, int C, int logSoftmax, void* dx, const void* y, const void* dy) {                         \
        constexpr int V = 16 / sizeof(T);                                                                           \
        if constexpr (N % V == 0) {                                                                                 \
            if (C % V == 0 && aligned16(dx) && aligned16(y) && aligned16(dy)) {                                     \
                softmax_backward_warp_kernel<T, N, V>(rows, C, logSoftmax, (T*) dx, (const T*) y, (const T*) dy);   \
                return;                                                                                             \
            }                                                                                                       \
        }                                                                                                           \
        softmax_backward_warp_kernel<T, N, 1>(rows, C, logSoftmax, (T*) dx, (const T*) y, (const T*) dy);           \
    }

#define SOFTMAX_ENTRY_POINTS(SUFFIX, T, MIN_BLOCKS)                                                                  \
    SOFTMAX_WARP_ENTRY_POINTS(SUFFIX, T, 1, MIN_BLOCKS)                                                             \
    SOFTMAX_WARP_ENTRY_POINTS(SUFFIX, T, 2, MIN_BLOCKS)                                                             \
    SOFTMAX_WARP_ENTRY_POINTS(SUFFIX, T, 4, MIN_BLOCKS)                                                             \
    SOFTMAX_WARP_ENTRY_POINTS(SUFFIX, T, 8, MIN_BLOCKS)                                                             \
    SOFTMAX_WARP_ENTRY_POINTS(SUFFIX, T, 12, MIN_BLOCKS)                                                            \
    SOFTMAX_WARP_ENTRY_POINTS(SUFFIX, T, 16, MIN_BLOCKS)                                                            \
    SOFTMAX_WARP_ENTRY_POINTS(SUFFIX, T, 24, MIN_BLOCKS)                                                            \
    SOFTMAX_WARP_ENTRY_POINTS(SUFFIX, T, 32, MIN_BLOCKS)                                                            \
    extern "C" __global__ void softmax_forward_block_##SUFFIX(int64_t rows, int64_t C, int logSoftmax, void* y,    \
                                                              const void* x) {                                      \
        constexpr int V = 16 / sizeof(T);                                                                           \
        if (C % V == 0 && aligned16(x) && aligned16(y))                                                             \
            softmax_forward_block_kernel<T, V>(rows, C, logSoftmax, (T*) y, (const T*) x);                          \
        else                                                                                                        \
            softmax_forward_block_kernel<T, 1>(rows, C, logSoftmax, (T*) y, (const T*) x);                          \
    }                                                                                                               \
    extern "C" __global__ void softmax_backward_block_##SUFFIX(int64_t rows, int64_t C, int logSoftmax, void* dx,  \
                                                               const void* y, const void* dy) {                     \
        constexpr int V = 16 / sizeof(T);                                                                           \
        if (C % V == 0 && aligned16(dx) && aligned16(y) && aligned16(dy))                                           \
            softmax_backward_block_kernel<T, V>(rows, C, logSoftmax, (T*) dx, (const T*) y, (const T*) dy);         \
        else                                                                                                        \
            softmax_backward_block_kernel<T, 1>(rows, C, logSoftmax, (T*) dx, (const T*) y, (const T*) dy);         \
    }

// MIN_BLOCKS: the warp kernels' __launch_bounds__ minimum of resident blocks, 2 (at most 128 registers, which float
// fits without spilling; left free, ptxas took up to 127 or, at N = 24, spilled at 64) and 1 for double.
SOFTMAX_ENTRY_POINTS(f64, double, 1)
SOFTMAX_ENTRY_POINTS(f32, float, 2)
SOFTMAX_ENTRY_POINTS(bf16, __nv_bfloat16, 2)
SOFTMAX_ENTRY_POINTS(f16, __half, 2)

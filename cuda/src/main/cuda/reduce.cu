// Reductions (reduce.cu): sum, mean, max, min and prod of each row of a contiguous (rows, C) view, of each column of a
// contiguous (outer, R, inner) view over R, and argmax/argmin of each row. CudaReduce moves the reduced axes last (or
// finds them as one contiguous block of a contiguous tensor) and launches these. Long rows and columns are split over
// gridDim.y into F64/I64 partials that a second launch of the same kernels reduces, so results are deterministic.
//
// Floating SUM, MEAN and PROD accumulate in double, as CpuReduce does (cheap next to the memory traffic on sm_80/90);
// MAX and MIN compare in the compute type (exact) and propagate NaN; integers accumulate in int64, wrapping like Java
// longs. argmax/argmin keep the first index on ties and the first NaN, as the CPU.
// Not here: strided inputs (the caller copies them), argmax over a middle axis (the caller moves the axis last).
#include <type_traits>
#include "fulgur.cuh"

// ai.fulgur.ops.reduce.ReduceOp ordinals
enum ReduceCode : int { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD };

// Stands for integer and boolean inputs of any width, read through load_long with their dtype code (scalar loads).
struct AnyInt {};

// ---------------------------------------------------------------------------------------------------------------------
// the reduction ops

// Accumulator type: double for floating SUM/MEAN/PROD, the compute type for MAX/MIN; int64 for integers (double for an
// integer MEAN, which the facade rejects but the CPU kernel computes).
template <typename T, int OP> struct RedAcc {
    using type = std::conditional_t<OP == R_MAX || OP == R_MIN, compute_t<T>, double>;
};
template <int OP> struct RedAcc<AnyInt, OP> { using type = std::conditional_t<OP == R_MEAN, double, int64_t>; };

template <typename A> __device__ __forceinline__ A lowest() { return (A) -INFINITY; }
template <> __device__ __forceinline__ int64_t lowest<int64_t>() { return INT64_MIN; }
template <typename A> __device__ __forceinline__ A highest() { return (A) INFINITY; }
template <> __device__ __forceinline__ int64_t highest<int64_t>() { return INT64_MAX; }

template <int OP, typename A> __device__ __forceinline__ A red_identity() {
    if constexpr (OP == R_PROD) return (A) 1;
    else if constexpr (OP == R_MAX) return lowest<A>();
    else if constexpr (OP == R_MIN) return highest<A>();
    else return (A) 0;
}

template <int OP> struct RedFn {
    template <typename A> __device__ __forceinline__ A operator()(A a, A b) const {
        if constexpr (std::is_same_v<A, int64_t>) { // unsigned arithmetic: wraps like Java, no signed overflow
            if constexpr (OP == R_MAX) return a > b ? a : b;
            else if constexpr (OP == R_MIN) return a < b ? a : b;
            else if constexpr (OP == R_PROD) return (int64_t) ((uint64_t) a * (uint64_t) b);
            else return (int64_t) ((uint64_t) a + (uint64_t) b);
        } else {
            if constexpr (OP == R_MAX) return MaxOp()(a, b);
            else if constexpr (OP == R_MIN) return MinOp()(a, b);
            else if constexpr (OP == R_PROD) return a * b;
            else return a + b;
        }
    }
};

// Element i of x as an A: native floating types widened, integers through their dtype code.
template <typename A, typename T> __device__ __forceinline__ A load_as(const void* x, int xType, int64_t i) {
    if constexpr (std::is_same_v<T, AnyInt>) return (A) load_long(x, xType, i);
    else return (A) widen(((const T*) x)[i]);
}

// Folds x[0, n) into acc, this lane taking every width-th element: a scalar head up to 16-byte alignment, 16-byte
// packs four at a time (so several loads are in flight), a scalar tail.
template <int OP, typename A, typename T>
__device__ __forceinline__ A fold_row(const T* __restrict__ x, int64_t n, int lane, int width, A acc) {
    constexpr int V = 16 / sizeof(T);
    const RedFn<OP> f;
    int64_t head = (int64_t) (((16 - ((uintptr_t) x & 15)) & 15) / sizeof(T));
    if (head > n) head = n;
    for (int64_t i = lane; i < head; i += width) acc = f(acc, (A) widen(x[i]));
    const Vec<T, V>* xv = reinterpret_cast<const Vec<T, V>*>(x + head);
    const int64_t nv = (n - head) / V;
    int64_t i = lane;
    for (; i + 3 * width < nv; i += 4 * width) {
        Vec<T, V> p[4];
#pragma unroll
        for (int u = 0; u < 4; u++) p[u] = xv[i + u * width];
#pragma unroll
        for (int u = 0; u < 4; u++) {
#pragma unroll
            for (int k = 0; k < V; k++) acc = f(acc, (A) widen(p[u].v[k]));
        }
    }
    for (; i < nv; i += width) {
        const Vec<T, V> p = xv[i];
#pragma unroll
        for (int k = 0; k < V; k++) acc = f(acc, (A) widen(p.v[k]));
    }
    for (int64_t j = head + nv * V + lane; j < n; j += width) acc = f(acc, (A) widen(x[j]));
    return acc;
}

// ---------------------------------------------------------------------------------------------------------------------
// CUDA kernels

// out (rows) or partials (rows, gridDim.y) = op over each row of x (rows, C), contiguous.
// Threads: `width` per row, 32 (a warp per row, blockDim.x / 32 rows per block) or blockDim.x (a block per row).
// Split s = blockIdx.y reduces columns [s·chunk, (s+1)·chunk) and writes partial (row, s); MEAN divides by `divisor`.
template <int OP, typename A, typename T>
__device__ void reduce_rows_kernel(int64_t rows, int64_t C, int64_t chunk, int width, double divisor, void* out,
                                   int outType, const void* x, int xType) {
    __shared__ A scratch[32];
    const int lane = threadIdx.x % width;
    const int64_t row = (int64_t) blockIdx.x * (blockDim.x / width) + threadIdx.x / width;
    if (width == 32 && row >= rows) return; // a warp without a row (never in block mode: the grid is `rows`)
    const int64_t begin = (int64_t) blockIdx.y * chunk;
    const int64_t n = begin < C ? (chunk < C - begin ? chunk : C - begin) : 0;
    A acc = red_identity<OP, A>();
    if constexpr (std::is_same_v<T, AnyInt>) {
        for (int64_t i = lane; i < n; i += width) acc = RedFn<OP>()(acc, load_as<A, T>(x, xType, row * C + begin + i));
    } else {
        acc = fold_row<OP, A, T>((const T*) x + row * C + begin, n, lane, width, acc);
    }
    acc = width == 32 ? warp_reduce(acc, RedFn<OP>()) : block_reduce(acc, RedFn<OP>(), scratch);
    if (lane == 0) {
        if constexpr (OP == R_MEAN) acc = acc / (A) divisor;
        const int64_t o = gridDim.y == 1 ? row : row * gridDim.y + blockIdx.y;
        Io<A>::store(out, outType, o, acc);
    }
}

// Reduces x (outer, R, inner), contiguous, over R: out (outer, inner), or partials (gridDim.y, outer, inner).
// 256 threads: 32 consecutive columns (coalesced) × COL_WARPS warps striding over the rows of split blockIdx.y,
// [s·rowsPerSplit, (s+1)·rowsPerSplit); the warps' results are combined in warp order.
constexpr int COL_WARPS = 8;
template <int OP, typename A, typename T>
__device__ void reduce_cols_kernel(int64_t outer, int64_t R, int64_t inner, int64_t rowsPerSplit, double divisor,
                                   void* out, int outType, const void* x, int xType) {
    __shared__ A part[COL_WARPS][33];
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int64_t colBlocks = (inner + 31) / 32;
    const int64_t a = blockIdx.x / colBlocks;
    const int64_t b = (blockIdx.x % colBlocks) * 32 + lane;
    const int64_t r0 = (int64_t) blockIdx.y * rowsPerSplit;
    const int64_t r1 = r0 + rowsPerSplit < R ? r0 + rowsPerSplit : R;
    const RedFn<OP> f;
    A acc = red_identity<OP, A>();
    if (b < inner) {
        const int64_t base = a * R * inner + b;
#pragma unroll 4
        for (int64_t r = r0 + warp; r < r1; r += COL_WARPS) acc = f(acc, load_as<A, T>(x, xType, base + r * inner));
    }
    part[warp][lane] = acc;
    __syncthreads();
    if (warp == 0 && b < inner) {
        for (int w = 1; w < COL_WARPS; w++) acc = f(acc, part[w][lane]);
        if constexpr (OP == R_MEAN) acc = acc / (A) divisor;
        const int64_t o = (int64_t) blockIdx.y * outer * inner + a * inner + b;
        Io<A>::store(out, outType, o, acc);
    }
}

// True if candidate (v, i) beats (best, bestIndex): NaN beats numbers, then the larger (MAX) or smaller value, then the
// smaller index. A total order, so any combination tree gives the CPU's answer (first NaN, else first extremum).
template <bool MAX, typename V>
__device__ __forceinline__ bool arg_better(V v, int64_t i, V best, int64_t bestIndex) {
    if (i < 0) return false;
    if (bestIndex < 0) return true;
    if (best != best) return v != v && i < bestIndex;
    if (v != v) return true;
    if (v == best) return i < bestIndex;
    return MAX ? v > best : v < best;
}

// out (rows) I64 = index of the largest/smallest element of each row of x (rows, C); threads as reduce_rows_kernel.
template <bool MAX, typename V, typename T>
__device__ void argreduce_rows_kernel(int64_t rows, int64_t C, int width, int64_t* out, const void* x, int xType) {
    __shared__ V scratchValue[32];
    __shared__ int64_t scratchIndex[32];
    const int lane = threadIdx.x % width;
    const int64_t row = (int64_t) blockIdx.x * (blockDim.x / width) + threadIdx.x / width;
    if (width == 32 && row >= rows) return;
    V best = 0;
    int64_t bestIndex = -1;
#pragma unroll 4
    for (int64_t j = lane; j < C; j += width) {
        const V v = load_as<V, T>(x, xType, row * C + j);
        if (arg_better<MAX>(v, j, best, bestIndex)) {
            best = v;
            bestIndex = j;
        }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const V v = __shfl_xor_sync(0xffffffffu, best, o);
        const int64_t i = __shfl_xor_sync(0xffffffffu, bestIndex, o);
        if (arg_better<MAX>(v, i, best, bestIndex)) {
            best = v;
            bestIndex = i;
        }
    }
    if (width > 32) {
        if ((threadIdx.x & 31) == 0) {
            scratchValue[threadIdx.x >> 5] = best;
            scratchIndex[threadIdx.x >> 5] = bestIndex;
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            for (int w = 1; w < (int) (blockDim.x >> 5); w++) {
                if (arg_better<MAX>(scratchValue[w], scratchIndex[w], best, bestIndex)) {
                    best = scratchValue[w];
                    bestIndex = scratchIndex[w];
                }
            }
        }
    }
    if (lane == 0) out[row] = bestIndex < 0 ? 0 : bestIndex;
}

// ---------------------------------------------------------------------------------------------------------------------
// entry points, one per input dtype (suffix f64, f32, bf16, f16; `int` for I64, I32, I8, U8 and BOOL through xType).
// op: a ReduceOp ordinal. out: outType elements (I64/F64 partials when split).

#define REDUCE_DISPATCH(KERNEL, T, ...)                                                                              \
    switch (op) {                                                                                                   \
        case R_SUM: KERNEL<R_SUM, typename RedAcc<T, R_SUM>::type, T>(__VA_ARGS__); break;                         \
        case R_MEAN: KERNEL<R_MEAN, typename RedAcc<T, R_MEAN>::type, T>(__VA_ARGS__); break;                      \
        case R_MAX: KERNEL<R_MAX, typename RedAcc<T, R_MAX>::type, T>(__VA_ARGS__); break;                         \
        case R_MIN: KERNEL<R_MIN, typename RedAcc<T, R_MIN>::type, T>(__VA_ARGS__); break;                         \
        default: KERNEL<R_PROD, typename RedAcc<T, R_PROD>::type, T>(__VA_ARGS__); break;                          \
    }

#define REDUCE_ENTRY_POINTS(SUFFIX, T, V)                                                                            \
    extern "C" __global__ void reduce_rows_##SUFFIX(int op, int64_t rows, int64_t C, int64_t chunk, int width,     \
                                                    double divisor, void* out, int outType, const void* x,          \
                                                    int xType) {                                                    \
        REDUCE_DISPATCH(reduce_rows_kernel, T, rows, C, chunk, width, divisor, out, outType, x, xType)              \
    }                                                                                                               \
    extern "C" __global__ void reduce_cols_##SUFFIX(int op, int64_t outer, int64_t R, int64_t inner,               \
                                                    int64_t rowsPerSplit, double divisor, void* out, int outType,   \
                                                    const void* x, int xType) {                                     \
        REDUCE_DISPATCH(reduce_cols_kernel, T, outer, R, inner, rowsPerSplit, divisor, out, outType, x, xType)      \
    }                                                                                                               \
    extern "C" __global__ void argreduce_rows_##SUFFIX(int isMax, int64_t rows, int64_t C, int width,              \
                                                       int64_t* out, const void* x, int xType) {                    \
        if (isMax) argreduce_rows_kernel<true, V, T>(rows, C, width, out, x, xType);                                \
        else argreduce_rows_kernel<false, V, T>(rows, C, width, out, x, xType);                                     \
    }

REDUCE_ENTRY_POINTS(f64, double, double)
REDUCE_ENTRY_POINTS(f32, float, float)
REDUCE_ENTRY_POINTS(bf16, __nv_bfloat16, float)
REDUCE_ENTRY_POINTS(f16, __half, float)
REDUCE_ENTRY_POINTS(int, AnyInt, int64_t)

// Shared device helpers for Fulgur's kernels: dtype codes, typed loads and stores, and strided layouts.
// Each kernel family has its own .cu file; this header holds only what several families need.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

// The ordinals of ai.fulgur.ops.DType; kernels receive these codes at run time.
enum DTypeCode : int { F64 = 0, F32 = 1, BF16 = 2, F16 = 3, I64 = 4, I32 = 5, I8 = 6, U8 = 7, BOOL = 8 };

__device__ __forceinline__ double load_double(const void* p, int t, int64_t i) {
    switch (t) {
        case F64: return ((const double*) p)[i];
        case F32: return ((const float*) p)[i];
        case BF16: return __bfloat162float(((const __nv_bfloat16*) p)[i]);
        case F16: return __half2float(((const __half*) p)[i]);
        case I64: return (double) ((const int64_t*) p)[i];
        case I32: return ((const int32_t*) p)[i];
        case I8: return ((const int8_t*) p)[i];
        case U8: return ((const uint8_t*) p)[i];
        default: return ((const uint8_t*) p)[i] != 0 ? 1.0 : 0.0;
    }
}

__device__ __forceinline__ float load_float(const void* p, int t, int64_t i) {
    switch (t) {
        case F32: return ((const float*) p)[i];
        case BF16: return __bfloat162float(((const __nv_bfloat16*) p)[i]);
        case F16: return __half2float(((const __half*) p)[i]);
        default: return (float) load_double(p, t, i);
    }
}

__device__ __forceinline__ int64_t load_long(const void* p, int t, int64_t i) {
    switch (t) {
        case I64: return ((const int64_t*) p)[i];
        case I32: return ((const int32_t*) p)[i];
        case I8: return ((const int8_t*) p)[i];
        case U8: return ((const uint8_t*) p)[i];
        case BOOL: return ((const uint8_t*) p)[i] != 0 ? 1 : 0;
        default: return (int64_t) load_double(p, t, i);
    }
}

__device__ __forceinline__ void store_double(void* p, int t, int64_t i, double v) {
    switch (t) {
        case F64: ((double*) p)[i] = v; break;
        case F32: ((float*) p)[i] = (float) v; break;
        case BF16: ((__nv_bfloat16*) p)[i] = __float2bfloat16_rn((float) v); break;
        case F16: ((__half*) p)[i] = __float2half_rn((float) v); break;
        case I64: ((int64_t*) p)[i] = (int64_t) v; break;
        case I32: ((int32_t*) p)[i] = (int32_t) v; break;
        case I8: ((int8_t*) p)[i] = (int8_t) (int64_t) v; break;
        case U8: ((uint8_t*) p)[i] = (uint8_t) (int64_t) v; break;
        default: ((uint8_t*) p)[i] = v != 0.0 ? 1 : 0; break;
    }
}

__device__ __forceinline__ void store_float(void* p, int t, int64_t i, float v) {
    switch (t) {
        case F32: ((float*) p)[i] = v; break;
        case BF16: ((__nv_bfloat16*) p)[i] = __float2bfloat16_rn(v); break;
        case F16: ((__half*) p)[i] = __float2half_rn(v); break;
        default: store_double(p, t, i, v); break;
    }
}

__device__ __forceinline__ void store_long(void* p, int t, int64_t i, int64_t v) {
    switch (t) {
        case I64: ((int64_t*) p)[i] = v; break;
        case I32: ((int32_t*) p)[i] = (int32_t) v; break;
        case I8: ((int8_t*) p)[i] = (int8_t) v; break;
        case U8: ((uint8_t*) p)[i] = (uint8_t) v; break;
        case BOOL: ((uint8_t*) p)[i] = v != 0 ? 1 : 0; break;
        default: store_double(p, t, i, (double) v); break;
    }
}

// Loads and stores in a compute type C (float for F32/BF16/F16 math, double for F64, int64_t for integers).
template <typename C> struct Io;
template <> struct Io<float> {
    static __device__ __forceinline__ float load(const void* p, int t, int64_t i) { return load_float(p, t, i); }
    static __device__ __forceinline__ void store(void* p, int t, int64_t i, float v) { store_float(p, t, i, v); }
};
template <> struct Io<double> {
    static __device__ __forceinline__ double load(const void* p, int t, int64_t i) { return load_double(p, t, i); }
    static __device__ __forceinline__ void store(void* p, int t, int64_t i, double v) { store_double(p, t, i, v); }
};
template <> struct Io<int64_t> {
    static __device__ __forceinline__ int64_t load(const void* p, int t, int64_t i) { return load_long(p, t, i); }
    static __device__ __forceinline__ void store(void* p, int t, int64_t i, int64_t v) { store_long(p, t, i, v); }
};

// A shape shared by up to four operands with their own strides and offsets (in elements); built on the host by
// ai.fulgur.cuda.StridedLayout as a long[] of the same fields in the same order.
#define FULGUR_MAX_RANK 8
#define FULGUR_MAX_OPERANDS 4
struct StridedLayout {
    int64_t rank;
    int64_t numel;
    int64_t shape[FULGUR_MAX_RANK];
    int64_t strides[FULGUR_MAX_OPERANDS][FULGUR_MAX_RANK];
    int64_t offset[FULGUR_MAX_OPERANDS];
};

// Storage index of element `linear` (row-major over the shape) for each of the first `n` operands.
template <int N>
__device__ __forceinline__ void strided_offsets(const StridedLayout& L, int64_t linear, int64_t (&off)[N]) {
#pragma unroll
    for (int k = 0; k < N; k++) off[k] = L.offset[k];
    for (int d = (int) L.rank - 1; d >= 0; d--) {
        int64_t size = L.shape[d];
        int64_t i = linear % size;
        linear /= size;
#pragma unroll
        for (int k = 0; k < N; k++) off[k] += i * L.strides[k][d];
    }
}

#define GRID_STRIDE_LOOP(i, n) \
    for (int64_t i = (int64_t) blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t) gridDim.x * blockDim.x)

// ---------------------------------------------------------------------------------------------------------------------
// Philox4x32-10, bit-exact with ai.fulgur.ops.random.Philox.block: key (low, high 32 bits of seed), ten rounds, the key
// bumped after every round. Element n of a stream reads lane n & 3 of the block at counter (n >> 2, stream, 0) where
// n >> 2 fills the first two words (low, high).

__device__ __forceinline__ uint4 philox4x32_10(uint64_t seed, uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3) {
    uint32_t k0 = (uint32_t) seed;
    uint32_t k1 = (uint32_t) (seed >> 32);
#pragma unroll
    for (int round = 0; round < 10; round++) {
        uint32_t hi0 = __umulhi(0xD2511F53u, c0);
        uint32_t lo0 = 0xD2511F53u * c0;
        uint32_t hi1 = __umulhi(0xCD9E8D57u, c2);
        uint32_t lo1 = 0xCD9E8D57u * c2;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return make_uint4(c0, c1, c2, c3);
}

// The four words of block `b` of stream `stream` (elements 4b .. 4b+3).
__device__ __forceinline__ uint4 philox_block(uint64_t seed, uint64_t b, uint32_t stream) {
    return philox4x32_10(seed, (uint32_t) b, (uint32_t) (b >> 32), stream, 0u);
}

// A word to a uniform float in [0, 1) with 24 random bits: (word >> 8) · 2^-24, exact (Philox.toUniform).
__device__ __forceinline__ float philox_uniform(uint32_t word) {
    return (float) (word >> 8) * (1.0f / 16777216.0f);
}

// ---------------------------------------------------------------------------------------------------------------------
// Row kernels' helpers (reduce.cu, softmax.cu, gelu.cu, layernorm.cu): native element types widened to their compute
// type and rounded back, aligned packs for 16-byte loads and stores, and warp/block reductions in a fixed order (so
// results do not change from run to run).

// The compute type of a storage type: float for F32, BF16 and F16, double for F64.
template <typename T> struct ComputeOf { using type = float; };
template <> struct ComputeOf<double> { using type = double; };
template <typename T> using compute_t = typename ComputeOf<T>::type;

__device__ __forceinline__ float widen(float v) { return v; }
__device__ __forceinline__ float widen(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float widen(__half v) { return __half2float(v); }
__device__ __forceinline__ double widen(double v) { return v; }

// A compute value rounded to the storage type (to nearest even).
template <typename T> __device__ __forceinline__ T narrow(compute_t<T> v);
template <> __device__ __forceinline__ float narrow<float>(float v) { return v; }
template <> __device__ __forceinline__ __nv_bfloat16 narrow<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <> __device__ __forceinline__ __half narrow<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ double narrow<double>(double v) { return v; }

// W consecutive elements aligned to their total size: Vec<T, 16 / sizeof(T)> is one 16-byte load or store.
template <typename T, int W> struct alignas(sizeof(T) * W) Vec { T v[W]; };

__device__ __forceinline__ bool aligned16(const void* p) { return ((uintptr_t) p & 15) == 0; }

struct SumOp {
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
// max and min that propagate NaN as Java's Math.max/min do (fmaxf/fminf would drop it). For float, one PTX max.NaN /
// min.NaN instruction (sm_80+): the compare-and-select form made a softmax warp kernel four times slower.
struct MaxOp {
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return (a != a || a > b) ? a : b; }
    __device__ __forceinline__ float operator()(float a, float b) const {
        float r;
        asm("max.NaN.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
        return r;
    }
};
struct MinOp {
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return (a != a || a < b) ? a : b; }
    __device__ __forceinline__ float operator()(float a, float b) const {
        float r;
        asm("min.NaN.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
        return r;
    }
};

// Butterfly reduction over the 32 lanes of a warp; every lane gets the result.
template <typename T, typename Op> __device__ __forceinline__ T warp_reduce(T v, Op op) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Reduction over the whole block (blockDim.x a multiple of 32, at most 1024); every thread gets the result, combined
// warp by warp in index order. `scratch` is 32 values of shared memory; calls may reuse it back to back.
template <typename T, typename Op> __device__ __forceinline__ T block_reduce(T v, Op op, T* scratch) {
    v = warp_reduce(v, op);
    __syncthreads();
    if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
    __syncthreads();
    T r = scratch[0];
    for (int w = 1; w < (int) (blockDim.x >> 5); w++) r = op(r, scratch[w]);
    return r;
}

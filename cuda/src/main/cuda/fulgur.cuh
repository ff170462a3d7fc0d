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
// Element conversions for kernels templated on the storage type T (float, double, __nv_bfloat16, __half): widen to the
// compute type, narrow back with round-to-nearest-even (as the CPU's HalfFloats does).

__device__ __forceinline__ float widen(float x) { return x; }
__device__ __forceinline__ double widen(double x) { return x; }
__device__ __forceinline__ float widen(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float widen(__half x) { return __half2float(x); }

template <typename T> __device__ __forceinline__ T narrow(float x);
template <> __device__ __forceinline__ float narrow<float>(float x) { return x; }
template <> __device__ __forceinline__ double narrow<double>(float x) { return x; }
template <> __device__ __forceinline__ __nv_bfloat16 narrow<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
template <> __device__ __forceinline__ __half narrow<__half>(float x) { return __float2half_rn(x); }
template <typename T> __device__ __forceinline__ T narrow(double x) { return narrow<T>((float) x); }
template <> __device__ __forceinline__ double narrow<double>(double x) { return x; }

// 16 bytes of T, for vectorised loads and stores (the address must be 16-byte aligned).
template <typename T> struct alignas(16) Pack16 {
    static constexpr int N = 16 / sizeof(T);
    T v[N];
};

// ---------------------------------------------------------------------------------------------------------------------
// Warp reductions (all 32 lanes take part and receive the result).

template <typename A> __device__ __forceinline__ A warp_sum(A x) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}

template <typename A> __device__ __forceinline__ A warp_max(A x) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        A y = __shfl_xor_sync(0xffffffffu, x, o);
        x = y > x ? y : x;
    }
    return x;
}

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

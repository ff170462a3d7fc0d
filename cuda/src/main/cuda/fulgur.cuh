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

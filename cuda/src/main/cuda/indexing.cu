// Gathers and their scatter-add adjoints; the GPU side of ai.fulgur.ops.indexing.IndexingKernels with
// ai.fulgur.ops.cpu.CpuIndexing as the reference.
//
//   index_select_wN  out (P, I, Q) = x[p, index[i], q]: a row copy, dtype-blind, in units of N bytes (16 when the row
//                    bytes and both addresses allow it: the embedding forward).
//   index_add_A      dx (P, N, Q) += src (P, I, Q) at index (I): atomic adds into an A array (the embedding backward).
//   gather_wN        out[e] = x[pos(e) with the axis coordinate replaced by index[e]] (torch.gather), dtype-blind.
//   scatter_add_A    dx[pos(e) with the axis coordinate replaced by index[e]] += src[e].
//   convert_to_f32 / convert_from_f32: the F32 scratch that BF16 and F16 scatter-adds accumulate in.
//
// Accumulation: A is float, double, int64 or int32, added with atomicAdd (order unspecified, so F32 sums differ from
// the CPU's sequential ones by rounding). BF16/F16 targets are not added with 16-bit atomics: the host converts the
// target to an F32 scratch, adds there and rounds back once, which loses far less than rounding after every add when
// one row receives many rows (a frequent token's embedding gradient).
// Indices are I32 or I64 (indexType, a DType ordinal). The facade checks host indices only, so the kernels check on
// the device: an out-of-range index reads and writes nothing out of bounds; index_select and gather fill that output
// row or element with all-ones bytes (NaN for floating types, -1 for signed integers), the scatter-adds drop that
// contribution.
#include "fulgur.cuh"

template <typename W> __device__ __forceinline__ W all_ones();
template <> __device__ __forceinline__ uint8_t all_ones<uint8_t>() { return 0xffu; }
template <> __device__ __forceinline__ uint16_t all_ones<uint16_t>() { return 0xffffu; }
template <> __device__ __forceinline__ uint32_t all_ones<uint32_t>() { return 0xffffffffu; }
template <> __device__ __forceinline__ uint64_t all_ones<uint64_t>() { return ~0ull; }
template <> __device__ __forceinline__ uint4 all_ones<uint4>() {
    return make_uint4(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu);
}

// out (P, I, units), x (P, N, units) in units W; index (I).
template <typename W>
__device__ void index_select_kernel(W* out, const W* x, const void* index, int indexType, int64_t P, int64_t N,
                                    int64_t I, int64_t units) {
    GRID_STRIDE_LOOP(u, P * I * units) {
        int64_t row = u / units;
        int64_t col = u - row * units;
        int64_t p = row / I;
        int64_t k = load_long(index, indexType, row - p * I);
        out[u] = (k >= 0 && k < N) ? x[(p * N + k) * units + col] : all_ones<W>();
    }
}

__device__ __forceinline__ void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(double* p, double v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(int64_t* p, int64_t v) {
    atomicAdd((unsigned long long*) p, (unsigned long long) v); // two's complement: a signed add
}
__device__ __forceinline__ void atomic_add(int32_t* p, int32_t v) { atomicAdd((int*) p, (int) v); }

template <typename A> __device__ __forceinline__ A load_as(const void* p, int t, int64_t i);
template <> __device__ __forceinline__ float load_as<float>(const void* p, int t, int64_t i) { return load_float(p, t, i); }
template <> __device__ __forceinline__ double load_as<double>(const void* p, int t, int64_t i) { return load_double(p, t, i); }
template <> __device__ __forceinline__ int64_t load_as<int64_t>(const void* p, int t, int64_t i) { return load_long(p, t, i); }
template <> __device__ __forceinline__ int32_t load_as<int32_t>(const void* p, int t, int64_t i) {
    return (int32_t) load_long(p, t, i);
}

// dx (P, N, Q), A; src (P, I, Q) of srcType; index (I).
template <typename A>
__device__ void index_add_kernel(A* dx, const void* src, int srcType, const void* index, int indexType, int64_t P,
                                 int64_t N, int64_t I, int64_t Q) {
    GRID_STRIDE_LOOP(e, P * I * Q) {
        int64_t row = e / Q;
        int64_t col = e - row * Q;
        int64_t p = row / I;
        int64_t k = load_long(index, indexType, row - p * I);
        if (k >= 0 && k < N) atomic_add(&dx[(p * N + k) * Q + col], load_as<A>(src, srcType, e));
    }
}

// Position in the strided operand 0 of L for element e of the index's shape, its axis coordinate left at 0
// (L.strides[0][axis] is 0).
__device__ __forceinline__ int64_t gather_position(const StridedLayout& L, int64_t e) {
    int64_t off[1];
    strided_offsets<1>(L, e, off);
    return off[0];
}

// out (index's shape), x (strided by L.strides[0], axis stride zeroed, axisStride given apart), index contiguous.
template <typename W>
__device__ void gather_kernel(StridedLayout L, W* out, const W* x, const void* index, int indexType,
                              int64_t axisStride, int64_t axisSize) {
    GRID_STRIDE_LOOP(e, L.numel) {
        int64_t k = load_long(index, indexType, e);
        out[e] = (k >= 0 && k < axisSize) ? x[gather_position(L, e) + k * axisStride] : all_ones<W>();
    }
}

// dx (strided by L.strides[0], axis stride zeroed), A; src and index contiguous with L's shape.
template <typename A>
__device__ void scatter_add_kernel(StridedLayout L, A* dx, const void* src, int srcType, const void* index,
                                   int indexType, int64_t axisStride, int64_t axisSize) {
    GRID_STRIDE_LOOP(e, L.numel) {
        int64_t k = load_long(index, indexType, e);
        if (k >= 0 && k < axisSize) atomic_add(&dx[gather_position(L, e) + k * axisStride], load_as<A>(src, srcType, e));
    }
}

#define INDEX_COPY_ENTRY_POINTS(SUFFIX, W)                                                                          \
    extern "C" __global__ void index_select_##SUFFIX(W* out, const W* x, const void* index, int indexType,         \
                                                     int64_t P, int64_t N, int64_t I, int64_t units) {             \
        index_select_kernel<W>(out, x, index, indexType, P, N, I, units);                                           \
    }                                                                                                               \
    extern "C" __global__ void gather_##SUFFIX(StridedLayout L, W* out, const W* x, const void* index,             \
                                               int indexType, int64_t axisStride, int64_t axisSize) {              \
        gather_kernel<W>(L, out, x, index, indexType, axisStride, axisSize);                                        \
    }

INDEX_COPY_ENTRY_POINTS(w1, uint8_t)
INDEX_COPY_ENTRY_POINTS(w2, uint16_t)
INDEX_COPY_ENTRY_POINTS(w4, uint32_t)
INDEX_COPY_ENTRY_POINTS(w8, uint64_t)
INDEX_COPY_ENTRY_POINTS(w16, uint4)

#define INDEX_ADD_ENTRY_POINTS(SUFFIX, A)                                                                           \
    extern "C" __global__ void index_add_##SUFFIX(A* dx, const void* src, int srcType, const void* index,          \
                                                  int indexType, int64_t P, int64_t N, int64_t I, int64_t Q) {     \
        index_add_kernel<A>(dx, src, srcType, index, indexType, P, N, I, Q);                                        \
    }                                                                                                               \
    extern "C" __global__ void scatter_add_##SUFFIX(StridedLayout L, A* dx, const void* src, int srcType,          \
                                                    const void* index, int indexType, int64_t axisStride,           \
                                                    int64_t axisSize) {                                             \
        scatter_add_kernel<A>(L, dx, src, srcType, index, indexType, axisStride, axisSize);                         \
    }

INDEX_ADD_ENTRY_POINTS(f32, float)
INDEX_ADD_ENTRY_POINTS(f64, double)
INDEX_ADD_ENTRY_POINTS(i64, int64_t)
INDEX_ADD_ENTRY_POINTS(i32, int32_t)

// dst (n) F32 = src (n) of srcType.
extern "C" __global__ void convert_to_f32(float* dst, const void* src, int srcType, int64_t n) {
    GRID_STRIDE_LOOP(i, n) dst[i] = load_float(src, srcType, i);
}

// dst (n) of dstType = src (n) F32, rounded to nearest even.
extern "C" __global__ void convert_from_f32(void* dst, int dstType, const float* src, int64_t n) {
    GRID_STRIDE_LOOP(i, n) store_float(dst, dstType, i, src[i]);
}

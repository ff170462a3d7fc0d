// Philox random fills and dropout; the GPU side of ai.fulgur.ops.random.RandomKernels with
// ai.fulgur.ops.cpu.CpuRandom as the reference. Element i of a call keyed by (seed, offset) is Philox element
// n = offset + i (wrapping as Java's long does), so every number equals the CPU's:
//
//   random_uniform  out[i] = low + (high − low) · u(n), u from stream 0 (UNIFORM_STREAM), computed in double and
//                   rounded once to the output dtype: bit-identical to the CPU.
//   random_normal   out[i] = mean + std · z(n), z by Box–Muller on lanes 0 and 1 of block n >> 1 of stream 1
//                   (NORMAL_STREAM): u1 = ((w0 >> 8) + 1) · 2^-24, u2 = (w1 >> 8) · 2^-24, r = √(−2 ln u1),
//                   θ = 2π·u2, cos for even n, sin for odd; all in double, as Philox.Stream.normal. CUDA's double
//                   log/sin/cos may differ from Java's by an ulp, so F64 outputs can differ in the last bit; F32 and
//                   narrower outputs almost always round to the same value.
//   dropout_T       out[i] = u(n) ≥ (float) p ? in[i] · (1 / (1 − p)) : 0, the product in double then rounded, so the
//                   zero pattern and the values are bit-identical to the CPU; forward and backward are the same kernel.
//   philox_blocks   the raw words of arbitrary counters, for tests against Philox.block.
//
// One thread computes one Philox block (four elements; two for normals) and grid-strides over the blocks the call
// touches.
#include "fulgur.cuh"

// The number of Philox blocks that elements offset .. offset + n − 1 span, and the index of the k-th of them (block
// indices wrap at 2^62 as n >>> 2 of a wrapping long does).
__device__ __forceinline__ int64_t blocks_spanned(int64_t offset, int64_t n) { return ((offset & 3) + n + 3) >> 2; }
__device__ __forceinline__ uint64_t block_of(int64_t offset, int64_t k) {
    return (((uint64_t) offset >> 2) + (uint64_t) k) & ((1ull << 62) - 1);
}

// out (n) of outType.
extern "C" __global__ void random_uniform(void* out, int outType, int64_t n, int64_t seed, int64_t offset,
                                          double low, double high) {
    GRID_STRIDE_LOOP(k, blocks_spanned(offset, n)) {
        uint4 w = philox_block((uint64_t) seed, block_of(offset, k), 0u);
        uint32_t words[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
        for (int lane = 0; lane < 4; lane++) {
            int64_t i = 4 * k + lane - (offset & 3); // element offset + i is lane `lane` of this block
            if (i >= 0 && i < n) store_double(out, outType, i, low + (high - low) * (double) philox_uniform(words[lane]));
        }
    }
}

// out (n) of outType.
extern "C" __global__ void random_normal(void* out, int outType, int64_t n, int64_t seed, int64_t offset, double mean,
                                         double std) {
    int64_t pairs = ((offset & 1) + n + 1) >> 1;
    GRID_STRIDE_LOOP(k, pairs) {
        uint64_t pair = ((uint64_t) offset >> 1) + (uint64_t) k;
        // Philox.Stream.normal reads word(pair * 4) and word(pair * 4 + 1): block (pair * 4) >>> 2, lanes 0 and 1
        uint4 w = philox_block((uint64_t) seed, pair & ((1ull << 62) - 1), 1u);
        double u1 = (double) ((w.x >> 8) + 1) * (1.0 / 16777216.0); // (0, 1]: the log is finite
        double u2 = (double) (w.y >> 8) * (1.0 / 16777216.0);
        double r = sqrt(-2 * log(u1));
        double theta = 2 * 3.141592653589793 * u2; // (2π)·u2, Java's 2 * Math.PI * u2
        double s, c;
        sincos(theta, &s, &c); // the same values as sin and cos apart; the stack frame is the huge-argument path
        double z[2] = {r * c, r * s};
#pragma unroll
        for (int odd = 0; odd < 2; odd++) {
            int64_t i = 2 * k + odd - (offset & 1);
            if (i >= 0 && i < n) store_double(out, outType, i, mean + std * z[odd]);
        }
    }
}

template <typename T>
__device__ __forceinline__ T dropout_one(T x, uint32_t word, float threshold, double scale) {
    bool keep = philox_uniform(word) >= threshold;
    return narrow<T>(keep ? (compute_t<T>) ((double) widen(x) * scale) : (compute_t<T>) 0);
}

// out (n), in (n), both T, contiguous. threshold = (float) p, scale = 1 / (1 − p) (host-computed, as the CPU's).
// When the offset starts a Philox block and both arrays are aligned to four elements, a block's four elements move
// as one vector.
template <typename T>
__device__ void dropout_kernel(T* out, const T* in, int64_t n, int64_t seed, int64_t offset, float threshold,
                               double scale) {
    using Four = Vec<T, 4>;
    bool vec = (offset & 3) == 0 && (uintptr_t) out % sizeof(Four) == 0 && (uintptr_t) in % sizeof(Four) == 0;
    GRID_STRIDE_LOOP(k, blocks_spanned(offset, n)) {
        uint4 w = philox_block((uint64_t) seed, block_of(offset, k), 0u);
        uint32_t words[4] = {w.x, w.y, w.z, w.w};
        int64_t i0 = 4 * k - (offset & 3); // element offset + i0 is lane 0 of this block
        if (vec && i0 + 3 < n) {
            Four v = *reinterpret_cast<const Four*>(in + i0);
#pragma unroll
            for (int lane = 0; lane < 4; lane++) v.v[lane] = dropout_one(v.v[lane], words[lane], threshold, scale);
            *reinterpret_cast<Four*>(out + i0) = v;
        } else {
#pragma unroll
            for (int lane = 0; lane < 4; lane++) {
                int64_t i = i0 + lane;
                if (i >= 0 && i < n) out[i] = dropout_one(in[i], words[lane], threshold, scale);
            }
        }
    }
}

#define DROPOUT_ENTRY_POINT(SUFFIX, T)                                                                              \
    extern "C" __global__ void dropout_##SUFFIX(T* out, const T* in, int64_t n, int64_t seed, int64_t offset,      \
                                                float threshold, double scale) {                                    \
        dropout_kernel<T>(out, in, n, seed, offset, threshold, scale);                                              \
    }

DROPOUT_ENTRY_POINT(f32, float)
DROPOUT_ENTRY_POINT(bf16, __nv_bfloat16)
DROPOUT_ENTRY_POINT(f16, __half)
DROPOUT_ENTRY_POINT(f64, double)

// out (count, 4) I32 = Philox4x32-10 of counters (count, 4) I32 under seed.
extern "C" __global__ void philox_blocks(uint32_t* out, const uint32_t* counters, int64_t count, int64_t seed) {
    GRID_STRIDE_LOOP(k, count) {
        const uint32_t* c = counters + 4 * k;
        uint4 w = philox4x32_10((uint64_t) seed, c[0], c[1], c[2], c[3]);
        out[4 * k] = w.x;
        out[4 * k + 1] = w.y;
        out[4 * k + 2] = w.z;
        out[4 * k + 3] = w.w;
    }
}

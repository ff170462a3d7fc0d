// Variants of the BF16 layer norm backward at C = 768 (GPT-2), for layernorm_backward_variants.py: block size and
// resident blocks, and two ways of finishing dgamma/dbeta measured against the separate kernel and kept here with
// their figures in docs/PERF.md (session 7): a programmatic dependent launch and a cooperative one-launch backward.
// Not part of the build: the script's user compiles it, e.g.
//   nvcc -cubin -O3 -std=c++17 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a \
//        -Icuda/src/main/cuda -o lnv.cubin tools/bench/layernorm_backward_variants.cu
#include "layernorm.cu"

#define LAYERNORM_BACKWARD_VARIANT(NAME, DEPTH, THREADS, MIN_BLOCKS)                                                \
    extern "C" __global__ void __launch_bounds__(THREADS, MIN_BLOCKS) NAME(                                         \
            int64_t rows, int C, void* dx, void* dgammaPart, void* dbetaPart, const void* dy, const void* x,        \
            const void* mean, const void* rstd, const void* gamma) {                                               \
        using T = __nv_bfloat16;                                                                                    \
        layernorm_backward_warp_kernel<T, 24, 8, DEPTH, true>(rows, C, (T*) dx, (float*) dgammaPart,                \
                                                              (float*) dbetaPart, (const T*) dy, (const T*) x,      \
                                                              (const float*) mean, (const float*) rstd,             \
                                                              (const T*) gamma);                                    \
    }

LAYERNORM_BACKWARD_VARIANT(lnbw_d2_t256_b2, 2, 256, 2)
LAYERNORM_BACKWARD_VARIANT(lnbw_d2_t512_b1, 2, 512, 1)

// Programmatic dependent launch (sm_90): the main kernel lets its dependent launch at once, the finishing kernel
// waits for the main kernel's completion and memory (griddepcontrol.wait) instead of the launch waiting for it.
extern "C" __global__ void __launch_bounds__(256, 2) lnbw_d2_t256_b2_trigger(
        int64_t rows, int C, void* dx, void* dgammaPart, void* dbetaPart, const void* dy, const void* x,
        const void* mean, const void* rstd, const void* gamma) {
    using T = __nv_bfloat16;
#if __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
    layernorm_backward_warp_kernel<T, 24, 8, 2, true>(rows, C, (T*) dx, (float*) dgammaPart, (float*) dbetaPart,
                                                      (const T*) dy, (const T*) x, (const float*) mean,
                                                      (const float*) rstd, (const T*) gamma);
}
extern "C" __global__ void __launch_bounds__(256) lnbw_finish_wait(int64_t parts, int64_t C, void* dgamma,
                                                                   void* dbeta, const void* dgammaPart,
                                                                   const void* dbetaPart) {
    using T = __nv_bfloat16;
#if __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
    layernorm_param_grad_finish_kernel<T>(parts, C, (T*) dgamma, (T*) dbeta, (const float*) dgammaPart,
                                          (const float*) dbetaPart);
}

// One grid-wide barrier (cooperative launch: every block resident). counters[0] counts arrivals, counters[1] is the
// generation the last arrival bumps; counters[0] is left 0 for the next launch.
__device__ __forceinline__ void lnbw_grid_barrier(unsigned int* counters) {
    __syncthreads();
    if (threadIdx.x == 0) {
        volatile unsigned int* generation = counters + 1;
        const unsigned int seen = *generation;
        __threadfence();
        if (atomicAdd(counters, 1u) == gridDim.x - 1) {
            counters[0] = 0;
            __threadfence();
            atomicAdd(counters + 1, 1u);
        } else {
            while (*generation == seen) {
            }
        }
        __threadfence();
    }
    __syncthreads();
}

// The backward with its finish in the same (cooperative) launch: partial rows, a grid barrier, then block b sums
// columns [b·cpb, (b+1)·cpb) of both partial arrays over all parts, warp by warp (a warp per column and array, its
// lanes over the parts, then shuffles): a fixed order.
extern "C" __global__ void __launch_bounds__(256, 2) lnbw_coop_d2_t256_b2(
        int64_t rows, int C, void* dx, void* dgammaPart, void* dbetaPart, const void* dy, const void* x,
        const void* mean, const void* rstd, const void* gamma, void* dgamma, void* dbeta, void* counters) {
    using T = __nv_bfloat16;
    layernorm_backward_warp_kernel<T, 24, 8, 2, true>(rows, C, (T*) dx, (float*) dgammaPart, (float*) dbetaPart,
                                                      (const T*) dy, (const T*) x, (const float*) mean,
                                                      (const float*) rstd, (const T*) gamma);
    lnbw_grid_barrier((unsigned int*) counters);
    const int parts = gridDim.x;
    const int cpb = (C + parts - 1) / parts;
    const int lane = threadIdx.x & 31;
    for (int line = threadIdx.x >> 5; line < 2 * cpb; line += blockDim.x >> 5) {
        const int j = blockIdx.x * cpb + line / 2;
        if (j >= C) continue;
        const float* part = line % 2 == 0 ? (const float*) dgammaPart : (const float*) dbetaPart;
        double s = 0;
        for (int p0 = lane; p0 < parts; p0 += 32 * 16) {
            float v[16];
#pragma unroll
            for (int u = 0; u < 16; u++) {
                const int p = p0 + 32 * u;
                v[u] = p < parts ? __ldcg(&part[(int64_t) p * C + j]) : 0.f;
            }
#pragma unroll
            for (int u = 0; u < 16; u++) s += (double) v[u];
        }
#pragma unroll
        for (int o = 16; o > 0; o /= 2) s += __shfl_xor_sync(0xffffffffu, s, o);
        if (lane == 0) {
            T* out = line % 2 == 0 ? (T*) dgamma : (T*) dbeta;
            if (out != nullptr) out[j] = narrow<T>((float) s);
        }
    }
}

// Warpgroup MMA (wgmma, sm_90a) building blocks shared by the Hopper FlashAttention kernels: the forward
// (flash_attention_hopper.cu) and the backward (flash_attention_hopper_backward.cu). Tile copies into
// 128-byte-swizzled shared memory, matrix descriptors, the asynchronous wgmma products (both operands in shared
// memory, or A from registers) with their fences, and the register packing of a probability tile as an A operand.
// Leaves out: TMA copies and mbarrier pipelines (hopper_tma.cuh, for flash_attention_hopper_tma.cu).
//
// Shared-memory layout: every tile is stored as D/64 column blocks of rows × 64 elements (128 bytes a row), each
// 16-byte chunk c of row r at chunk c ^ (r & 7): the 128-byte swizzle that the descriptors declare (layout type 1),
// which the hardware applies to address bits [4, 7) ^ [7, 10), so every tile starts 1024-byte aligned.
#pragma once
#include "flash_attention.cuh"

// wgmma (and this file's kernels) exist only in the sm_90a pass; the sm_80 and compute_90 passes compile empty bodies
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define HOPPER_WGMMA 1
#endif

namespace hopper {

// byte offset of element chunk c (8 elements) of row r in a swizzled tile of ROWS rows
template <int ROWS>
__device__ __forceinline__ uint32_t chunk_offset(int r, int c) {
    return (uint32_t) ((c >> 3) * ROWS * 128 + r * 128 + (((c & 7) ^ (r & 7)) << 4));
}

// Copies rows [0, ROWS) of a strided head slice (row stride sn elements, D contiguous) into a swizzled tile; rows at
// or past `valid` are zero-filled (their source is not read). All THREADS threads take part: thread x copies chunk
// x % (D/8) of rows x / (D/8) + k·STEP, so one source pointer and one destination offset serve all its chunks (STEP
// is a multiple of 8: the swizzle of a chunk is the same in every row it copies).
template <int D, int ROWS, int THREADS, typename T>
__device__ __forceinline__ void load_tile(uint32_t dst, const T* g, int64_t sn, int64_t valid) {
    constexpr int CHUNKS = D / 8;
    constexpr int STEP = THREADS / CHUNKS;
    static_assert(THREADS % CHUNKS == 0 && STEP % 8 == 0 && ROWS % STEP == 0, "tile shape and threads do not fit");
    const int r0 = (int) (threadIdx.x % THREADS) / CHUNKS;
    const int c = (int) threadIdx.x % CHUNKS;
    const uint32_t d0 = dst + chunk_offset<ROWS>(r0, c);
    const T* src = g + r0 * sn + c * 8;
#pragma unroll
    for (int k = 0; k < ROWS / STEP; k++) {
        const bool ok = r0 + k * STEP < valid;
        cp_async16(d0 + k * STEP * 128, ok ? src : g, ok);
        src += STEP * sn;
    }
}

// Matrix descriptor of a 128-byte-swizzled shared-memory operand: start address, leading and stride byte offsets
// (all in 16-byte units), layout type 1 (128-byte swizzle) in bits 62-63.
__device__ __forceinline__ uint64_t descriptor(uint32_t addr, uint32_t lead_bytes, uint32_t stride_bytes) {
    uint64_t d = 0;
    d |= (uint64_t) ((addr & 0x3FFFF) >> 4);
    d |= (uint64_t) ((lead_bytes >> 4) & 0x3FFF) << 16;
    d |= (uint64_t) ((stride_bytes >> 4) & 0x3FFF) << 32;
    d |= (uint64_t) 1 << 62;
    return d;
}

__device__ __forceinline__ void wgmma_fence() {
#ifdef HOPPER_WGMMA
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void wgmma_commit() {
#ifdef HOPPER_WGMMA
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}
template <int N>
__device__ __forceinline__ void wgmma_wait() {
#ifdef HOPPER_WGMMA
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
#endif
}
// Keeps the compiler from moving accesses of accumulator registers across an asynchronous wgmma.
template <int N>
__device__ __forceinline__ void fence_regs(float (&r)[N]) {
#pragma unroll
    for (int i = 0; i < N; i++) asm volatile("" : "+f"(r[i])::"memory");
}
template <int N>
__device__ __forceinline__ void fence_regs(uint32_t (&r)[N][4]) {
#pragma unroll
    for (int i = 0; i < N; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) asm volatile("" : "+r"(r[i][j])::"memory");
}
// Orders this thread's generic-proxy writes of shared memory (cp.async) before the tensor cores' async-proxy reads.
__device__ __forceinline__ void fence_async_shared() {
#ifdef HOPPER_WGMMA
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}

// The accumulator operand lists: N/2 f32 registers per thread for an m64nN tile.
#define HOP_R8(b) "+f"(d[b]), "+f"(d[b + 1]), "+f"(d[b + 2]), "+f"(d[b + 3]), "+f"(d[b + 4]), "+f"(d[b + 5]), \
                  "+f"(d[b + 6]), "+f"(d[b + 7])
#define HOP_D32 HOP_R8(0), HOP_R8(8), HOP_R8(16), HOP_R8(24)
#define HOP_D64 HOP_D32, HOP_R8(32), HOP_R8(40), HOP_R8(48), HOP_R8(56)
#define HOP_S32 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, " \
                "%21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}"
#define HOP_S64 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, " \
                "%21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, " \
                "%41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, " \
                "%61, %62, %63}"

template <typename T> struct Wgmma;
#define HOP_WGMMA_TYPE(CT, PT)                                                                                      \
    template <> struct Wgmma<CT> {                                                                                  \
        /* d (m64n64, f32) = (accumulate ? d : 0) + A·B, A and B K-major in shared memory */                        \
        static __device__ __forceinline__ void ss64(float (&d)[32], uint64_t a, uint64_t b, int accumulate) {       \
            asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"                                               \
                         "wgmma.mma_async.sync.aligned.m64n64k16.f32." PT "." PT " " HOP_S32                        \
                         ", %32, %33, p, 1, 1, 0, 0;\n}\n"                                                          \
                         : HOP_D32 : "l"(a), "l"(b), "r"(accumulate));                                              \
        }                                                                                                           \
        /* the same with A and B both MN-major in shared memory (read transposed): the backward's dQ = dS·K */       \
        static __device__ __forceinline__ void ss64_mn(float (&d)[32], uint64_t a, uint64_t b, int accumulate) {    \
            asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"                                               \
                         "wgmma.mma_async.sync.aligned.m64n64k16.f32." PT "." PT " " HOP_S32                        \
                         ", %32, %33, p, 1, 1, 1, 1;\n}\n"                                                          \
                         : HOP_D32 : "l"(a), "l"(b), "r"(accumulate));                                              \
        }                                                                                                           \
        static __device__ __forceinline__ void ss128(float (&d)[64], uint64_t a, uint64_t b, int accumulate) {      \
            asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"                                               \
                         "wgmma.mma_async.sync.aligned.m64n128k16.f32." PT "." PT " " HOP_S64                       \
                         ", %64, %65, p, 1, 1, 0, 0;\n}\n"                                                          \
                         : HOP_D64 : "l"(a), "l"(b), "r"(accumulate));                                              \
        }                                                                                                           \
        /* d (m64n64, f32) += A·B, A (m64k16) from registers, B N-major in shared memory (transposed) */            \
        static __device__ __forceinline__ void rs64(float (&d)[32], const uint32_t (&a)[4], uint64_t b) {           \
            asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"                                               \
                         "wgmma.mma_async.sync.aligned.m64n64k16.f32." PT "." PT " " HOP_S32                        \
                         ", {%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"                                            \
                         : HOP_D32 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(1));                  \
        }                                                                                                           \
        static __device__ __forceinline__ void rs128(float (&d)[64], const uint32_t (&a)[4], uint64_t b) {          \
            asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"                                               \
                         "wgmma.mma_async.sync.aligned.m64n128k16.f32." PT "." PT " " HOP_S64                       \
                         ", {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n}\n"                                            \
                         : HOP_D64 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(1));                  \
        }                                                                                                           \
    };
HOP_WGMMA_TYPE(__nv_bfloat16, "bf16")
HOP_WGMMA_TYPE(__half, "f16")

// S (m64 × BN) = Q·Kᵀ: KS k-steps of 16; Q and K tiles K-major, so a k-step moves the start address 32 bytes inside
// a 128-byte row, or to the next column block every 4 steps. q_tile: 64 rows of a tile of BM rows (its column blocks
// BM·128 bytes apart), k_tile: a tile of BN rows. The backward's Sᵀ = K·Qᵀ and dPᵀ = V·dOᵀ are the same product.
template <typename T, int D, int BM, int BN>
__device__ __forceinline__ void scores(float (&s)[BN / 2], uint32_t q_tile, uint32_t k_tile) {
#ifdef HOPPER_WGMMA
#pragma unroll
    for (int ks = 0; ks < D / 16; ks++) {
        const uint64_t a = descriptor(q_tile + (ks >> 2) * BM * 128 + (ks & 3) * 32, 16, 1024);
        const uint64_t b = descriptor(k_tile + (ks >> 2) * BN * 128 + (ks & 3) * 32, 16, 1024);
        if constexpr (BN == 128) Wgmma<T>::ss128(s, a, b, ks > 0);
        else Wgmma<T>::ss64(s, a, b, ks > 0);
    }
#endif
}

// O (m64 × D) += P·V (the backward's dV += Pᵀ·dO and dK += dSᵀ·Q alike): BN/16 k-steps over keys; V is N-major (D contiguous), a k-step of 16 keys is 2048 bytes, the
// next 64 columns of D are the next column block (leading byte offset BN·128), 8-key groups 1024 bytes apart.
template <typename T, int D, int BN>
__device__ __forceinline__ void accumulate_pv(float (&o)[D / 2], const uint32_t (&pa)[BN / 16][4], uint32_t v_tile) {
#ifdef HOPPER_WGMMA
#pragma unroll
    for (int ks = 0; ks < BN / 16; ks++) {
        const uint64_t b = descriptor(v_tile + ks * 2048, BN * 128, 1024);
        if constexpr (D == 128) Wgmma<T>::rs128(o, pa[ks], b);
        else Wgmma<T>::rs64(o, pa[ks], b);
    }
#endif
}


// P as the register A operand: k-step ks covers keys 16·ks … (the S n-tiles 2·ks and 2·ks + 1)
template <typename T, int BN>
__device__ __forceinline__ void pack_p(uint32_t (&pa)[BN / 16][4], const float (&sc)[BN / 2]) {
#pragma unroll
    for (int ks = 0; ks < BN / 16; ks++) {
#pragma unroll
        for (int j = 0; j < 4; j++) pa[ks][j] = Pack2<T>::pack(sc[8 * ks + 2 * j], sc[8 * ks + 2 * j + 1]);
    }
}

// The forward's overlapped schedule: the scores of tile t + 1 are issued before P(t)·V(t), and their softmax runs
// while the tensor cores do P(t)·V(t) (FlashAttention-3's intra-warpgroup pipelining). One asynchronous product each, its accumulator (and A) registers fenced on both sides so the compiler keeps every
// other access of them outside the window in which the tensor cores own them (else ptxas serialises the wgmmas).
template <typename T, int D, int BM, int BN>
__device__ __forceinline__ void issue_scores(float (&sc)[BN / 2], uint32_t q_tile, uint32_t k_tile) {
    fence_regs(sc);
    wgmma_fence();
    scores<T, D, BM, BN>(sc, q_tile, k_tile);
    wgmma_commit();
    fence_regs(sc);
}
template <typename T, int D, int BN>
__device__ __forceinline__ void issue_pv(float (&o)[D / 2], uint32_t (&pa)[BN / 16][4], uint32_t v_tile) {
    fence_regs(o);
    fence_regs(pa);
    wgmma_fence();
    accumulate_pv<T, D, BN>(o, pa, v_tile);
    wgmma_commit();
    fence_regs(o);
    fence_regs(pa);
}

} // namespace hopper

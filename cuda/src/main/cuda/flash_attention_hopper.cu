// FlashAttention forward for Hopper (sm_90a): the tile products on warpgroup MMA (wgmma.mma_async), which reads its
// B operand (and for Q·Kᵀ its A operand) straight from shared memory through 64-bit matrix descriptors, instead of
// mma.sync fed by ldmatrix. One block per (query tile of 64·WG rows, query head, sequence); each of its WG warpgroups
// owns 64 query rows. Q is copied to shared memory once; key/value tiles of BN rows stream through double-buffered
// shared memory (cp.async, 16-byte chunks, zero-filled past the sequence end). Per key tile each warpgroup computes
// S = Q·Kᵀ (SS wgmma, both operands K-major), masks it, runs the online softmax in registers (exp2 with
// scale·log2 e folded in, as flash_attention_forward.cu), packs P to 16 bits in registers and adds P·V (RS wgmma: P
// is the register A operand, V the shared-memory B operand read transposed, i.e. N-major). Two schedules: plain (each
// product waited for in turn) and overlapped (S(t+1) issued with P(t)·V(t), its softmax running while the tensor
// cores do P(t)·V(t)). A warp-specialised ping-pong schedule (a copying warpgroup on mbarriers, two computing
// warpgroups taking turns) was measured about 15% slower (docs/PERF.md, "Hopper forward") and is not kept.
// Writes O and the F32 logsumexp exactly as flash_fwd_* (a row that sees no key gets zeros and +∞), so the mma.sync
// backward reads them. No dropout, block-sparse layout or sequence table: the host keeps those on flash_fwd_*.
//
// Shared-memory layout: every tile is stored as D/64 column blocks of rows × 64 elements (128 bytes a row), each
// 16-byte chunk c of row r at chunk c ^ (r & 7): the 128-byte swizzle that the descriptors declare (layout type 1),
// which the hardware applies to address bits [4, 7) ^ [7, 10), so every tile starts 1024-byte aligned.
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
// a 128-byte row, or to the next column block every 4 steps.
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

// O (m64 × D) += P·V: BN/16 k-steps over keys; V is N-major (D contiguous), a k-step of 16 keys is 2048 bytes, the
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

// Sets the scores of (row, key) pairs the mask hides to −∞; sc holds rows row_a, row_a + 8 and keys j0 + 8n + 2t (+1).
template <int BN>
__device__ __forceinline__ void mask_tile(float (&sc)[BN / 2], const MaskRule& mask, int64_t row_a, int64_t j0, int t) {
#pragma unroll
    for (int n = 0; n < BN / 8; n++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int64_t i = row_a + (e >> 1) * 8;
            const int64_t j = j0 + n * 8 + 2 * t + (e & 1);
            if (!mask.visible(i, j)) sc[4 * n + e] = -INFINITY;
        }
    }
}

// Online softmax of one score tile in log2 units: sc becomes p = 2^(s·scale·log2 e − m) with m the new running max;
// the row sums absorb the tile, and corr (the factor O must be scaled by) is returned per row half.
template <int BN>
__device__ __forceinline__ void softmax_tile(float (&sc)[BN / 2], float (&mrow)[2], float (&lrow)[2], float (&corr)[2],
                                             float sl2) {
#pragma unroll
    for (int r = 0; r < 2; r++) {
        float mx = -INFINITY;
#pragma unroll
        for (int n = 0; n < BN / 8; n++) mx = fmaxf(mx, fmaxf(sc[4 * n + 2 * r], sc[4 * n + 2 * r + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        mx = fmaxf(mrow[r], mx * sl2);
        const float base = mx == -INFINITY ? 0.f : mx;
        corr[r] = fast_exp2(mrow[r] - base);
        mrow[r] = mx;
        float sum = 0.f;
#pragma unroll
        for (int n = 0; n < BN / 8; n++) {
            sc[4 * n + 2 * r] = fast_exp2(fmaf(sc[4 * n + 2 * r], sl2, -base));
            sc[4 * n + 2 * r + 1] = fast_exp2(fmaf(sc[4 * n + 2 * r + 1], sl2, -base));
            sum += sc[4 * n + 2 * r] + sc[4 * n + 2 * r + 1];
        }
        lrow[r] = lrow[r] * corr[r] + sum;
    }
}

template <int D>
__device__ __forceinline__ void rescale(float (&o)[D / 2], const float (&corr)[2]) {
#pragma unroll
    for (int a = 0; a < D / 8; a++) {
        o[4 * a] *= corr[0];
        o[4 * a + 1] *= corr[0];
        o[4 * a + 2] *= corr[1];
        o[4 * a + 3] *= corr[1];
    }
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

// OVERLAP: the scores of tile t + 1 are issued before P(t)·V(t), and their softmax runs while the tensor cores do
// P(t)·V(t) (FlashAttention-3's intra-warpgroup pipelining); otherwise each product is waited for in turn.
// One asynchronous product each, its accumulator (and A) registers fenced on both sides so the compiler keeps every
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

template <typename T, int D, int BN, int WG, bool OVERLAP>
__device__ __forceinline__ void forward(const FlashParams& p) {
#ifdef HOPPER_WGMMA
    constexpr int BM = 64 * WG;
    constexpr int THREADS = 128 * WG;
    constexpr int TILE_Q = BM * D * 2;
    constexpr int TILE_KV = BN * D * 2;
    extern __shared__ __align__(1024) unsigned char smem_raw[];
    // swizzled tiles must start 1024-byte aligned (the host adds 1024 bytes of slack)
    const uint32_t base = (smem_u32(smem_raw) + 1023) & ~1023u;
    const uint32_t sQ = base;
    const uint32_t sK = sQ + TILE_Q;           // [2] tiles
    const uint32_t sV = sK + 2 * TILE_KV;      // [2] tiles

    const int s = blockIdx.z;
    const int h = blockIdx.y;
    const int mb = gridDim.x - 1 - blockIdx.x; // heaviest (causal) tiles first
    const SeqInfo si = seq_info(p, s);
    const int64_t i0 = (int64_t) mb * BM;
    if (i0 >= si.nq) return;
    const int hk = (int) (h / (p.hq / p.hkv));
    const MaskRule mask{si.nk - si.nq, si.nkv, p.window_left, p.window_right, LayoutMask{nullptr, 1, 0, 0}};
    const int64_t rows_here = min((int64_t) BM, si.nq - i0);

    const int wg = threadIdx.x >> 7;          // warpgroup: rows wg·64 …
    const int warp = (threadIdx.x >> 5) & 3;  // warp in the warpgroup: 16 rows
    const int lane = threadIdx.x & 31;
    const int g = lane >> 2;
    const int t = lane & 3;

    const T* gQ = reinterpret_cast<const T*>(p.q) + si.b * p.q_sb + (si.q0 + i0) * p.q_sn + h * p.q_sh;
    const T* gK = reinterpret_cast<const T*>(p.k) + si.b * p.k_sb + si.k0 * p.k_sn + hk * p.k_sh;
    const T* gV = reinterpret_cast<const T*>(p.v) + si.b * p.v_sb + si.k0 * p.v_sn + hk * p.v_sh;

    const int64_t kfirst = mask.first_key(i0);
    const int64_t kend = mask.end_key(i0 + rows_here - 1);
    const int tfirst = (int) (kfirst / BN);
    const int tend = kend > kfirst ? (int) ((kend + BN - 1) / BN) : tfirst;

    float o[D / 2];
#pragma unroll
    for (int a = 0; a < D / 2; a++) o[a] = 0.f;
    float mrow[2] = {-INFINITY, -INFINITY};
    float lrow[2] = {0.f, 0.f};
    float corr[2];
    const float sl2 = (float) p.scale_log2;
    const int64_t row_a = i0 + wg * 64 + warp * 16 + g; // this thread's rows: row_a, row_a + 8
    // this warpgroup's 64 rows of the Q tile (a multiple of 1024 bytes into each column block)
    const uint32_t q_wg = sQ + wg * 64 * 128;
    // whether tile kt needs the element mask (some (row, key) of it hidden)
    auto masked = [&](int kt) {
        const int64_t j0 = (int64_t) kt * BN;
        return !(mask.first_key(i0 + BM - 1) <= j0 && mask.end_key(i0) >= j0 + BN);
    };
    auto load_k = [&](int kt, int buf) {
        const int64_t j = (int64_t) kt * BN;
        load_tile<D, BN, THREADS>(sK + buf * TILE_KV, gK + j * p.k_sn, p.k_sn, si.nk - j);
    };
    auto load_v = [&](int kt, int buf) {
        const int64_t j = (int64_t) kt * BN;
        load_tile<D, BN, THREADS>(sV + buf * TILE_KV, gV + j * p.v_sn, p.v_sn, si.nk - j);
    };

    if (tend > tfirst && !OVERLAP) {
        // commit groups: (Q, K0), V0; per tile K(t+1) after the scores and V(t+1) after P·V
        load_tile<D, BM, THREADS>(sQ, gQ, p.q_sn, rows_here);
        load_k(tfirst, 0);
        cp_async_commit();
        load_v(tfirst, 0);
        cp_async_commit();
        for (int kt = tfirst; kt < tend; kt++) {
            const int buf = (kt - tfirst) & 1;
            cp_async_wait<1>(); // K(t) has landed
            fence_async_shared();
            __syncthreads();
            if (kt + 1 < tend) load_k(kt + 1, buf ^ 1);
            cp_async_commit();
            float sc[BN / 2]; // element (row g + 8·(e >> 1), key 8n + 2t + (e & 1)) at sc[4n + e]
            wgmma_fence();
            scores<T, D, BM, BN>(sc, q_wg, sK + buf * TILE_KV);
            wgmma_commit();
            wgmma_wait<0>();
            fence_regs(sc);
            if (masked(kt)) mask_tile<BN>(sc, mask, row_a, (int64_t) kt * BN, t);
            softmax_tile<BN>(sc, mrow, lrow, corr, sl2);
            rescale<D>(o, corr);
            uint32_t pa[BN / 16][4];
            pack_p<T, BN>(pa, sc);
            cp_async_wait<1>(); // V(t) has landed
            fence_async_shared();
            __syncthreads();
            wgmma_fence();
            accumulate_pv<T, D, BN>(o, pa, sV + buf * TILE_KV);
            wgmma_commit();
            wgmma_wait<0>();
            fence_regs(o);
            fence_regs(pa); // the A registers must stay untouched until the product has read them
            if (kt + 1 < tend) load_v(kt + 1, buf ^ 1);
            cp_async_commit();
        }
    }
    if (tend > tfirst && OVERLAP) {
        // commit groups: (Q, K0), V0, K1; then per tile (V(t+1), K(t+2)) once tile t's operands are in place
        load_tile<D, BM, THREADS>(sQ, gQ, p.q_sn, rows_here);
        load_k(tfirst, 0);
        cp_async_commit();
        load_v(tfirst, 0);
        cp_async_commit();
        if (tfirst + 1 < tend) load_k(tfirst + 1, 1);
        cp_async_commit();
        cp_async_wait<2>(); // Q, K0
        fence_async_shared();
        __syncthreads();
        uint32_t pa[BN / 16][4];
        float sc[BN / 2];
        issue_scores<T, D, BM, BN>(sc, q_wg, sK);
        wgmma_wait<0>();
        fence_regs(sc);
        if (masked(tfirst)) mask_tile<BN>(sc, mask, row_a, (int64_t) tfirst * BN, t);
        softmax_tile<BN>(sc, mrow, lrow, corr, sl2);
        pack_p<T, BN>(pa, sc);
        for (int kt = tfirst; kt + 1 < tend; kt++) {
            const int buf = (kt - tfirst) & 1;
            cp_async_wait<0>(); // V(t), K(t+1)
            fence_async_shared();
            __syncthreads(); // every warpgroup is past tile t − 1's products: its buffers are free
            if (kt + 1 < tend) load_v(kt + 1, buf ^ 1);
            if (kt + 2 < tend) load_k(kt + 2, buf);
            cp_async_commit();
            issue_scores<T, D, BM, BN>(sc, q_wg, sK + (buf ^ 1) * TILE_KV);
            issue_pv<T, D, BN>(o, pa, sV + buf * TILE_KV);
            wgmma_wait<1>(); // the scores; P(t)·V(t) may still run
            fence_regs(sc);
            if (masked(kt + 1)) mask_tile<BN>(sc, mask, row_a, (int64_t) (kt + 1) * BN, t);
            softmax_tile<BN>(sc, mrow, lrow, corr, sl2);
            wgmma_wait<0>();
            fence_regs(o);
            fence_regs(pa);
            rescale<D>(o, corr);
            pack_p<T, BN>(pa, sc);
        }
        cp_async_wait<0>(); // the last V
        fence_async_shared();
        __syncthreads();
        issue_pv<T, D, BN>(o, pa, sV + ((tend - 1 - tfirst) & 1) * TILE_KV);
        wgmma_wait<0>();
        fence_regs(o);
        fence_regs(pa);
    }

    // epilogue: O = o / l, lse = max·scale + ln l (as flash_fwd_*)
    T* gO = reinterpret_cast<T*>(p.o) + si.b * p.o_sb + si.q0 * p.o_sn + h * p.o_sh;
    float* gL = reinterpret_cast<float*>(p.lse) + (si.b * p.hq + h) * p.nq_rows + si.q0;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        float l = lrow[r];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        const int64_t i = row_a + r * 8;
        if (i >= si.nq) continue;
        const float inv = l > 0.f ? 1.f / l : 0.f;
        T* orow = gO + i * p.o_sn;
#pragma unroll
        for (int a = 0; a < D / 8; a++) {
            *reinterpret_cast<uint32_t*>(orow + a * 8 + 2 * t) =
                    Pack2<T>::pack(o[4 * a + 2 * r] * inv, o[4 * a + 2 * r + 1] * inv);
        }
        if (t == 0) gL[i] = l > 0.f ? (mrow[r] + log2f(l)) * FLASH_LN2 : INFINITY;
    }
#endif
}

} // namespace hopper

#define HOPPER_FWD(NAME, T, D, BN, WG, OVERLAP, MINB)                                                   \
    extern "C" __global__ void __launch_bounds__(128 * WG, MINB) NAME(const FlashParams p) {           \
        hopper::forward<T, D, BN, WG, OVERLAP>(p);                                                      \
    }

// name: flash_fwd_hopper_<dtype>_d<D>; 128·WG threads, shared memory (64·WG + 4·BN)·D·2 + 1024 bytes. The host
// (HopperFlashForward) must use these tile sizes. Chosen on an H200 (docs/PERF.md, "Hopper forward"): d64 one
// warpgroup, 64-key tiles, three blocks an SM, plain schedule; d128 two warpgroups, 128-key tiles, one block an SM,
// the scores of the next tile overlapping P·V.
HOPPER_FWD(flash_fwd_hopper_bf16_d64, __nv_bfloat16, 64, 64, 1, false, 3)
HOPPER_FWD(flash_fwd_hopper_f16_d64, __half, 64, 64, 1, false, 3)
HOPPER_FWD(flash_fwd_hopper_bf16_d128, __nv_bfloat16, 128, 128, 2, true, 1)
HOPPER_FWD(flash_fwd_hopper_f16_d128, __half, 128, 128, 2, true, 1)
// tuning variants (bf16 only; compared by cuda/src/test/python/hopper_harness.py, figures in docs/PERF.md):
// _w<WG>b<BN> plain schedule, _o the intra-warpgroup overlap
HOPPER_FWD(flash_fwd_hopper_bf16_d64_w1b128, __nv_bfloat16, 64, 128, 1, false, 2)
HOPPER_FWD(flash_fwd_hopper_bf16_d64_w2b128, __nv_bfloat16, 64, 128, 2, false, 1)
HOPPER_FWD(flash_fwd_hopper_bf16_d64_w2b128o, __nv_bfloat16, 64, 128, 2, true, 1)
HOPPER_FWD(flash_fwd_hopper_bf16_d128_w1b64, __nv_bfloat16, 128, 64, 1, false, 2)
HOPPER_FWD(flash_fwd_hopper_bf16_d128_w2b128, __nv_bfloat16, 128, 128, 2, false, 1)

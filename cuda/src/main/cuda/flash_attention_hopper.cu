// FlashAttention forward for Hopper (sm_90a): the tile products on warpgroup MMA (wgmma.mma_async), which reads its
// B operand (and for Q·Kᵀ its A operand) straight from shared memory through 64-bit matrix descriptors, instead of
// mma.sync fed by ldmatrix. One block per (query tile of 64·WG rows, query head, sequence); each of its WG warpgroups
// owns 64 query rows. Q is copied to shared memory once; key/value tiles of BN rows stream through double-buffered
// shared memory (cp.async, 16-byte chunks, zero-filled past the sequence end). Per key tile each warpgroup computes
// S = Q·Kᵀ (SS wgmma, both operands K-major), masks it, runs the online softmax in registers (exp2 with
// scale·log2 e folded in, as flash_attention_forward.cu), packs P to 16 bits in registers and adds P·V (RS wgmma: P
// is the register A operand, V the shared-memory B operand read transposed, i.e. N-major). Two schedules: plain (each
// product waited for in turn) and overlapped (S(t+1) issued with P(t)·V(t), its softmax running while the tensor
// cores do P(t)·V(t)). A warp-specialised ping-pong schedule with cp.async (a copying warpgroup on mbarriers, two
// computing warpgroups taking turns) was measured about 15% slower (docs/PERF.md, "Hopper forward") and is not kept;
// the one with TMA bulk tensor copies is flash_attention_hopper_tma.cu.
// Writes O and the F32 logsumexp exactly as flash_fwd_* (a row that sees no key gets zeros and +∞), so the mma.sync
// backward reads them. No dropout, block-sparse layout or sequence table: the host keeps those on flash_fwd_*.
// The wgmma building blocks and the shared-memory layout are in flash_attention_hopper.cuh, the mask, softmax and
// epilogue in flash_attention_hopper_forward.cuh; flash_attention_hopper_tma.cu is the TMA warp-specialised variant.
#include "flash_attention_hopper_forward.cuh"

namespace hopper {

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

    QueryTile qt;
    if (!query_tile<BM, BN>(p, qt)) return;
    const SeqInfo& si = qt.si;
    const int h = qt.h;
    const int hk = qt.hk;
    const int64_t i0 = qt.i0;
    const MaskRule& mask = qt.mask;

    const int wg = threadIdx.x >> 7;          // warpgroup: rows wg·64 …
    const int warp = (threadIdx.x >> 5) & 3;  // warp in the warpgroup: 16 rows
    const int lane = threadIdx.x & 31;
    const int g = lane >> 2;
    const int t = lane & 3;

    const T* gQ = reinterpret_cast<const T*>(p.q) + si.b * p.q_sb + (si.q0 + i0) * p.q_sn + h * p.q_sh;
    const T* gK = reinterpret_cast<const T*>(p.k) + si.b * p.k_sb + si.k0 * p.k_sn + hk * p.k_sh;
    const T* gV = reinterpret_cast<const T*>(p.v) + si.b * p.v_sb + si.k0 * p.v_sn + hk * p.v_sh;

    const int tfirst = qt.tfirst;
    const int tend = qt.tend;

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
        load_tile<D, BM, THREADS>(sQ, gQ, p.q_sn, qt.rows);
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
        load_tile<D, BM, THREADS>(sQ, gQ, p.q_sn, qt.rows);
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

    store_output<T, D>(p, si, h, row_a, t, o, mrow, lrow);
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

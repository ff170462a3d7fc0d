// FlashAttention backward for Hopper (sm_90a) on warpgroup MMA (wgmma), the counterpart of the mma.sync flash_bwd_fused_*
// of flash_attention_backward.cu: one block per (key tile of BN = 64·WG keys, key/value head, sequence), each of its
// WG warpgroups owning 64 keys. K and V stay in shared memory; the query tiles of BM rows of every query head of the
// group stream through double-buffered shared memory (Q, dO, and their lse and D = rowsum(dO ∘ O) rows; cp.async,
// zero-filled past the sequence end). Per query tile each warpgroup computes
//   Sᵀ = K·Qᵀ and dPᵀ = V·dOᵀ            (SS wgmma, both operands K-major)
//   Pᵀ = exp(Sᵀ − L), dSᵀ = Pᵀ ∘ (dPᵀ − D) (registers; masked elements get P = 0)
//   dV += Pᵀ·dO and dK += dSᵀ·Q          (RS wgmma: Pᵀ and dSᵀ packed to 16 bits as the register A operand)
// and writes its dSᵀ rows to shared memory, from which the block computes dQ (BM × D) = dS·K (SS wgmma, A and B
// read MN-major) split into m64n64 blocks over the warpgroups, and adds it to the F32 (B, Nq, Hq, D) buffer of
// dQ / scale with float2 atomics; flash_bwd_dq_convert_* (flash_attention_backward.cu) then scales it into dq.
// PIPE: once a tile's dV and dK products have read Pᵀ and dSᵀ, the next tile's Sᵀ and dPᵀ are issued, so they run on
// the tensor cores while this tile's dQ atomics and the block barrier go on (measured 3-8% faster at n ≥ 2k).
// Staging dQ in shared memory for the copy engine's bulk reduction (cp.reduce.async.bulk) in place of the atomics
// measured no faster (docs/PERF.md, "Hopper backward") and is not kept.
// dK (times the scale) and dV are written once at the end. Same FlashParams and outputs as flash_bwd_fused_*.
// Leaves out (the host keeps them on the mma.sync kernels): dropout, sliding windows, block-sparse layouts, key
// lengths, packed sequences, and the deterministic mode (dQ without atomics).
#include "flash_attention_hopper.cuh"

namespace hopper {

// dQ block (m64 queries × n64 of D) += dS·K over the BN keys: dSᵀ (BN rows of BM queries) and K (BN rows of D) are
// both MN-major operands here (the contiguous axis is M, resp. N); 16 keys a k-step = two 8-row groups = 2048 bytes.
template <typename T, int BN>
__device__ __forceinline__ void dq_block(float (&dq)[32], uint32_t ds_block, uint32_t k_block) {
#ifdef HOPPER_WGMMA
#pragma unroll
    for (int ks = 0; ks < BN / 16; ks++) {
        const uint64_t a = descriptor(ds_block + ks * 2048, BN * 128, 1024);
        const uint64_t b = descriptor(k_block + ks * 2048, BN * 128, 1024);
        Wgmma<T>::ss64_mn(dq, a, b, ks > 0);
    }
#endif
}

template <typename T, int D, int BM, int WG, bool PIPE>
__device__ __forceinline__ void backward(const FlashParams& p) {
#ifdef HOPPER_WGMMA
    constexpr int BN = 64 * WG;
    constexpr int THREADS = 128 * WG;
    constexpr int TILE_KV = BN * D * 2;
    constexpr int TILE_Q = BM * D * 2;
    constexpr int TILE_S = BN * BM * 2;
    constexpr int MB = BM / 64;            // m64 row blocks of the dQ tile
    constexpr int QB = MB * (D / 64);      // its m64n64 blocks, dealt out to the warpgroups
    static_assert(BM % 64 == 0 && QB % WG == 0, "the dQ tile must split evenly over the warpgroups");
    static_assert(!PIPE || QB == WG, "PIPE: one dQ block a warpgroup");
    extern __shared__ __align__(1024) unsigned char smem_raw[];
    // swizzled tiles must start 1024-byte aligned (the host adds 1024 bytes of slack)
    const uint32_t base = (smem_u32(smem_raw) + 1023) & ~1023u;
    unsigned char* const gbase = smem_raw + (base - smem_u32(smem_raw));
    const uint32_t sK = base;
    const uint32_t sV = sK + TILE_KV;
    const uint32_t sQ = sV + TILE_KV;      // [2] query tiles
    const uint32_t sO = sQ + 2 * TILE_Q;   // [2] dO tiles
    const uint32_t sS = sO + 2 * TILE_Q;   // dSᵀ: BN rows (keys) of BM queries
    const uint32_t sL = sS + TILE_S;       // [2][BM] F32 lse
    const uint32_t sD = sL + 2 * BM * 4;   // [2][BM] F32 D
    const float* const lse_rows = reinterpret_cast<const float*>(gbase + (sL - base));
    const float* const delta_rows = reinterpret_cast<const float*>(gbase + (sD - base));

    const int s = blockIdx.z;
    const int hk = blockIdx.y;
    const int nb = blockIdx.x; // causal: the first key tiles see the most query tiles, and start first
    const SeqInfo si = seq_info(p, s);
    const int64_t j0 = (int64_t) nb * BN;
    if (j0 >= si.nk) return;
    const MaskRule mask{si.nk - si.nq, si.nkv, p.window_left, p.window_right, LayoutMask{nullptr, 1, 0, 0}};
    const int64_t keys_here = min((int64_t) BN, si.nk - j0);
    const int group = (int) (p.hq / p.hkv);
    const int wg = threadIdx.x >> 7;
    const int warp = (threadIdx.x >> 5) & 3;
    const int lane = threadIdx.x & 31;
    const int g = lane >> 2;
    const int t = lane & 3;

    const T* gK = reinterpret_cast<const T*>(p.k) + si.b * p.k_sb + (si.k0 + j0) * p.k_sn + hk * p.k_sh;
    const T* gV = reinterpret_cast<const T*>(p.v) + si.b * p.v_sb + (si.k0 + j0) * p.v_sn + hk * p.v_sh;

    // query tiles that see some key of this tile (causal: i ≥ j − off)
    int64_t qfirst = 0;
    if (p.window_right >= 0) qfirst = max((int64_t) 0, j0 - mask.off - p.window_right);
    int64_t qend = j0 >= si.nkv ? qfirst : si.nq;
    const int tfirst = (int) (qfirst / BM);
    const int tiles = qend > qfirst ? (int) ((qend + BM - 1) / BM) - tfirst : 0;
    const int total = group * tiles; // (query head, query tile) pairs, head-major

    float dk[D / 2], dv[D / 2];
#pragma unroll
    for (int a = 0; a < D / 2; a++) dk[a] = dv[a] = 0.f;
    const float sl2 = (float) p.scale_log2;
    const int64_t key_a = j0 + wg * 64 + warp * 16 + g; // this thread's keys: key_a, key_a + 8
    const int key_row = wg * 64 + warp * 16 + g;        // ... as rows of the tiles
    const uint32_t k_wg = sK + wg * 64 * 128;          // this warpgroup's 64 keys as the A operand
    const uint32_t v_wg = sV + wg * 64 * 128;
    float* const dq_accum = reinterpret_cast<float*>(p.dq_accum);

    auto head_of = [&](int it) { return hk * group + it / tiles; };
    auto row_of = [&](int it) { return (int64_t) (tfirst + it % tiles) * BM; };
    auto issue = [&](int it, int buf) {
        const int hh = head_of(it);
        const int64_t qi0 = row_of(it);
        const T* gQ = reinterpret_cast<const T*>(p.q) + si.b * p.q_sb + (si.q0 + qi0) * p.q_sn + hh * p.q_sh;
        const T* gO = reinterpret_cast<const T*>(p.dout) + si.b * p.do_sb + (si.q0 + qi0) * p.do_sn + hh * p.do_sh;
        load_tile<D, BM, THREADS>(sQ + buf * TILE_Q, gQ, p.q_sn, si.nq - qi0);
        load_tile<D, BM, THREADS>(sO + buf * TILE_Q, gO, p.do_sn, si.nq - qi0);
        const int64_t stat = (si.b * p.hq + hh) * p.nq_rows + si.q0 + qi0;
        // rows past the sequence read as 0: their Q and dO are zero too, so their P·dO and dS·Q terms vanish
        for (int r = threadIdx.x; r < BM; r += THREADS) {
            const bool ok = qi0 + r < si.nq;
            cp_async4(sL + (buf * BM + r) * 4, reinterpret_cast<const float*>(p.lse) + (ok ? stat + r : 0), ok);
            cp_async4(sD + (buf * BM + r) * 4, reinterpret_cast<const float*>(p.delta) + (ok ? stat + r : 0), ok);
        }
    };

    // Sᵀ and dPᵀ (64 keys × BM queries a warpgroup): element (key key_row + 8·(e >> 1), query 8n + 2t + (e & 1)) at
    // [4n + e]; with PIPE they carry over: tile it + 1's products are issued at the end of tile it
    float st[BM / 2], dpt[BM / 2];
    auto issue_scores_of = [&](int buf) {
        fence_regs(st);
        fence_regs(dpt);
        wgmma_fence();
        scores<T, D, BN, BM>(st, k_wg, sQ + buf * TILE_Q);
        if (!PIPE) wgmma_commit(); // PIPE: one group (ptxas serialises when tile t's dQ is read under two)
        scores<T, D, BN, BM>(dpt, v_wg, sO + buf * TILE_Q);
        wgmma_commit();
        fence_regs(st);
        fence_regs(dpt);
    };
    if (total > 0) {
        load_tile<D, BN, THREADS>(sK, gK, p.k_sn, keys_here);
        load_tile<D, BN, THREADS>(sV, gV, p.v_sn, keys_here);
        issue(0, 0);
        cp_async_commit();
        if (PIPE) {
            cp_async_wait<0>();
            fence_async_shared();
            __syncthreads();
            if (1 < total) issue(1, 1);
            cp_async_commit();
            issue_scores_of(0);
        }
        for (int it = 0; it < total; it++) {
            const int buf = it & 1;
            if (!PIPE) {
                cp_async_wait<0>(); // tile it (and K, V) landed
                fence_async_shared();
                __syncthreads(); // ... for every thread; every warpgroup is done with tile it − 1's buffers and dSᵀ
                if (it + 1 < total) issue(it + 1, buf ^ 1);
                cp_async_commit();
                issue_scores_of(buf);
            }
            const int hh = head_of(it);
            const int64_t qi0 = row_of(it);
            const uint32_t q_t = sQ + buf * TILE_Q;
            const uint32_t o_t = sO + buf * TILE_Q;
            const float* l_t = lse_rows + buf * BM;
            const float* d_t = delta_rows + buf * BM;

            if (PIPE) wgmma_wait<0>(); // Sᵀ and dPᵀ, issued a tile ago
            else wgmma_wait<1>();      // Sᵀ; dPᵀ may still run
            fence_regs(st);
            const bool full = qi0 + BM <= si.nq && mask.first_key(qi0 + BM - 1) <= j0 && mask.end_key(qi0) >= j0 + BN;
            if (!full) {
#pragma unroll
                for (int n = 0; n < BM / 8; n++)
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        const int64_t i = qi0 + n * 8 + 2 * t + (e & 1);
                        if (!(i < si.nq && mask.visible(i, key_a + (e >> 1) * 8))) st[4 * n + e] = -INFINITY;
                    }
            }
#pragma unroll
            for (int n = 0; n < BM / 8; n++) {
                const float2 l = *reinterpret_cast<const float2*>(l_t + n * 8 + 2 * t);
                const float l0 = l.x * FLASH_LOG2E, l1 = l.y * FLASH_LOG2E;
#pragma unroll
                for (int e = 0; e < 4; e++) st[4 * n + e] = fast_exp2(fmaf(st[4 * n + e], sl2, -((e & 1) ? l1 : l0)));
            }
            wgmma_wait<0>();
            fence_regs(dpt);
#pragma unroll
            for (int n = 0; n < BM / 8; n++) {
                const float2 dl = *reinterpret_cast<const float2*>(d_t + n * 8 + 2 * t);
#pragma unroll
                for (int e = 0; e < 4; e++) dpt[4 * n + e] = st[4 * n + e] * (dpt[4 * n + e] - ((e & 1) ? dl.y : dl.x));
            }
            uint32_t pa[BM / 16][4], sa[BM / 16][4];
            pack_p<T, BM>(pa, st);
            pack_p<T, BM>(sa, dpt);
            // this thread's dSᵀ elements into the swizzled BN × BM tile: sa[ks][j] holds n-tile 2ks + (j >> 1), key
            // row + 8·(j & 1), queries 2t, 2t + 1
#pragma unroll
            for (int ks = 0; ks < BM / 16; ks++)
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    const int r = key_row + (j & 1) * 8;
                    const uint32_t at = sS + chunk_offset<BN>(r, 2 * ks + (j >> 1)) + 4 * t;
                    asm volatile("st.shared.u32 [%0], %1;\n" ::"r"(at), "r"(sa[ks][j]) : "memory");
                }
            fence_async_shared();
            // dV += Pᵀ·dO, dK += dSᵀ·Q
            fence_regs(dv);
            fence_regs(dk);
            fence_regs(pa);
            fence_regs(sa);
            wgmma_fence();
            accumulate_pv<T, D, BM>(dv, pa, o_t);
            accumulate_pv<T, D, BM>(dk, sa, q_t);
            wgmma_commit();
            fence_regs(dv);
            fence_regs(dk);
            fence_regs(pa);
            fence_regs(sa);
            if (PIPE) {
                cp_async_wait<0>(); // tile it + 1 landed (published by the barrier below)
                fence_async_shared();
            }
            __syncthreads(); // every warpgroup's dSᵀ rows are in shared memory
            // dQ: this warpgroup's m64n64 blocks of the BM × D tile; element (query 64·mb + 16·warp + g + 8r, column
            // 64·nbk + 8a + 2t (+1)) at dq[4a + 2r (+1)], added to global memory
            auto add_dq = [&](const float (&dq)[32], int mb, int nbk) {
#pragma unroll
                for (int r = 0; r < 2; r++) {
                    const int64_t i = qi0 + mb * 64 + warp * 16 + g + r * 8;
                    if (i >= si.nq) continue;
                    float* out = dq_accum + ((si.b * p.nq_rows + si.q0 + i) * p.hq + hh) * D + nbk * 64 + 2 * t;
#pragma unroll
                    for (int a = 0; a < 8; a++)
                        atomicAdd(reinterpret_cast<float2*>(out + a * 8),
                                  make_float2(dq[4 * a + 2 * r], dq[4 * a + 2 * r + 1]));
                }
            };
            if (PIPE) {
                // one dQ block a warpgroup; once dV and dK have read Pᵀ and dSᵀ, tile it + 1's Sᵀ and dPᵀ go to the
                // tensor cores and run while this tile's dQ is added to global memory. Issued unconditionally (a
                // wgmma on a divergent path makes ptxas serialise them all): after the last tile they read a stale
                // buffer and are discarded.
                float dq[32];
                fence_regs(dq);
                wgmma_fence();
                dq_block<T, BN>(dq, sS + (wg % MB) * BN * 128, sK + (wg / MB) * BN * 128);
                wgmma_commit();
                fence_regs(dq);
                wgmma_wait<1>();
                fence_regs(dv);
                fence_regs(dk);
                fence_regs(pa);
                fence_regs(sa);
                issue_scores_of(buf ^ 1);
                wgmma_wait<1>();
                fence_regs(dq);
                add_dq(dq, wg % MB, wg / MB);
            } else {
#pragma unroll
                for (int b = wg; b < QB; b += WG) {
                    float dq[32];
                    fence_regs(dq);
                    wgmma_fence();
                    dq_block<T, BN>(dq, sS + (b % MB) * BN * 128, sK + (b / MB) * BN * 128);
                    wgmma_commit();
                    wgmma_wait<0>();
                    fence_regs(dq);
                    add_dq(dq, b % MB, b / MB);
                }
            }
            if (!PIPE) {
                wgmma_wait<0>(); // dV and dK (their A registers stay untouched until then)
                fence_regs(dv);
                fence_regs(dk);
                fence_regs(pa);
                fence_regs(sa);
            }
            if (PIPE) {
                __syncthreads(); // every warpgroup is done with tile it's buffers and the dSᵀ tile
                if (it + 2 < total) issue(it + 2, buf);
                cp_async_commit();
            }
        }
        if (PIPE) {
            wgmma_wait<0>(); // the discarded products after the last tile
            fence_regs(st);
            fence_regs(dpt);
        }
    }

    T* gdK = reinterpret_cast<T*>(p.dk) + si.b * p.dk_sb + si.k0 * p.dk_sn + hk * p.dk_sh;
    T* gdV = reinterpret_cast<T*>(p.dv) + si.b * p.dv_sb + si.k0 * p.dv_sn + hk * p.dv_sh;
    const float scale = (float) p.scale;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int64_t j = key_a + r * 8;
        if (j >= si.nk) continue;
#pragma unroll
        for (int a = 0; a < D / 8; a++) {
            *reinterpret_cast<uint32_t*>(gdK + j * p.dk_sn + a * 8 + 2 * t) =
                    Pack2<T>::pack(dk[4 * a + 2 * r] * scale, dk[4 * a + 2 * r + 1] * scale);
            *reinterpret_cast<uint32_t*>(gdV + j * p.dv_sn + a * 8 + 2 * t) =
                    Pack2<T>::pack(dv[4 * a + 2 * r], dv[4 * a + 2 * r + 1]);
        }
    }
#endif
}

} // namespace hopper

#define HOPPER_BWD(NAME, T, D, BM, WG, PIPE, MINB)                                                      \
    extern "C" __global__ void __launch_bounds__(128 * WG, MINB) NAME(const FlashParams p) {           \
        hopper::backward<T, D, BM, WG, PIPE>(p);                                                        \
    }

// name: flash_bwd_hopper_<dtype>_d<D>; 128·WG threads (keys 64·WG), query tiles of BM rows; shared memory
// (2·64·WG + 4·BM)·D·2 + 64·WG·BM·2 + 16·BM + 1024 bytes. Chosen on an H200 (docs/PERF.md, "Hopper backward"):
// two warpgroups (128 keys), 128-query tiles at d64 and 64-query tiles at d128, PIPE.
// The host (HopperFlashBackward) must use these tile sizes.
HOPPER_BWD(flash_bwd_hopper_bf16_d64, __nv_bfloat16, 64, 128, 2, true, 1)
HOPPER_BWD(flash_bwd_hopper_f16_d64, __half, 64, 128, 2, true, 1)
HOPPER_BWD(flash_bwd_hopper_bf16_d128, __nv_bfloat16, 128, 64, 2, true, 1)
HOPPER_BWD(flash_bwd_hopper_f16_d128, __half, 128, 64, 2, true, 1)
// tuning variants (bf16 only; compared by cuda/src/test/python/hopper_bwd_harness.py): _plain each tile's products
// in turn (no PIPE)
HOPPER_BWD(flash_bwd_hopper_bf16_d64_plain, __nv_bfloat16, 64, 128, 2, false, 1)
HOPPER_BWD(flash_bwd_hopper_bf16_d128_plain, __nv_bfloat16, 128, 64, 2, false, 1)

// FlashAttention forward on tensor cores (FlashAttention-2's loop order): one block per (query tile of BM rows, query
// head, sequence); each of its WARPS warps owns 16 query rows, keeps them in registers as mma A fragments, and streams
// key/value tiles of BN rows through double-buffered shared memory (cp.async). Scores, the online softmax (row max and
// sum in registers, exp2 with scale·log2 e folded in) and P stay in registers; P is re-packed as the A operand of P·V.
// Writes O and the F32 logsumexp; a row that sees no key gets zeros and +∞ (AttentionSpec).
// Templates: element type, head dim, key tile, warps, dropout (Philox, keyed as CpuAttention). Masks (causal, window,
// key lengths, sequence ends) are run-time and cost nothing on tiles that are fully visible. Block-sparse: only the
// key tiles listed for the query tile are copied and computed.
#include "flash_attention.cuh"

template <typename T, int D, int BN, int WARPS, bool DROPOUT, bool SPARSE>
__device__ __forceinline__ void flash_forward(const FlashParams& p) {
    constexpr int BM = 16 * WARPS;
    constexpr int THREADS = 32 * WARPS;
    constexpr int KS = D / 16;   // k-slices of Q·Kᵀ
    constexpr int NT = BN / 8;   // key n-tiles of S
    constexpr int DT = D / 8;    // d n-tiles of O
    extern __shared__ __align__(128) unsigned char smem_raw[];
    T* sQ = reinterpret_cast<T*>(smem_raw);
    T* sK = sQ + BM * D;          // [2][BN][D]
    T* sV = sK + 2 * BN * D;      // [2][BN][D]

    QueryTile<T> qt;
    if (!query_tile<T, BM, BN, SPARSE>(p, qt)) return;
    const SeqInfo& si = qt.si;
    const MaskRule& mask = qt.mask;
    const int64_t i0 = qt.i0;
    const TileWalk& walk = qt.keys;

    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    const int g = lane >> 2;
    const int t = lane & 3;

    float acc[DT][4];
#pragma unroll
    for (int a = 0; a < DT; a++) acc[a][0] = acc[a][1] = acc[a][2] = acc[a][3] = 0.f;
    float mrow[2] = {-INFINITY, -INFINITY}; // running max of scaled log2 scores
    float lrow[2] = {0.f, 0.f};             // this thread's part of the row sums
    const float sl2 = (float) p.scale_log2;
    const float pdrop = (float) p.dropout_p;
    const uint32_t stream = (uint32_t) (qt.s * p.hq + qt.h);
    const int64_t row_a = i0 + warp * 16 + g; // this thread's two rows: row_a, row_a + 8

    if (walk.count > 0) {
        // commit groups: (Q, K0), V0, then per tile K(t+1) after the scores and V(t+1) after P·V, so each copy
        // overlaps the other half of the tile's work; t counts the walk's tiles, each names its key tile
        const int64_t jf = (int64_t) walk.tile(0) * BN;
        load_tile<D, BM, THREADS>(sQ, qt.q, p.q_sn, qt.rows);
        load_tile<D, BN, THREADS>(sK, qt.k + jf * p.k_sn, p.k_sn, si.nk - jf);
        cp_async_commit();
        load_tile<D, BN, THREADS>(sV, qt.v + jf * p.v_sn, p.v_sn, si.nk - jf);
        cp_async_commit();
        uint32_t qf[KS][4];
        for (int it = 0; it < walk.count; it++) {
            const int buf = it & 1;
            cp_async_wait<1>(); // K(t) has landed (V(t) may still be in flight)
            __syncthreads();
            if (it + 1 < walk.count) {
                const int64_t j1 = (int64_t) walk.tile(it + 1) * BN;
                load_tile<D, BN, THREADS>(sK + (buf ^ 1) * BN * D, qt.k + j1 * p.k_sn, p.k_sn, si.nk - j1);
            }
            cp_async_commit();
            if (it == 0) {
#pragma unroll
                for (int kk = 0; kk < KS; kk++) {
                    int r = warp * 16 + (lane & 15);
                    ldsm_x4(qf[kk], smem_u32(sQ + swz<D>(r, kk * 2 + (lane >> 4))));
                }
            }
            const T* k_t = sK + buf * BN * D;
            const T* v_t = sV + buf * BN * D;
            const int64_t j0 = (int64_t) walk.tile(it) * BN;

            // S = Q·Kᵀ (16 × BN per warp)
            float sc[NT][4];
#pragma unroll
            for (int n = 0; n < NT; n++) sc[n][0] = sc[n][1] = sc[n][2] = sc[n][3] = 0.f;
#pragma unroll
            for (int k2 = 0; k2 < KS / 2; k2++) {
#pragma unroll
                for (int n = 0; n < NT; n++) {
                    uint32_t b[4];
                    ldsm_x4(b, smem_u32(k_t + swz<D>(n * 8 + (lane & 7), k2 * 4 + (lane >> 3))));
                    mma16816<T>(sc[n], qf[2 * k2], b[0], b[1]);
                    mma16816<T>(sc[n], qf[2 * k2 + 1], b[2], b[3]);
                }
            }
            // mask, unless every (row, key) of the tile is visible
            const bool full = walk.covered(it) && mask.first_key(i0 + BM - 1) <= j0 && mask.end_key(i0) >= j0 + BN;
            if (!full) {
#pragma unroll
                for (int n = 0; n < NT; n++) {
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        int64_t i = row_a + (e >> 1) * 8;
                        int64_t j = j0 + n * 8 + 2 * t + (e & 1);
                        if (!mask.visible(i, j)) sc[n][e] = -INFINITY;
                    }
                }
            }
            // online softmax in log2 units: p = 2^(s·scale·log2 e − m)
#pragma unroll
            for (int r = 0; r < 2; r++) {
                float mx = -INFINITY;
#pragma unroll
                for (int n = 0; n < NT; n++) mx = fmaxf(mx, fmaxf(sc[n][2 * r], sc[n][2 * r + 1]));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                mx = fmaxf(mrow[r], mx * sl2);
                const float base = mx == -INFINITY ? 0.f : mx;
                const float corr = fast_exp2(mrow[r] - base);
                mrow[r] = mx;
                float sum = 0.f;
#pragma unroll
                for (int n = 0; n < NT; n++) {
                    sc[n][2 * r] = fast_exp2(fmaf(sc[n][2 * r], sl2, -base));
                    sc[n][2 * r + 1] = fast_exp2(fmaf(sc[n][2 * r + 1], sl2, -base));
                    sum += sc[n][2 * r] + sc[n][2 * r + 1];
                }
                lrow[r] = lrow[r] * corr + sum;
#pragma unroll
                for (int a = 0; a < DT; a++) {
                    acc[a][2 * r] *= corr;
                    acc[a][2 * r + 1] *= corr;
                }
            }
            if (DROPOUT) { // the row sums keep the undropped probabilities; O is rescaled by 1/(1 − p) at the end
#pragma unroll
                for (int n = 0; n < NT; n++) {
#pragma unroll
                    for (int r = 0; r < 2; r++) {
                        int64_t i = row_a + r * 8;
                        int64_t j = j0 + n * 8 + 2 * t;
                        bool k0, k1;
                        dropout_keep2((uint64_t) p.seed, stream, (uint64_t) (p.offset + i * si.nk + j), pdrop, k0, k1);
                        if (!k0) sc[n][2 * r] = 0.f;
                        if (!k1) sc[n][2 * r + 1] = 0.f;
                    }
                }
            }
            cp_async_wait<1>(); // V(t) has landed (K(t+1) may still be in flight)
            __syncthreads();
            mma_rows_by_tile<T, D, BN>(acc, sc, v_t, lane); // O += P·V
            if (it + 1 < walk.count) {
                const int64_t j1 = (int64_t) walk.tile(it + 1) * BN;
                load_tile<D, BN, THREADS>(sV + (buf ^ 1) * BN * D, qt.v + j1 * p.v_sn, p.v_sn, si.nk - j1);
            }
            cp_async_commit();
        }
    }

    // epilogue: O = acc / l (· 1/(1 − p)), lse = max·scale + ln l
    T* gO = reinterpret_cast<T*>(p.o) + si.b * p.o_sb + si.q0 * p.o_sn + qt.h * p.o_sh;
    float* gL = reinterpret_cast<float*>(p.lse) + (si.b * p.hq + qt.h) * p.nq_rows + si.q0;
    const float keep_scale = DROPOUT ? (float) (1.0 / (1.0 - p.dropout_p)) : 1.f;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        float l = lrow[r];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        const int64_t i = row_a + r * 8;
        if (i >= si.nq) continue;
        const float inv = l > 0.f ? keep_scale / l : 0.f;
        T* orow = gO + i * p.o_sn;
#pragma unroll
        for (int a = 0; a < DT; a++) {
            uint32_t v = Pack2<T>::pack(acc[a][2 * r] * inv, acc[a][2 * r + 1] * inv);
            *reinterpret_cast<uint32_t*>(orow + a * 8 + 2 * t) = v;
        }
        if (t == 0) gL[i] = l > 0.f ? (mrow[r] + log2f(l)) * FLASH_LN2 : INFINITY;
    }
}

// The same with MT row slices of 16 per warp (warp w owns rows w·16·MT …): each K/V fragment read from shared memory
// feeds MT products instead of one (half the ldmatrix traffic at MT = 2); Q is re-read from shared memory per tile.
template <typename T, int D, int BN, int WARPS, int MT, bool DROPOUT, bool SPARSE>
__device__ __forceinline__ void flash_forward_mt(const FlashParams& p) {
    constexpr int BM = 16 * WARPS * MT;
    constexpr int THREADS = 32 * WARPS;
    constexpr int KS = D / 16;
    constexpr int NT = BN / 8;
    constexpr int DT = D / 8;
    extern __shared__ __align__(128) unsigned char smem_raw[];
    T* sQ = reinterpret_cast<T*>(smem_raw);
    T* sK = sQ + BM * D;
    T* sV = sK + 2 * BN * D;

    QueryTile<T> qt;
    if (!query_tile<T, BM, BN, SPARSE>(p, qt)) return;
    const SeqInfo& si = qt.si;
    const MaskRule& mask = qt.mask;
    const int64_t i0 = qt.i0;
    const TileWalk& walk = qt.keys;

    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    const int g = lane >> 2;
    const int t = lane & 3;

    float acc[MT][DT][4];
    float mrow[MT][2], lrow[MT][2];
#pragma unroll
    for (int m = 0; m < MT; m++) {
#pragma unroll
        for (int a = 0; a < DT; a++) acc[m][a][0] = acc[m][a][1] = acc[m][a][2] = acc[m][a][3] = 0.f;
        mrow[m][0] = mrow[m][1] = -INFINITY;
        lrow[m][0] = lrow[m][1] = 0.f;
    }
    const float sl2 = (float) p.scale_log2;
    const float pdrop = (float) p.dropout_p;
    const uint32_t stream = (uint32_t) (qt.s * p.hq + qt.h);
    const int64_t row_w = i0 + warp * 16 * MT + g; // row of slice m: row_w + 16·m (+ 8)

    if (walk.count > 0) {
        const int64_t jf = (int64_t) walk.tile(0) * BN;
        load_tile<D, BM, THREADS>(sQ, qt.q, p.q_sn, qt.rows);
        load_tile<D, BN, THREADS>(sK, qt.k + jf * p.k_sn, p.k_sn, si.nk - jf);
        cp_async_commit();
        load_tile<D, BN, THREADS>(sV, qt.v + jf * p.v_sn, p.v_sn, si.nk - jf);
        cp_async_commit();
        for (int it = 0; it < walk.count; it++) {
            const int buf = it & 1;
            cp_async_wait<1>();
            __syncthreads();
            if (it + 1 < walk.count) {
                const int64_t j1 = (int64_t) walk.tile(it + 1) * BN;
                load_tile<D, BN, THREADS>(sK + (buf ^ 1) * BN * D, qt.k + j1 * p.k_sn, p.k_sn, si.nk - j1);
            }
            cp_async_commit();
            const T* k_t = sK + buf * BN * D;
            const T* v_t = sV + buf * BN * D;
            const int64_t j0 = (int64_t) walk.tile(it) * BN;

            float sc[MT][NT][4];
#pragma unroll
            for (int m = 0; m < MT; m++)
#pragma unroll
                for (int n = 0; n < NT; n++) sc[m][n][0] = sc[m][n][1] = sc[m][n][2] = sc[m][n][3] = 0.f;
#pragma unroll
            for (int k2 = 0; k2 < KS / 2; k2++) {
                uint32_t qa[MT][2][4];
#pragma unroll
                for (int m = 0; m < MT; m++) {
                    int r = warp * 16 * MT + m * 16 + (lane & 15);
                    ldsm_x4(qa[m][0], smem_u32(sQ + swz<D>(r, k2 * 4 + (lane >> 4))));
                    ldsm_x4(qa[m][1], smem_u32(sQ + swz<D>(r, k2 * 4 + 2 + (lane >> 4))));
                }
#pragma unroll
                for (int n = 0; n < NT; n++) {
                    uint32_t b[4];
                    ldsm_x4(b, smem_u32(k_t + swz<D>(n * 8 + (lane & 7), k2 * 4 + (lane >> 3))));
#pragma unroll
                    for (int m = 0; m < MT; m++) {
                        mma16816<T>(sc[m][n], qa[m][0], b[0], b[1]);
                        mma16816<T>(sc[m][n], qa[m][1], b[2], b[3]);
                    }
                }
            }
            const bool full = walk.covered(it) && mask.first_key(i0 + BM - 1) <= j0 && mask.end_key(i0) >= j0 + BN;
            if (!full) {
#pragma unroll
                for (int m = 0; m < MT; m++)
#pragma unroll
                    for (int n = 0; n < NT; n++)
#pragma unroll
                        for (int e = 0; e < 4; e++) {
                            int64_t i = row_w + m * 16 + (e >> 1) * 8;
                            int64_t j = j0 + n * 8 + 2 * t + (e & 1);
                            if (!mask.visible(i, j)) sc[m][n][e] = -INFINITY;
                        }
            }
#pragma unroll
            for (int m = 0; m < MT; m++) {
#pragma unroll
                for (int r = 0; r < 2; r++) {
                    float mx = -INFINITY;
#pragma unroll
                    for (int n = 0; n < NT; n++) mx = fmaxf(mx, fmaxf(sc[m][n][2 * r], sc[m][n][2 * r + 1]));
                    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                    mx = fmaxf(mrow[m][r], mx * sl2);
                    const float base = mx == -INFINITY ? 0.f : mx;
                    const float corr = fast_exp2(mrow[m][r] - base);
                    mrow[m][r] = mx;
                    float sum = 0.f;
#pragma unroll
                    for (int n = 0; n < NT; n++) {
                        sc[m][n][2 * r] = fast_exp2(fmaf(sc[m][n][2 * r], sl2, -base));
                        sc[m][n][2 * r + 1] = fast_exp2(fmaf(sc[m][n][2 * r + 1], sl2, -base));
                        sum += sc[m][n][2 * r] + sc[m][n][2 * r + 1];
                    }
                    lrow[m][r] = lrow[m][r] * corr + sum;
#pragma unroll
                    for (int a = 0; a < DT; a++) {
                        acc[m][a][2 * r] *= corr;
                        acc[m][a][2 * r + 1] *= corr;
                    }
                }
            }
            if (DROPOUT) {
#pragma unroll
                for (int m = 0; m < MT; m++)
#pragma unroll
                    for (int n = 0; n < NT; n++)
#pragma unroll
                        for (int r = 0; r < 2; r++) {
                            int64_t i = row_w + m * 16 + r * 8;
                            int64_t j = j0 + n * 8 + 2 * t;
                            bool k0, k1;
                            dropout_keep2((uint64_t) p.seed, stream, (uint64_t) (p.offset + i * si.nk + j), pdrop, k0,
                                          k1);
                            if (!k0) sc[m][n][2 * r] = 0.f;
                            if (!k1) sc[m][n][2 * r + 1] = 0.f;
                        }
            }
            cp_async_wait<1>();
            __syncthreads();
#pragma unroll
            for (int ks = 0; ks < BN / 16; ks++) {
                uint32_t a[MT][4];
#pragma unroll
                for (int m = 0; m < MT; m++) {
                    a[m][0] = Pack2<T>::pack(sc[m][2 * ks][0], sc[m][2 * ks][1]);
                    a[m][1] = Pack2<T>::pack(sc[m][2 * ks][2], sc[m][2 * ks][3]);
                    a[m][2] = Pack2<T>::pack(sc[m][2 * ks + 1][0], sc[m][2 * ks + 1][1]);
                    a[m][3] = Pack2<T>::pack(sc[m][2 * ks + 1][2], sc[m][2 * ks + 1][3]);
                }
#pragma unroll
                for (int d2 = 0; d2 < D / 16; d2++) {
                    uint32_t b[4];
                    int r = ks * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
                    ldsm_x4_t(b, smem_u32(v_t + swz<D>(r, d2 * 2 + (lane >> 4))));
#pragma unroll
                    for (int m = 0; m < MT; m++) {
                        mma16816<T>(acc[m][2 * d2], a[m], b[0], b[1]);
                        mma16816<T>(acc[m][2 * d2 + 1], a[m], b[2], b[3]);
                    }
                }
            }
            if (it + 1 < walk.count) {
                const int64_t j1 = (int64_t) walk.tile(it + 1) * BN;
                load_tile<D, BN, THREADS>(sV + (buf ^ 1) * BN * D, qt.v + j1 * p.v_sn, p.v_sn, si.nk - j1);
            }
            cp_async_commit();
        }
    }

    T* gO = reinterpret_cast<T*>(p.o) + si.b * p.o_sb + si.q0 * p.o_sn + qt.h * p.o_sh;
    float* gL = reinterpret_cast<float*>(p.lse) + (si.b * p.hq + qt.h) * p.nq_rows + si.q0;
    const float keep_scale = DROPOUT ? (float) (1.0 / (1.0 - p.dropout_p)) : 1.f;
#pragma unroll
    for (int m = 0; m < MT; m++) {
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float l = lrow[m][r];
            l += __shfl_xor_sync(0xffffffffu, l, 1);
            l += __shfl_xor_sync(0xffffffffu, l, 2);
            const int64_t i = row_w + m * 16 + r * 8;
            if (i >= si.nq) continue;
            const float inv = l > 0.f ? keep_scale / l : 0.f;
            T* orow = gO + i * p.o_sn;
#pragma unroll
            for (int a = 0; a < DT; a++) {
                *reinterpret_cast<uint32_t*>(orow + a * 8 + 2 * t) =
                        Pack2<T>::pack(acc[m][a][2 * r] * inv, acc[m][a][2 * r + 1] * inv);
            }
            if (t == 0) gL[i] = l > 0.f ? (mrow[m][r] + log2f(l)) * FLASH_LN2 : INFINITY;
        }
    }
}

#define FLASH_FWD(NAME, T, D, BN, WARPS, DROPOUT, SPARSE)                                                \
    extern "C" __global__ void __launch_bounds__(32 * WARPS) NAME(const FlashParams p) {                \
        flash_forward<T, D, BN, WARPS, DROPOUT, SPARSE>(p);                                              \
    }
#define FLASH_FWD_MT(NAME, T, D, BN, WARPS, MT, DROPOUT, SPARSE)                                          \
    extern "C" __global__ void __launch_bounds__(32 * WARPS) NAME(const FlashParams p) {                \
        flash_forward_mt<T, D, BN, WARPS, MT, DROPOUT, SPARSE>(p);                                       \
    }
#define FLASH_FWD_ALL(KIND, NAME, T, D, ...)                                                             \
    KIND(NAME, T, D, __VA_ARGS__, false, false)                                                          \
    KIND(NAME##_dropout, T, D, __VA_ARGS__, true, false)                                                 \
    KIND(NAME##_sparse, T, D, __VA_ARGS__, false, true)                                                  \
    KIND(NAME##_dropout_sparse, T, D, __VA_ARGS__, true, true)

// name: flash_fwd_<dtype>_d<D>[_dropout][_sparse]; shared memory (BM + 4·BN)·D·2 bytes, set by the host
// (FlashKernels): d64 BM = 128 (4 warps × two 16-row slices), BN = 64; d128 BM = 128 (8 warps, Q in registers),
// BN = 64 (tuning in docs/PERF.md). The block-sparse variants walk the layout's listed key tiles (TileWalk) and mask
// elements only in tiles the layout covers in part; the dense ones compile without it.
FLASH_FWD_ALL(FLASH_FWD_MT, flash_fwd_bf16_d64, __nv_bfloat16, 64, 64, 4, 2)
FLASH_FWD_ALL(FLASH_FWD_MT, flash_fwd_f16_d64, __half, 64, 64, 4, 2)
FLASH_FWD_ALL(FLASH_FWD, flash_fwd_bf16_d128, __nv_bfloat16, 128, 64, 8)
FLASH_FWD_ALL(FLASH_FWD, flash_fwd_f16_d128, __half, 128, 64, 8)
FLASH_FWD_ALL(FLASH_FWD, flash_fwd_bf16_d32, __nv_bfloat16, 32, 64, 4)
FLASH_FWD_ALL(FLASH_FWD, flash_fwd_f16_d32, __half, 32, 64, 4)
FLASH_FWD_ALL(FLASH_FWD, flash_fwd_bf16_d96, __nv_bfloat16, 96, 64, 8)
FLASH_FWD_ALL(FLASH_FWD, flash_fwd_f16_d96, __half, 96, 64, 8)

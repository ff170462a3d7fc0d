// FlashAttention backward on tensor cores, with recomputation and no atomics (the same bits on every run):
//   flash_bwd_delta   D = rowsum(dO ∘ O), F32 laid out like lse (B, Hq, Nq);
//   flash_bwd_dq      one block per (query tile, query head, sequence), warps own 16 query rows as in the forward:
//                     S = Q·Kᵀ, dP = dO·Vᵀ, P = exp(S − L), dS = P ∘ (dP − D), dQ = scale · Σ dS·K over key tiles;
//   flash_bwd_dkdv    one block per (key tile, key/value head, sequence), warps own 16 keys: Sᵀ = K·Qᵀ, dPᵀ = V·dOᵀ,
//                     dV = Σ P̃ᵀ·dO, dK = scale · Σ dSᵀ·Q over the query tiles of every query head of the group.
// Each pass keeps its accumulators in registers and writes its gradient once, so nothing is zeroed or summed across
// blocks; the price is recomputing S and dP in both passes (7 tile products instead of FlashAttention-2's 5).
// Dropout regenerates the forward's Philox mask: P̃ = P ∘ keep / (1 − p), dP̃ likewise.
#include "flash_attention.cuh"

// D = rowsum(dO ∘ O) for every (batch, row, head) of the 4-D tensors: one warp per row.
template <typename T, int D>
__device__ __forceinline__ void flash_delta(const FlashParams& p, int64_t batches) {
    const int64_t rows = batches * p.nq_rows * p.hq;
    const int lane = threadIdx.x & 31;
    for (int64_t w = ((int64_t) blockIdx.x * blockDim.x + threadIdx.x) >> 5; w < rows;
         w += ((int64_t) gridDim.x * blockDim.x) >> 5) {
        const int64_t h = w % p.hq;
        const int64_t n = (w / p.hq) % p.nq_rows;
        const int64_t b = w / (p.hq * p.nq_rows);
        const T* o = reinterpret_cast<const T*>(p.o) + b * p.o_sb + n * p.o_sn + h * p.o_sh;
        const T* d = reinterpret_cast<const T*>(p.dout) + b * p.do_sb + n * p.do_sn + h * p.do_sh;
        float sum = 0.f;
#pragma unroll
        for (int c = lane * 2; c < D; c += 64) {
            sum += widen(o[c]) * widen(d[c]) + widen(o[c + 1]) * widen(d[c + 1]);
        }
        sum = warp_reduce(sum, SumOp());
        if (lane == 0) reinterpret_cast<float*>(p.delta)[(b * p.hq + h) * p.nq_rows + n] = sum;
    }
}

// dq (strided, T) = scale · dq_accum (F32 (B, Nq, Hq, D) contiguous), two elements a thread per step.
template <typename T, int D>
__device__ __forceinline__ void flash_dq_convert(const FlashParams& p, int64_t batches) {
    const int64_t pairs = batches * p.nq_rows * p.hq * (D / 2);
    const float sc = (float) p.scale;
    const float* acc = reinterpret_cast<const float*>(p.dq_accum);
    for (int64_t x = (int64_t) blockIdx.x * blockDim.x + threadIdx.x; x < pairs; x += (int64_t) gridDim.x * blockDim.x) {
        const int64_t c = (x % (D / 2)) * 2;
        const int64_t rest = x / (D / 2);
        const int64_t h = rest % p.hq;
        const int64_t n = (rest / p.hq) % p.nq_rows;
        const int64_t b = rest / (p.hq * p.nq_rows);
        const float2 v = *reinterpret_cast<const float2*>(acc + 2 * x);
        *reinterpret_cast<uint32_t*>(reinterpret_cast<T*>(p.dq) + b * p.dq_sb + n * p.dq_sn + h * p.dq_sh + c) =
                Pack2<T>::pack(v.x * sc, v.y * sc);
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// dQ: query tiles of BM = 16·WARPS rows; key tiles of BN rows double-buffered

template <typename T, int D, int BN, int WARPS, int STAGES, bool DROPOUT, bool SPARSE>
__device__ __forceinline__ void flash_dq(const FlashParams& p) {
    constexpr int BM = 16 * WARPS;
    constexpr int THREADS = 32 * WARPS;
    constexpr int KS = D / 16;
    constexpr int NT = BN / 8;
    constexpr int DT = D / 8;
    extern __shared__ __align__(128) unsigned char smem_raw[];
    T* sQ = reinterpret_cast<T*>(smem_raw);
    T* sO = sQ + BM * D;          // dO
    T* sK = sO + BM * D;          // [STAGES][BN][D]
    T* sV = sK + STAGES * BN * D; // [STAGES][BN][D]

    QueryTile<T> qt;
    if (!query_tile<T, BM, BN, SPARSE>(p, qt)) return;
    const SeqInfo& si = qt.si;
    const MaskRule& mask = qt.mask;
    const int64_t i0 = qt.i0;
    const int h = qt.h;
    const TileWalk& walk = qt.keys;
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    const int g = lane >> 2;
    const int t = lane & 3;

    const int64_t stat = (si.b * p.hq + h) * p.nq_rows + si.q0; // lse / delta index of row 0
    const int64_t row_a = i0 + warp * 16 + g;
    float lse2[2], dlt[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
        int64_t i = row_a + r * 8;
        bool ok = i < si.nq;
        lse2[r] = ok ? reinterpret_cast<const float*>(p.lse)[stat + i] * FLASH_LOG2E : INFINITY;
        dlt[r] = ok ? reinterpret_cast<const float*>(p.delta)[stat + i] : 0.f;
    }

    float acc[DT][4];
#pragma unroll
    for (int a = 0; a < DT; a++) acc[a][0] = acc[a][1] = acc[a][2] = acc[a][3] = 0.f;
    const float sl2 = (float) p.scale_log2;
    const float pdrop = (float) p.dropout_p;
    const float keep_scale = DROPOUT ? (float) (1.0 / (1.0 - p.dropout_p)) : 1.f;
    const uint32_t stream = (uint32_t) (qt.s * p.hq + h);

    if (walk.count > 0) {
        // STAGES − 1 key/value tiles in flight: group g holds the walk's tile g (the first also Q and dO)
        load_tile<D, BM, THREADS>(sQ, qt.q, p.q_sn, qt.rows);
        load_tile<D, BM, THREADS>(sO, qt.dout, p.do_sn, qt.rows);
#pragma unroll
        for (int st = 0; st < STAGES - 1; st++) {
            if (st < walk.count) {
                const int64_t j1 = (int64_t) walk.tile(st) * BN;
                load_tile<D, BN, THREADS>(sK + st * BN * D, qt.k + j1 * p.k_sn, p.k_sn, si.nk - j1);
                load_tile<D, BN, THREADS>(sV + st * BN * D, qt.v + j1 * p.v_sn, p.v_sn, si.nk - j1);
            }
            cp_async_commit();
        }
        for (int it = 0; it < walk.count; it++) {
            const int buf = it % STAGES;
            cp_async_wait<STAGES - 2>();
            __syncthreads(); // tile it has landed, and every warp is done with tile it − 1's buffer
            {
                const int nxt = it + STAGES - 1;
                if (nxt < walk.count) {
                    const int nbuf = nxt % STAGES;
                    const int64_t j1 = (int64_t) walk.tile(nxt) * BN;
                    load_tile<D, BN, THREADS>(sK + nbuf * BN * D, qt.k + j1 * p.k_sn, p.k_sn, si.nk - j1);
                    load_tile<D, BN, THREADS>(sV + nbuf * BN * D, qt.v + j1 * p.v_sn, p.v_sn, si.nk - j1);
                }
                cp_async_commit();
            }
            const T* k_t = sK + buf * BN * D;
            const T* v_t = sV + buf * BN * D;
            const int64_t j0 = (int64_t) walk.tile(it) * BN;

            float sc[NT][4], dp[NT][4];
#pragma unroll
            for (int n = 0; n < NT; n++)
#pragma unroll
                for (int e = 0; e < 4; e++) sc[n][e] = dp[n][e] = 0.f;
#pragma unroll
            for (int k2 = 0; k2 < KS / 2; k2++) {
                uint32_t qa[4], qb[4], oa[4], ob[4];
                int r = warp * 16 + (lane & 15);
                ldsm_x4(qa, smem_u32(sQ + swz<D>(r, k2 * 4 + (lane >> 4))));
                ldsm_x4(qb, smem_u32(sQ + swz<D>(r, k2 * 4 + 2 + (lane >> 4))));
                ldsm_x4(oa, smem_u32(sO + swz<D>(r, k2 * 4 + (lane >> 4))));
                ldsm_x4(ob, smem_u32(sO + swz<D>(r, k2 * 4 + 2 + (lane >> 4))));
#pragma unroll
                for (int n = 0; n < NT; n++) {
                    uint32_t b[4];
                    ldsm_x4(b, smem_u32(k_t + swz<D>(n * 8 + (lane & 7), k2 * 4 + (lane >> 3))));
                    mma16816<T>(sc[n], qa, b[0], b[1]);
                    mma16816<T>(sc[n], qb, b[2], b[3]);
                    ldsm_x4(b, smem_u32(v_t + swz<D>(n * 8 + (lane & 7), k2 * 4 + (lane >> 3))));
                    mma16816<T>(dp[n], oa, b[0], b[1]);
                    mma16816<T>(dp[n], ob, b[2], b[3]);
                }
            }
            const bool full = walk.covered(it) && mask.first_key(i0 + BM - 1) <= j0 && mask.end_key(i0) >= j0 + BN;
            // the element mask as its own branch: folded into the loop below, the compiler may evaluate it (the
            // layout lookup's divisions included) for every element of every tile
            if (!full) {
#pragma unroll
                for (int n = 0; n < NT; n++)
#pragma unroll
                    for (int e = 0; e < 4; e++)
                        if (!mask.visible(row_a + (e >> 1) * 8, j0 + n * 8 + 2 * t + (e & 1))) sc[n][e] = -INFINITY;
            }
#pragma unroll
            for (int n = 0; n < NT; n++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int r = e >> 1;
                    const float x = sc[n][e];
                    const int64_t i = row_a + r * 8;
                    const int64_t j = j0 + n * 8 + 2 * t + (e & 1);
                    const float pr = fast_exp2(fmaf(x, sl2, -lse2[r]));
                    float dpk = dp[n][e];
                    if (DROPOUT) {
                        dpk = dropout_keep((uint64_t) p.seed, stream, (uint64_t) (p.offset + i * si.nk + j), pdrop)
                                ? dpk * keep_scale : 0.f;
                    }
                    sc[n][e] = pr * (dpk - dlt[r]); // dS (without the scale)
                }
            }
            mma_rows_by_tile<T, D, BN>(acc, sc, k_t, lane); // dQ += dS·K
        }
    }
    T* gdQ = reinterpret_cast<T*>(p.dq) + si.b * p.dq_sb + si.q0 * p.dq_sn + h * p.dq_sh;
    const float sc_out = (float) p.scale;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int64_t i = row_a + r * 8;
        if (i >= si.nq) continue;
        T* row = gdQ + i * p.dq_sn;
#pragma unroll
        for (int a = 0; a < DT; a++) {
            *reinterpret_cast<uint32_t*>(row + a * 8 + 2 * t) =
                    Pack2<T>::pack(acc[a][2 * r] * sc_out, acc[a][2 * r + 1] * sc_out);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// dK, dV: key tiles of BN = 16·WARPS rows (resident), query tiles of BM rows double-buffered with their lse and D

// The (query head, query tile) pairs a dK/dV block visits, head-major over the query heads [head, head_end) of its
// key/value head: each head's query tiles of key tile `tile` within [first, end), listed per head when block-sparse.
// Every thread of the block moves it the same way (the sparse walk has barriers).
template <bool SPARSE>
struct GroupCursor {
    int head, head_end, tile, first, end;
    int i;         // place in walk
    TileWalk walk; // head's query tiles
    __device__ __forceinline__ GroupCursor(const FlashParams& p, int h0, int h1, int key_tile, int f, int e)
        : head(h0), head_end(h1), tile(key_tile), first(f), end(e), i(0) {
        walk = walk_of(p);
        settle(p);
    }
    __device__ __forceinline__ bool valid() const { return head < head_end; }
    __device__ __forceinline__ void advance(const FlashParams& p) {
        i++;
        settle(p);
    }

  private:
    __device__ __forceinline__ TileWalk walk_of(const FlashParams& p) const {
        return SPARSE ? sparse_walk(p.col_offsets, p.col_entries, p.col_tiles, p.layout_heads == 1 ? 0 : head, tile,
                                    first, end)
                      : dense_walk(first, end);
    }
    // past the end of a head's walk: on to the next head that has a tile
    __device__ __forceinline__ void settle(const FlashParams& p) {
        while (i >= walk.count && head < head_end) {
            if (++head < head_end) walk = walk_of(p);
            i = 0;
        }
    }
};

template <typename T, int D, int BM, int WARPS, int STAGES, bool DROPOUT, bool FUSED_DQ, bool SPARSE>
__device__ __forceinline__ void flash_dkdv(const FlashParams& p) {
    constexpr int BN = 16 * WARPS;
    constexpr int THREADS = 32 * WARPS;
    constexpr int KS = D / 16;
    constexpr int MT = BM / 8;   // query n-tiles of Sᵀ
    constexpr int DT = D / 8;
    extern __shared__ __align__(128) unsigned char smem_raw[];
    float* sL = reinterpret_cast<float*>(smem_raw);   // [STAGES][BM] lse
    float* sD = sL + STAGES * BM;                     // [STAGES][BM] delta
    T* sK = reinterpret_cast<T*>(sD + STAGES * BM);   // [BN][D]
    T* sV = sK + BN * D;                              // [BN][D]
    T* sQ = sV + BN * D;                              // [STAGES][BM][D]
    T* sO = sQ + STAGES * BM * D;                     // [STAGES][BM][D] dO
    constexpr int SS = BM + 8;                        // dSᵀ row stride: 16-byte rows, no bank conflicts
    T* sS = sO + STAGES * BM * D;                     // [BN][SS] dSᵀ, FUSED_DQ only

    const int s = blockIdx.z;
    const int hk = blockIdx.y;
    const int nb = blockIdx.x;
    const SeqInfo si = seq_info(p, s);
    const int64_t j0 = (int64_t) nb * BN;
    if (j0 >= si.nk) return;
    MaskRule mask{si.nk - si.nq, si.nkv, p.window_left, p.window_right, LayoutMask{nullptr, 1, 0, 0}};
    const int64_t keys_here = min((int64_t) BN, si.nk - j0);
    const int group = (int) (p.hq / p.hkv);
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    const int g = lane >> 2;
    const int t = lane & 3;

    const T* gK = reinterpret_cast<const T*>(p.k) + si.b * p.k_sb + (si.k0 + j0) * p.k_sn + hk * p.k_sh;
    const T* gV = reinterpret_cast<const T*>(p.v) + si.b * p.v_sb + (si.k0 + j0) * p.v_sn + hk * p.v_sh;

    // query tiles that see some key of this tile: i ≥ j − off − wr and i ≤ j + wl − off
    int64_t qfirst = 0, qend = si.nq;
    if (p.window_right >= 0) qfirst = max((int64_t) 0, j0 - mask.off - p.window_right);
    if (p.window_left >= 0) qend = min(qend, j0 + keys_here - 1 + p.window_left - mask.off + 1);
    if (j0 >= si.nkv) qend = qfirst; // every key of the tile is padding
    const int tfirst = (int) (qfirst / BM);
    const int tend = qend > qfirst ? (int) ((qend + BM - 1) / BM) : tfirst;

    float dk[DT][4], dv[DT][4];
#pragma unroll
    for (int a = 0; a < DT; a++)
#pragma unroll
        for (int e = 0; e < 4; e++) dk[a][e] = dv[a][e] = 0.f;
    const float sl2 = (float) p.scale_log2;
    const float pdrop = (float) p.dropout_p;
    const float keep_scale = DROPOUT ? (float) (1.0 / (1.0 - p.dropout_p)) : 1.f;
    const int64_t key_a = j0 + warp * 16 + g; // this thread's keys: key_a, key_a + 8

    // the producer's place among the (query head, query tile) pairs; the consumer reads each stage's pair from
    // shared memory, written when the stage was issued
    GroupCursor<SPARSE> cur(p, hk * group, hk * group + group, nb, tfirst, tend);
    __shared__ int stage_head[STAGES], stage_entry[STAGES];
    if (cur.valid()) {
        auto issue = [&](int buf) {
            const int hh = cur.head;
            const int te = cur.walk.tile(cur.i) << 1 | cur.walk.covered(cur.i); // tile << 1 | covered
            if (threadIdx.x == 0) {
                stage_head[buf] = hh;
                stage_entry[buf] = te;
            }
            const int64_t qi0 = (int64_t) (te >> 1) * BM;
            const T* gQ = reinterpret_cast<const T*>(p.q) + si.b * p.q_sb + (si.q0 + qi0) * p.q_sn + hh * p.q_sh;
            const T* gO = reinterpret_cast<const T*>(p.dout) + si.b * p.do_sb + (si.q0 + qi0) * p.do_sn + hh * p.do_sh;
            load_tile<D, BM, THREADS>(sQ + buf * BM * D, gQ, p.q_sn, si.nq - qi0);
            load_tile<D, BM, THREADS>(sO + buf * BM * D, gO, p.do_sn, si.nq - qi0);
            const int64_t stat = (si.b * p.hq + hh) * p.nq_rows + si.q0 + qi0;
            // rows past the sequence read as 0: their Q and dO are zero and the mask drops them
            for (int r = threadIdx.x; r < BM; r += THREADS) {
                bool ok = qi0 + r < si.nq;
                cp_async4(smem_u32(sL + buf * BM + r), reinterpret_cast<const float*>(p.lse) + (ok ? stat + r : 0), ok);
                cp_async4(smem_u32(sD + buf * BM + r), reinterpret_cast<const float*>(p.delta) + (ok ? stat + r : 0), ok);
            }
            cur.advance(p);
        };
        load_tile<D, BN, THREADS>(sK, gK, p.k_sn, keys_here);
        load_tile<D, BN, THREADS>(sV, gV, p.v_sn, keys_here);
        int issued = 0;
#pragma unroll
        for (int st = 0; st < STAGES - 1; st++) {
            if (cur.valid()) issue(issued++ % STAGES);
            cp_async_commit();
        }
        for (int it = 0; it < issued; it++) {
            const int buf = it % STAGES;
            cp_async_wait<STAGES - 2>();
            __syncthreads(); // tile it has landed, and every warp is done with tile it − 1's buffer
            if (cur.valid()) issue(issued++ % STAGES);
            cp_async_commit();
            const int hh = stage_head[buf];
            const int te = stage_entry[buf];
            const int64_t qi0 = (int64_t) (te >> 1) * BM;
            const T* q_t = sQ + buf * BM * D;
            const T* o_t = sO + buf * BM * D;
            const float* l_t = sL + buf * BM;
            const float* d_t = sD + buf * BM;
            const uint32_t stream = (uint32_t) (s * p.hq + hh);
            if (SPARSE) mask.lay = layout_of(p, hh);

            // Sᵀ = K·Qᵀ and dPᵀ = V·dOᵀ (16 keys × BM queries per warp)
            float sc[MT][4], dp[MT][4];
#pragma unroll
            for (int n = 0; n < MT; n++)
#pragma unroll
                for (int e = 0; e < 4; e++) sc[n][e] = dp[n][e] = 0.f;
#pragma unroll
            for (int k2 = 0; k2 < KS / 2; k2++) {
                uint32_t ka[4], kb[4], va[4], vb[4];
                int r = warp * 16 + (lane & 15);
                ldsm_x4(ka, smem_u32(sK + swz<D>(r, k2 * 4 + (lane >> 4))));
                ldsm_x4(kb, smem_u32(sK + swz<D>(r, k2 * 4 + 2 + (lane >> 4))));
                ldsm_x4(va, smem_u32(sV + swz<D>(r, k2 * 4 + (lane >> 4))));
                ldsm_x4(vb, smem_u32(sV + swz<D>(r, k2 * 4 + 2 + (lane >> 4))));
#pragma unroll
                for (int n = 0; n < MT; n++) {
                    uint32_t b[4];
                    ldsm_x4(b, smem_u32(q_t + swz<D>(n * 8 + (lane & 7), k2 * 4 + (lane >> 3))));
                    mma16816<T>(sc[n], ka, b[0], b[1]);
                    mma16816<T>(sc[n], kb, b[2], b[3]);
                    ldsm_x4(b, smem_u32(o_t + swz<D>(n * 8 + (lane & 7), k2 * 4 + (lane >> 3))));
                    mma16816<T>(dp[n], va, b[0], b[1]);
                    mma16816<T>(dp[n], vb, b[2], b[3]);
                }
            }
            // element (key j, query i): P = exp(S − L); P̃ with dropout; dS = P ∘ (dP̃ − D)
            const bool full = (te & 1) && qi0 + BM <= si.nq && mask.first_key(qi0 + BM - 1) <= j0 &&
                    mask.end_key(qi0) >= j0 + BN;
            float lcol[MT][2], dcol[MT][2]; // lse · log2 e and D of this thread's query columns
#pragma unroll
            for (int n = 0; n < MT; n++) {
#pragma unroll
                for (int c = 0; c < 2; c++) {
                    const int col = n * 8 + 2 * t + c;
                    const float l = l_t[col];
                    lcol[n][c] = qi0 + col < si.nq ? l * FLASH_LOG2E : INFINITY;
                    dcol[n][c] = d_t[col];
                }
            }
            if (!full) { // its own branch, as in the dQ pass
#pragma unroll
                for (int n = 0; n < MT; n++)
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        const int64_t i = qi0 + n * 8 + 2 * t + (e & 1);
                        if (!(i < si.nq && mask.visible(i, key_a + (e >> 1) * 8))) sc[n][e] = -INFINITY;
                    }
            }
#pragma unroll
            for (int n = 0; n < MT; n++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int col = n * 8 + 2 * t + (e & 1);
                    const int64_t i = qi0 + col;
                    const int64_t j = key_a + (e >> 1) * 8;
                    const float x = sc[n][e];
                    const float pr = fast_exp2(fmaf(x, sl2, -lcol[n][e & 1]));
                    float pk = pr, dpk = dp[n][e];
                    if (DROPOUT) {
                        bool keep = dropout_keep((uint64_t) p.seed, stream, (uint64_t) (p.offset + i * si.nk + j), pdrop);
                        pk = keep ? pr * keep_scale : 0.f;
                        dpk = keep ? dpk * keep_scale : 0.f;
                    }
                    sc[n][e] = pk;                      // P̃ᵀ
                    dp[n][e] = pr * (dpk - dcol[n][e & 1]); // dSᵀ (without the scale)
                }
            }
            if (FUSED_DQ) { // this warp's 16 rows of dSᵀ, for the block's dQ product below
#pragma unroll
                for (int n = 0; n < MT; n++)
#pragma unroll
                    for (int r = 0; r < 2; r++)
                        *reinterpret_cast<uint32_t*>(sS + (warp * 16 + g + r * 8) * SS + n * 8 + 2 * t) =
                                Pack2<T>::pack(dp[n][2 * r], dp[n][2 * r + 1]);
            }
            // dV += P̃ᵀ·dO and dK += dSᵀ·Q: A from registers, B by transposing ldmatrix (rows = queries)
#pragma unroll
            for (int ks = 0; ks < BM / 16; ks++) {
                uint32_t pa[4], sa[4];
                pa[0] = Pack2<T>::pack(sc[2 * ks][0], sc[2 * ks][1]);
                pa[1] = Pack2<T>::pack(sc[2 * ks][2], sc[2 * ks][3]);
                pa[2] = Pack2<T>::pack(sc[2 * ks + 1][0], sc[2 * ks + 1][1]);
                pa[3] = Pack2<T>::pack(sc[2 * ks + 1][2], sc[2 * ks + 1][3]);
                sa[0] = Pack2<T>::pack(dp[2 * ks][0], dp[2 * ks][1]);
                sa[1] = Pack2<T>::pack(dp[2 * ks][2], dp[2 * ks][3]);
                sa[2] = Pack2<T>::pack(dp[2 * ks + 1][0], dp[2 * ks + 1][1]);
                sa[3] = Pack2<T>::pack(dp[2 * ks + 1][2], dp[2 * ks + 1][3]);
#pragma unroll
                for (int d2 = 0; d2 < D / 16; d2++) {
                    uint32_t b[4];
                    int r = ks * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
                    ldsm_x4_t(b, smem_u32(o_t + swz<D>(r, d2 * 2 + (lane >> 4))));
                    mma16816<T>(dv[2 * d2], pa, b[0], b[1]);
                    mma16816<T>(dv[2 * d2 + 1], pa, b[2], b[3]);
                    ldsm_x4_t(b, smem_u32(q_t + swz<D>(r, d2 * 2 + (lane >> 4))));
                    mma16816<T>(dk[2 * d2], sa, b[0], b[1]);
                    mma16816<T>(dk[2 * d2 + 1], sa, b[2], b[3]);
                }
            }
            if (FUSED_DQ) {
                // dQ (BM × D) += dS (BM × BN) · K (BN × D), added to the F32 buffer with atomics: warp w takes query
                // slice w % (BM / 16) and a 1 / (WARPS·16 / BM) share of the head dim
                constexpr int QSL = BM / 16;
                constexpr int SPLIT = WARPS / QSL;
                constexpr int DTW = DT / SPLIT; // d n-tiles per warp
                static_assert(WARPS % QSL == 0 && DT % SPLIT == 0 && DTW % 2 == 0, "dQ split");
                __syncthreads(); // every warp's dSᵀ rows are in shared memory
                const int qs = warp % QSL;
                const int dbase = (warp / QSL) * DTW;
                float acc[DTW][4];
#pragma unroll
                for (int a = 0; a < DTW; a++) acc[a][0] = acc[a][1] = acc[a][2] = acc[a][3] = 0.f;
#pragma unroll
                for (int ks = 0; ks < BN / 16; ks++) {
                    uint32_t a[4];
                    const int key = ks * 16 + (lane & 7) + ((lane >> 4) & 1) * 8;
                    ldsm_x4_t(a, smem_u32(sS + key * SS + qs * 16 + ((lane >> 3) & 1) * 8));
#pragma unroll
                    for (int d2 = 0; d2 < DTW / 2; d2++) {
                        uint32_t b[4];
                        int r = ks * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
                        ldsm_x4_t(b, smem_u32(sK + swz<D>(r, (dbase / 2 + d2) * 2 + (lane >> 4))));
                        mma16816<T>(acc[2 * d2], a, b[0], b[1]);
                        mma16816<T>(acc[2 * d2 + 1], a, b[2], b[3]);
                    }
                }
                float* gq = reinterpret_cast<float*>(p.dq_accum);
#pragma unroll
                for (int r = 0; r < 2; r++) {
                    const int64_t i = qi0 + qs * 16 + g + r * 8;
                    if (i >= si.nq) continue;
                    float* row = gq + ((si.b * p.nq_rows + si.q0 + i) * p.hq + hh) * D + dbase * 8 + 2 * t;
#pragma unroll
                    for (int a = 0; a < DTW; a++) {
#if __CUDA_ARCH__ >= 900
                        atomicAdd(reinterpret_cast<float2*>(row + a * 8), make_float2(acc[a][2 * r], acc[a][2 * r + 1]));
#else
                        atomicAdd(row + a * 8, acc[a][2 * r]);
                        atomicAdd(row + a * 8 + 1, acc[a][2 * r + 1]);
#endif
                    }
                }
            }
            (void) hh;
        }
    }
    T* gdK = reinterpret_cast<T*>(p.dk) + si.b * p.dk_sb + si.k0 * p.dk_sn + hk * p.dk_sh;
    T* gdV = reinterpret_cast<T*>(p.dv) + si.b * p.dv_sb + si.k0 * p.dv_sn + hk * p.dv_sh;
    const float sc_out = (float) p.scale;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int64_t j = key_a + r * 8;
        if (j >= si.nk) continue;
#pragma unroll
        for (int a = 0; a < DT; a++) {
            *reinterpret_cast<uint32_t*>(gdK + j * p.dk_sn + a * 8 + 2 * t) =
                    Pack2<T>::pack(dk[a][2 * r] * sc_out, dk[a][2 * r + 1] * sc_out);
            *reinterpret_cast<uint32_t*>(gdV + j * p.dv_sn + a * 8 + 2 * t) =
                    Pack2<T>::pack(dv[a][2 * r], dv[a][2 * r + 1]);
        }
    }
}

#define FLASH_BWD_SP(SUFFIX, SP, SPARSE, T, D, DQ_BN, DQ_WARPS, DQ_ST, KV_BM, KV_WARPS, KV_ST)                         \
    extern "C" __global__ void __launch_bounds__(32 * DQ_WARPS) flash_bwd_dq_##SUFFIX##SP(const FlashParams p) {          \
        flash_dq<T, D, DQ_BN, DQ_WARPS, DQ_ST, false, SPARSE>(p);                                                         \
    }                                                                                                                      \
    extern "C" __global__ void __launch_bounds__(32 * DQ_WARPS) flash_bwd_dq_##SUFFIX##_dropout##SP(const FlashParams p) { \
        flash_dq<T, D, DQ_BN, DQ_WARPS, DQ_ST, true, SPARSE>(p);                                                          \
    }                                                                                                                      \
    extern "C" __global__ void __launch_bounds__(32 * KV_WARPS) flash_bwd_dkdv_##SUFFIX##SP(const FlashParams p) {        \
        flash_dkdv<T, D, KV_BM, KV_WARPS, KV_ST, false, false, SPARSE>(p);                                                \
    }                                                                                                                      \
    extern "C" __global__ void __launch_bounds__(32 * KV_WARPS) flash_bwd_dkdv_##SUFFIX##_dropout##SP(const FlashParams p) { \
        flash_dkdv<T, D, KV_BM, KV_WARPS, KV_ST, true, false, SPARSE>(p);                                                 \
    }                                                                                                                      \
    extern "C" __global__ void __launch_bounds__(32 * KV_WARPS) flash_bwd_fused_##SUFFIX##SP(const FlashParams p) {       \
        flash_dkdv<T, D, KV_BM, KV_WARPS, KV_ST, false, true, SPARSE>(p);                                                 \
    }                                                                                                                      \
    extern "C" __global__ void __launch_bounds__(32 * KV_WARPS) flash_bwd_fused_##SUFFIX##_dropout##SP(const FlashParams p) { \
        flash_dkdv<T, D, KV_BM, KV_WARPS, KV_ST, true, true, SPARSE>(p);                                                  \
    }
#define FLASH_BWD(SUFFIX, T, D, ...)                                                                                       \
    extern "C" __global__ void __launch_bounds__(256) flash_bwd_delta_##SUFFIX(const FlashParams p, int64_t b) {           \
        flash_delta<T, D>(p, b);                                                                                           \
    }                                                                                                                      \
    extern "C" __global__ void __launch_bounds__(256) flash_bwd_dq_convert_##SUFFIX(const FlashParams p, int64_t b) {      \
        flash_dq_convert<T, D>(p, b);                                                                                      \
    }                                                                                                                      \
    FLASH_BWD_SP(SUFFIX, , false, T, D, __VA_ARGS__)                                                                       \
    FLASH_BWD_SP(SUFFIX, _sparse, true, T, D, __VA_ARGS__)

// names: flash_bwd_{dq,dkdv,fused}_<dtype>_d<D>[_dropout][_sparse], flash_bwd_{delta,dq_convert}_<dtype>_d<D>.
// dq: BM = 16·DQ_WARPS query rows, DQ_BN keys a tile, DQ_ST stages: shared (2·BM + 2·DQ_ST·DQ_BN)·D·2 bytes;
// dkdv: BN = 16·KV_WARPS keys, KV_BM queries a tile, KV_ST stages: shared (2·BN + 2·KV_ST·KV_BM)·D·2 + 8·KV_ST·KV_BM,
// plus BN·(KV_BM + 8)·2 for the fused variant (dK, dV and dQ by atomics, then flash_bwd_dq_convert_*)
FLASH_BWD(bf16_d64, __nv_bfloat16, 64, 32, 4, 3, 64, 4, 3)
FLASH_BWD(f16_d64, __half, 64, 32, 4, 3, 64, 4, 3)
FLASH_BWD(bf16_d128, __nv_bfloat16, 128, 32, 4, 3, 32, 4, 3)
FLASH_BWD(f16_d128, __half, 128, 32, 4, 3, 32, 4, 3)
FLASH_BWD(bf16_d32, __nv_bfloat16, 32, 64, 4, 3, 64, 4, 3)
FLASH_BWD(f16_d32, __half, 32, 64, 4, 3, 64, 4, 3)
FLASH_BWD(bf16_d96, __nv_bfloat16, 96, 32, 4, 3, 32, 4, 3)
FLASH_BWD(f16_d96, __half, 96, 32, 4, 3, 32, 4, 3)

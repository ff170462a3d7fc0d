// FlashAttention forward for Hopper (sm_90a), warp-specialised: the tiles arrive by TMA bulk tensor copies and two
// computing warpgroups take turns on the tensor cores (FlashAttention-3's producer/consumer split and ping-pong).
// One block per (128 query rows, query head, sequence), three warpgroups:
//   - warpgroup 0, the producer, gives most of its registers away (setmaxnreg) and one of its threads copies the Q tile
//     once and the K and V tiles of each key step into a ring of STAGES shared-memory stages (cp.async.bulk.tensor
//     through tensor maps passed by value as __grid_constant__ parameters; each stage has a "full" mbarrier per
//     tensor, armed with the tile's byte count, and an "empty" one that the consumers' 8 warps arrive on when done);
//   - warpgroups 1 and 2, the consumers (64 query rows each, registers raised to 240), compute S = Q·Kᵀ (SS wgmma),
//     the mask and online softmax, and O += P·V (RS wgmma), with S(t+1) issued together with P(t)·V(t) so the softmax
//     of t + 1 runs while the tensor cores do P(t)·V(t), as the overlapped schedule of flash_attention_hopper.cu.
//     They take turns issuing their products (named barriers 1 and 2, 256 threads: one warpgroup's bar.arrive lets
//     the other's bar.sync through), so one warpgroup's softmax runs during the other's products.
// The shared layout is the 128-byte swizzle of flash_attention_hopper.cuh: a TMA box of 64 elements (128 bytes) × rows
// with CU_TENSOR_MAP_SWIZZLE_128B lands as chunk c of row r at c ^ (r & 7) in a 1024-byte-aligned tile, one box per
// 64-column block. Rows past the sequence end are zero-filled by the copy engine (their scores are masked anyway).
// Same coverage, mask, softmax and epilogue (O and F32 logsumexp) as flash_attention_hopper.cu; the host
// (HopperTmaForward) takes the calls whose tensors a tensor map can describe and otherwise keeps that kernel.
#include "flash_attention_hopper_forward.cuh"
#include "hopper_tma.cuh"

namespace hopper {

template <typename T, int D, int BN, int STAGES>
__device__ __forceinline__ void forward_tma(const FlashParams& p, const CUtensorMap* tq, const CUtensorMap* tk,
                                            const CUtensorMap* tv) {
#ifdef HOPPER_WGMMA
    // registers a thread after reallocation: 128·24 + 256·240 = 64,512 of the SM's 65,536
    constexpr int PRODUCER_REGS = 24;
    constexpr int CONSUMER_REGS = 240;
    static_assert(STAGES >= 2, "the ring needs two stages: a consumer releases K(t) only after issuing S(t + 1)");
    constexpr int BM = 128;
    constexpr int TILE_Q = BM * D * 2;
    constexpr int TILE_KV = BN * D * 2;
    extern __shared__ __align__(1024) unsigned char smem_raw[];
    // swizzled tiles must start 1024-byte aligned (the host adds 1024 bytes of slack); the mbarriers follow the tiles
    const uint32_t base = (smem_u32(smem_raw) + 1023) & ~1023u;
    const uint32_t sQ = base;
    const uint32_t sK = sQ + TILE_Q;            // [STAGES] tiles
    const uint32_t sV = sK + STAGES * TILE_KV;  // [STAGES] tiles
    const uint32_t q_full = sV + STAGES * TILE_KV;
    const uint32_t k_full = q_full + 8;         // [STAGES] mbarriers of 8 bytes
    const uint32_t v_full = k_full + 8 * STAGES;
    const uint32_t k_empty = v_full + 8 * STAGES;
    const uint32_t v_empty = k_empty + 8 * STAGES;

    QueryTile qt;
    if (!query_tile<BM, BN>(p, qt)) return;
    const SeqInfo& si = qt.si;
    const int h = qt.h;
    const int hk = qt.hk;
    const int64_t i0 = qt.i0;
    const MaskRule& mask = qt.mask;
    const int tfirst = qt.tfirst;
    const int steps = qt.tend - qt.tfirst; // key tiles this block walks

    if (threadIdx.x == 0) {
        mbar_init(q_full, 1);
#pragma unroll
        for (int st = 0; st < STAGES; st++) {
            mbar_init(k_full + 8 * st, 1);
            mbar_init(v_full + 8 * st, 1);
            mbar_init(k_empty + 8 * st, 8); // one arrival per consumer warp
            mbar_init(v_empty + 8 * st, 8);
        }
        mbar_init_fence();
    }
    __syncthreads();

    const int wg = threadIdx.x >> 7;
    if (wg == 0) {
        // producer: one thread issues every copy; K runs one tile ahead of V so S(t + 1) need not wait for V(t)
        regs_release<PRODUCER_REGS>();
        if (threadIdx.x == 0 && steps > 0) {
            tma_prefetch(tq);
            tma_prefetch(tk);
            tma_prefetch(tv);
            const int row_q = (int) (si.q0 + i0);
            mbar_expect_tx(q_full, TILE_Q);
#pragma unroll
            for (int cb = 0; cb < D / 64; cb++) tma_load_4d(sQ + cb * BM * 128, tq, q_full, cb * 64, row_q, h, (int) si.b);
            auto load = [&](const CUtensorMap* map, uint32_t tiles, uint32_t full, uint32_t empty, int i) {
                const int st = i % STAGES;
                if (i >= STAGES) mbar_wait(empty + 8 * st, ((i / STAGES) & 1) ^ 1); // use i / STAGES − 1 released
                mbar_expect_tx(full + 8 * st, TILE_KV);
                const int row = (int) (si.k0 + (int64_t) (tfirst + i) * BN);
#pragma unroll
                for (int cb = 0; cb < D / 64; cb++) {
                    tma_load_4d(tiles + st * TILE_KV + cb * BN * 128, map, full + 8 * st, cb * 64, row, hk, (int) si.b);
                }
            };
            load(tk, sK, k_full, k_empty, 0);
            for (int i = 0; i < steps; i++) {
                if (i + 1 < steps) load(tk, sK, k_full, k_empty, i + 1);
                load(tv, sV, v_full, v_empty, i);
            }
        }
        return;
    }

    regs_claim<CONSUMER_REGS>();
    const int cw = wg - 1;                    // consumer 0 or 1: rows cw·64 …
    const int warp = (threadIdx.x >> 5) & 3;  // warp in the warpgroup: 16 rows
    const int lane = threadIdx.x & 31;
    const int g = lane >> 2;
    const int t = lane & 3;

    float o[D / 2];
#pragma unroll
    for (int a = 0; a < D / 2; a++) o[a] = 0.f;
    float mrow[2] = {-INFINITY, -INFINITY};
    float lrow[2] = {0.f, 0.f};
    float corr[2];
    const float sl2 = (float) p.scale_log2;
    const int64_t row_a = i0 + cw * 64 + warp * 16 + g; // this thread's rows: row_a, row_a + 8
    const uint32_t q_wg = sQ + cw * 64 * 128;         // this warpgroup's 64 rows of the Q tile
    auto masked = [&](int kt) { // whether tile kt needs the element mask (some (row, key) of the block hidden)
        const int64_t j0 = (int64_t) kt * BN;
        return !(mask.first_key(i0 + BM - 1) <= j0 && mask.end_key(i0) >= j0 + BN);
    };
    // Turns: each warpgroup issues steps + 1 groups of products (S(0); S(t + 1) with P(t)·V(t); P(last)·V(last)),
    // alternating, consumer 0 first. Consumer 1's arrival before its first turn opens consumer 0's; consumer 1 skips
    // its last hand-over, so no arrival is left pending on a barrier at exit.
    // named barrier 1 + cw opens this warpgroup's turn; it ends by arriving on the other's
    int turn = 0;
    auto begin_turn = [&]() {
        if (cw == 0) bar_sync<1, 256>();
        else bar_sync<2, 256>();
    };
    auto end_turn = [&]() {
        if (cw == 0) bar_arrive<2, 256>();
        else if (turn < steps) bar_arrive<1, 256>();
        turn++;
    };
    auto release = [&](uint32_t empty, int i) {
        if (lane == 0) mbar_arrive(empty + 8 * (i % STAGES));
    };

    if (steps > 0) {
        if (cw == 1) bar_arrive<1, 256>();
        uint32_t pa[BN / 16][4];
        float sc[BN / 2]; // element (row g + 8·(e >> 1), key 8n + 2t + (e & 1)) at sc[4n + e]
        mbar_wait(q_full, 0);
        mbar_wait(k_full, 0);
        begin_turn();
        issue_scores<T, D, BM, BN>(sc, q_wg, sK);
        end_turn();
        wgmma_wait<0>();
        fence_regs(sc);
        release(k_empty, 0);
        if (masked(tfirst)) mask_tile<BN>(sc, mask, row_a, (int64_t) tfirst * BN, t);
        softmax_tile<BN>(sc, mrow, lrow, corr, sl2);
        pack_p<T, BN>(pa, sc);
        for (int i = 0; i + 1 < steps; i++) {
            const int st = i % STAGES;
            const int st1 = (i + 1) % STAGES;
            mbar_wait(k_full + 8 * st1, ((i + 1) / STAGES) & 1);
            begin_turn();
            issue_scores<T, D, BM, BN>(sc, q_wg, sK + st1 * TILE_KV);
            mbar_wait(v_full + 8 * st, (i / STAGES) & 1);
            issue_pv<T, D, BN>(o, pa, sV + st * TILE_KV);
            end_turn();
            wgmma_wait<1>(); // the scores; P(t)·V(t) may still run
            fence_regs(sc);
            release(k_empty, i + 1);
            const int kt = tfirst + i + 1;
            if (masked(kt)) mask_tile<BN>(sc, mask, row_a, (int64_t) kt * BN, t);
            softmax_tile<BN>(sc, mrow, lrow, corr, sl2);
            wgmma_wait<0>();
            fence_regs(o);
            fence_regs(pa);
            release(v_empty, i);
            rescale<D>(o, corr);
            pack_p<T, BN>(pa, sc);
        }
        const int last = steps - 1;
        mbar_wait(v_full + 8 * (last % STAGES), (last / STAGES) & 1);
        begin_turn();
        issue_pv<T, D, BN>(o, pa, sV + (last % STAGES) * TILE_KV);
        end_turn();
        wgmma_wait<0>();
        fence_regs(o);
        fence_regs(pa);
    }
    store_output<T, D>(p, si, h, row_a, t, o, mrow, lrow);
#endif
}

} // namespace hopper

// Kernel parameters: FlashParams by value, then the tensor maps of Q, K and V (CUtensorMap, 128 bytes). The driver
// chooses their offsets (0, 496, 624, 752 on driver 580, not the C layout's 512, 640, 768), so the host launches
// with one pointer per argument (CudaDevice.launch3) rather than a packed buffer.
#define HOPPER_TMA_FWD(NAME, T, D, BN, STAGES)                                                                      \
    extern "C" __global__ void __launch_bounds__(384, 1)                                                           \
            NAME(const FlashParams p, const __grid_constant__ CUtensorMap tq, const __grid_constant__ CUtensorMap tk, \
                 const __grid_constant__ CUtensorMap tv) {                                                         \
        hopper::forward_tma<T, D, BN, STAGES>(p, &tq, &tk, &tv);                                                    \
    }

// name: flash_fwd_hopper_tma_<dtype>_d<D>; 384 threads, shared memory (128 + 2·STAGES·BN)·D·2 + 1024 + 8·(1 + 4·STAGES)
// bytes. The host (HopperTmaForward) must use these tile sizes.
HOPPER_TMA_FWD(flash_fwd_hopper_tma_bf16_d64, __nv_bfloat16, 64, 128, 3)
HOPPER_TMA_FWD(flash_fwd_hopper_tma_f16_d64, __half, 64, 128, 3)
HOPPER_TMA_FWD(flash_fwd_hopper_tma_bf16_d128, __nv_bfloat16, 128, 128, 2)
HOPPER_TMA_FWD(flash_fwd_hopper_tma_f16_d128, __half, 128, 128, 2)

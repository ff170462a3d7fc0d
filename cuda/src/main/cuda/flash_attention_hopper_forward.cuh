// The Hopper forward's per-tile steps in registers, shared by the cp.async forward (flash_attention_hopper.cu) and
// the TMA warp-specialised forward (flash_attention_hopper_tma.cu): the element mask of a score tile, the online
// softmax in log2 units, the rescale of the O accumulator, and the epilogue that writes O and the F32 logsumexp
// exactly as flash_fwd_* (so the backward reads them unchanged). Fragment layout: the m64nN wgmma accumulator, each
// thread holding rows g and g + 8 of its warp's 16 and columns 8n + 2t (+1).
#pragma once
#include "flash_attention_hopper.cuh"

namespace hopper {

// The query tile a block of either forward owns (grid x: query tiles of BM rows, heaviest causal tiles first; y: query
// heads; z: sequences), its key/value head, its mask (dense: no layout) and the key tiles of BN keys it walks,
// [tfirst, tend). query_tile returns false when the tile starts past its sequence's queries (nothing to do).
struct QueryTile {
    SeqInfo si;
    int h, hk;
    int64_t i0, rows;
    MaskRule mask;
    int tfirst, tend;
};

template <int BM, int BN>
__device__ __forceinline__ bool query_tile(const FlashParams& p, QueryTile& qt) {
    qt.si = seq_info(p, blockIdx.z);
    qt.h = blockIdx.y;
    qt.i0 = (int64_t) (gridDim.x - 1 - blockIdx.x) * BM;
    if (qt.i0 >= qt.si.nq) return false;
    qt.hk = (int) (qt.h / (p.hq / p.hkv));
    qt.mask = MaskRule{qt.si.nk - qt.si.nq, qt.si.nkv, p.window_left, p.window_right, LayoutMask{nullptr, 1, 0, 0}};
    qt.rows = min((int64_t) BM, qt.si.nq - qt.i0);
    const int64_t kfirst = qt.mask.first_key(qt.i0);
    const int64_t kend = qt.mask.end_key(qt.i0 + qt.rows - 1);
    qt.tfirst = (int) (kfirst / BN);
    qt.tend = kend > kfirst ? (int) ((kend + BN - 1) / BN) : qt.tfirst;
    return true;
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

// Epilogue: O = o / l, lse = max·scale + ln l (as flash_fwd_*; a row that saw no key gets zeros and +∞). row_a is this
// thread's first row (the second is row_a + 8) in the sequence.
template <typename T, int D>
__device__ __forceinline__ void store_output(const FlashParams& p, const SeqInfo& si, int h, int64_t row_a, int t,
                                             const float (&o)[D / 2], const float (&mrow)[2], const float (&lrow)[2]) {
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
}

} // namespace hopper

// FlashAttention on tensor cores (mma.sync m16n8k16, sm_80+; runs on Hopper too): the parameters shared by the
// forward (flash_attention_forward.cu) and backward (flash_attention_backward.cu) kernels, and their device helpers:
// fragment loads (ldmatrix from XOR-swizzled shared memory), cp.async tile copies, the mask rules of
// ai.fulgur.ops.attention.AttentionSpec and the Philox dropout keep test of ai.fulgur.ops.cpu.CpuAttention.
// Leaves out: the Hopper wgmma/TMA path (a later kernel family selected by the host per head dim and architecture).
//
// Layout (ai.fulgur.ops.attention.AttentionKernels): q (B, Nq, Hq, D), k and v (B, Nk, Hkv, D), any strides on the
// first three axes, stride 1 on D, rows 16-byte aligned (the host copies otherwise); lse and delta F32 (B, Hq, Nq).
// Packed batches and padded key lengths come as a sequence table (6, S) of int64: batch index, first query row,
// first key row, nq, nk (the alignment length) and the valid key count of each sequence.
#pragma once
#include "fulgur.cuh"

// Built on the host by ai.fulgur.cuda.CudaAttention as a long[] of the same fields in the same order (doubles as
// their raw bits); every field is 8 bytes so the layouts agree.
struct FlashParams {
    int64_t q, k, v, o, lse;            // device addresses of element 0 of each view
    int64_t dout, dq, dk, dv, delta;    // backward only (0 in the forward)
    int64_t q_sb, q_sn, q_sh;           // strides in elements: batch, row, head
    int64_t k_sb, k_sn, k_sh;
    int64_t v_sb, v_sn, v_sh;
    int64_t o_sb, o_sn, o_sh;
    int64_t do_sb, do_sn, do_sh;
    int64_t dq_sb, dq_sn, dq_sh;
    int64_t dk_sb, dk_sn, dk_sh;
    int64_t dv_sb, dv_sn, dv_sh;
    int64_t hq, hkv;                    // heads; hkv divides hq
    int64_t nq_rows, nk_rows;           // q.shape(1), k.shape(1): lse row stride and the plain sequence lengths
    int64_t seqs;                       // sequences (grid z)
    int64_t seq_table;                  // (6, seqs) int64 or 0: every sequence is (b = z, 0, 0, nq_rows, nk_rows, nk_rows)
    int64_t window_left, window_right;  // -1: unbounded (causal is right = 0)
    double scale;                       // softmax scale
    double scale_log2;                  // scale · log2(e)
    double dropout_p;                   // in [0, 1)
    int64_t seed, offset;               // Philox key and element offset
    int64_t dq_accum;                   // F32 (B, Nq, Hq, D) contiguous, zeroed: dQ / scale by atomics, or 0
    int64_t layout;                     // block-sparse mask, U8 (layout_heads, qblocks, kblocks), or 0 (dense)
    int64_t layout_block, layout_heads, layout_qblocks, layout_kblocks;
    // block-sparse, compressed to this launch's tiles (ai.fulgur.cuda.SparseTiles): for each (layout head, query
    // tile) the listed key tiles, and for each (layout head, key tile) the listed query tiles; int32 offsets
    // (heads · tiles + 1) into int32 entries tile << 1 | covered
    int64_t row_offsets, row_entries, row_tiles; // forward and dQ: query tiles per head
    int64_t col_offsets, col_entries, col_tiles; // dK/dV: key tiles per head
};

struct SeqInfo {
    int64_t b, q0, k0, nq, nk, nkv;
};

__device__ __forceinline__ SeqInfo seq_info(const FlashParams& p, int s) {
    if (p.seq_table == 0) return {s, 0, 0, p.nq_rows, p.nk_rows, p.nk_rows};
    const int64_t* t = (const int64_t*) p.seq_table;
    int64_t n = p.seqs;
    return {t[s], t[n + s], t[2 * n + s], t[3 * n + s], t[4 * n + s], t[5 * n + s]};
}

// One head's block-sparse mask (ai.fulgur.ops.attention.BlockSparseLayout), or m == nullptr for dense attention.
struct LayoutMask {
    const uint8_t* m;
    int64_t bs, qb, kb;
    __device__ __forceinline__ bool set(int64_t i, int64_t j) const {
        if (m == nullptr) return true;
        const int64_t a = i / bs, c = j / bs;
        return a < qb && c < kb && m[a * kb + c] != 0;
    }
};

__device__ __forceinline__ LayoutMask layout_of(const FlashParams& p, int64_t h) {
    if (p.layout == 0) return {nullptr, 1, 0, 0};
    const int64_t n = p.layout_qblocks * p.layout_kblocks;
    return {reinterpret_cast<const uint8_t*>(p.layout) + (p.layout_heads == 1 ? 0 : h) * n, p.layout_block,
            p.layout_qblocks, p.layout_kblocks};
}

// The keys query i may see are [first_key(i), end_key(i)) (Sequences.firstKey/endKey), within the layout's blocks.
struct MaskRule {
    int64_t off;     // nk − nq: the diagonal aligned bottom-right
    int64_t nkv;     // valid keys
    int64_t wl, wr;  // window, −1 unbounded
    LayoutMask lay;  // block-sparse blocks, or dense
    __device__ __forceinline__ int64_t first_key(int64_t i) const {
        return wl < 0 ? 0 : max((int64_t) 0, i + off - wl);
    }
    __device__ __forceinline__ int64_t end_key(int64_t i) const {
        int64_t e = nkv;
        if (wr >= 0) e = min(e, i + off + wr + 1);
        return max(e, (int64_t) 0);
    }
    __device__ __forceinline__ bool visible(int64_t i, int64_t j) const {
        return j < nkv && (wl < 0 || j >= i + off - wl) && (wr < 0 || j <= i + off + wr) && lay.set(i, j);
    }
};

// The tiles a block walks: the key tiles of a query tile (forward, dQ) or the query tiles of a key tile (dK/dV). Dense,
// the run [first, first + count) that the causal, window and length masks leave; block-sparse, the tiles of that run
// listed for the head in the compressed layout, so an empty tile costs nothing (no copy, no step). Each entry is
// tile << 1 | covered: covered says every layout block the tile overlaps is set, so only the masks can hide an
// element of it.
struct TileWalk {
    const int* list; // the head's listed entries, from the first inside the run; nullptr: the run itself
    int first;       // the run's first tile
    int count;       // tiles to visit
    // step i's tile, and whether the layout covers it (dense: the run's tiles, all covered)
    __device__ __forceinline__ int tile(int i) const { return list ? __ldg(list + i) >> 1 : first + i; }
    __device__ __forceinline__ bool covered(int i) const { return list ? (__ldg(list + i) & 1) != 0 : true; }
};

__device__ __forceinline__ TileWalk dense_walk(int first, int end) {
    return {nullptr, first, max(end - first, 0)};
}

// The listed tiles of list `index` (head · tiles + tile) inside the run [first, end). The lists are sorted, so the
// run is a slice of them: the whole block counts the entries before `first` and those inside the run together
// (__syncthreads_count, so every thread must call this), a chunk of blockDim.x entries a step.
__device__ __forceinline__ TileWalk sparse_walk(int64_t offsets, int64_t entries, int64_t tiles, int64_t head,
                                                int64_t tile, int first, int end) {
    if (tile >= tiles || end <= first) return {nullptr, first, 0};
    const int* off = reinterpret_cast<const int*>(offsets) + head * tiles + tile;
    const int* e = reinterpret_cast<const int*>(entries);
    const int b = off[0], n = off[1] - b;
    int before = 0, inside = 0;
    for (int x = 0; x < n; x += blockDim.x) {
        const int y = x + threadIdx.x;
        const int t = y < n ? e[b + y] >> 1 : 0x7fffffff;
        before += __syncthreads_count(t < first);
        inside += __syncthreads_count(t >= first && t < end);
    }
    return {e + b + before, first, inside};
}

// The query tile a forward or dQ block owns, and what it derives from its indices: blockIdx.x counts query tiles of BM
// rows from the last (the heaviest causal tiles first), y is the query head, z the sequence.
template <typename T>
struct QueryTile {
    int s, h, hk;          // sequence, query head, its key/value head
    SeqInfo si;
    int64_t i0, rows;      // first row (within the sequence) and rows inside the sequence (≤ BM)
    MaskRule mask;
    const T* q;            // row i0 of head h
    const T* dout;         // row i0 of head h (the backward's dO; meaningless in the forward)
    const T* k;            // row 0 of head hk
    const T* v;
    TileWalk keys;         // the key tiles of BN rows to visit
};

// Fills `qt`; false when the tile lies past its sequence's end (then the whole block returns, before any barrier).
template <typename T, int BM, int BN, bool SPARSE>
__device__ __forceinline__ bool query_tile(const FlashParams& p, QueryTile<T>& qt) {
    qt.s = blockIdx.z;
    qt.h = blockIdx.y;
    const int mb = gridDim.x - 1 - blockIdx.x;
    qt.si = seq_info(p, qt.s);
    qt.i0 = (int64_t) mb * BM;
    if (qt.i0 >= qt.si.nq) return false;
    qt.hk = (int) (qt.h / (p.hq / p.hkv));
    qt.mask = MaskRule{qt.si.nk - qt.si.nq, qt.si.nkv, p.window_left, p.window_right,
                       SPARSE ? layout_of(p, qt.h) : LayoutMask{nullptr, 1, 0, 0}};
    qt.rows = min((int64_t) BM, qt.si.nq - qt.i0);
    const SeqInfo& si = qt.si;
    qt.q = reinterpret_cast<const T*>(p.q) + si.b * p.q_sb + (si.q0 + qt.i0) * p.q_sn + qt.h * p.q_sh;
    qt.dout = reinterpret_cast<const T*>(p.dout) + si.b * p.do_sb + (si.q0 + qt.i0) * p.do_sn + qt.h * p.do_sh;
    qt.k = reinterpret_cast<const T*>(p.k) + si.b * p.k_sb + si.k0 * p.k_sn + qt.hk * p.k_sh;
    qt.v = reinterpret_cast<const T*>(p.v) + si.b * p.v_sb + si.k0 * p.v_sn + qt.hk * p.v_sh;
    // the key tiles the masks leave: from the first row's first key to the last row's end
    const int64_t kfirst = qt.mask.first_key(qt.i0);
    const int64_t kend = qt.mask.end_key(qt.i0 + qt.rows - 1);
    const int tfirst = (int) (kfirst / BN);
    const int tend = kend > kfirst ? (int) ((kend + BN - 1) / BN) : tfirst;
    qt.keys = SPARSE ? sparse_walk(p.row_offsets, p.row_entries, p.row_tiles, p.layout_heads == 1 ? 0 : qt.h, mb,
                                   tfirst, tend)
                     : dense_walk(tfirst, tend);
    return true;
}

// ---------------------------------------------------------------------------------------------------------------------
// element types: T is __nv_bfloat16 or __half; two of them pack into one 32-bit mma operand register

template <typename T> struct Pack2;
template <> struct Pack2<__nv_bfloat16> {
    static __device__ __forceinline__ uint32_t pack(float a, float b) {
        __nv_bfloat162 h = __floats2bfloat162_rn(a, b);
        return *reinterpret_cast<uint32_t*>(&h);
    }
};
template <> struct Pack2<__half> {
    static __device__ __forceinline__ uint32_t pack(float a, float b) {
        __half2 h = __floats2half2_rn(a, b);
        return *reinterpret_cast<uint32_t*>(&h);
    }
};

// d (16×8 f32) += a (16×16) · b (16×8), row.col
template <typename T>
__device__ __forceinline__ void mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);
template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma16816<__half>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
    return (uint32_t) __cvta_generic_to_shared(p);
}

__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t (&r)[4], uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
}

// 16 bytes global → shared, zero-filled when !valid (the source address is then not read)
__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, bool valid) {
    int bytes = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(bytes));
}
// 4 bytes global → shared (L1-cached), zero-filled when !valid
__device__ __forceinline__ void cp_async4(uint32_t dst, const void* src, bool valid) {
    int bytes = valid ? 4 : 0;
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src), "r"(bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

// A tile of rows × D elements in shared memory, each row D·2 bytes, its 16-byte chunks XOR-swizzled so that the 8 rows
// an ldmatrix reads at one logical chunk land in 8 different bank groups. Chunks in whole groups of 8 are XORed with
// (row & 7). Head dims 32 and 96 end in a group of 4 chunks: rows are 64 or 192 bytes, so consecutive rows already
// alternate between the two halves of the 128-byte bank cycle, and XOR with ((row >> 1) & 3) spreads the 4 rows that
// share a half.
template <int D>
__device__ __forceinline__ int swz(int row, int chunk) {
    static_assert(D % 64 == 0 || D % 64 == 32, "head dim must be a multiple of 32");
    constexpr int FULL = (D / 8) & ~7; // chunks in whole groups of 8
    if constexpr (FULL == D / 8) {
        return row * D + ((chunk ^ (row & 7)) << 3);
    } else {
        const int c = chunk < FULL ? chunk ^ (row & 7) : FULL + ((chunk - FULL) ^ ((row >> 1) & 3));
        return row * D + (c << 3);
    }
}

// One warp's acc (16 rows × D) += S·X: S (16 × BN) as the C fragments of its 16×8 tiles (sc[n]), re-packed as A
// fragments; X (BN × D) a swizzled shared-memory tile, its B fragments read by transposing ldmatrix. The forward's
// O += P·V and the dQ pass's dQ += dS·K.
template <typename T, int D, int BN>
__device__ __forceinline__ void mma_rows_by_tile(float (&acc)[D / 8][4], const float (&sc)[BN / 8][4], const T* x,
                                                 int lane) {
#pragma unroll
    for (int ks = 0; ks < BN / 16; ks++) {
        uint32_t a[4];
        a[0] = Pack2<T>::pack(sc[2 * ks][0], sc[2 * ks][1]);
        a[1] = Pack2<T>::pack(sc[2 * ks][2], sc[2 * ks][3]);
        a[2] = Pack2<T>::pack(sc[2 * ks + 1][0], sc[2 * ks + 1][1]);
        a[3] = Pack2<T>::pack(sc[2 * ks + 1][2], sc[2 * ks + 1][3]);
#pragma unroll
        for (int d2 = 0; d2 < D / 16; d2++) {
            uint32_t b[4];
            const int r = ks * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
            ldsm_x4_t(b, smem_u32(x + swz<D>(r, d2 * 2 + (lane >> 4))));
            mma16816<T>(acc[2 * d2], a, b[0], b[1]);
            mma16816<T>(acc[2 * d2 + 1], a, b[2], b[3]);
        }
    }
}

// Copies rows [0, rows) of a strided (row stride `sn` elements) head slice into a swizzled tile; rows at or past
// `valid` are zero-filled. All `threads` threads of the block take part.
template <int D, int ROWS, int THREADS, typename T>
__device__ __forceinline__ void load_tile(T* smem, const T* g, int64_t sn, int64_t valid) {
    constexpr int CHUNKS = D / 8;
    const uint32_t base = smem_u32(smem);
#pragma unroll
    for (int it = 0; it < (ROWS * CHUNKS + THREADS - 1) / THREADS; it++) {
        int idx = it * THREADS + threadIdx.x;
        if ((ROWS * CHUNKS) % THREADS != 0 && idx >= ROWS * CHUNKS) break;
        int r = idx / CHUNKS;
        int c = idx % CHUNKS;
        bool ok = r < valid;
        const T* src = ok ? g + r * sn + c * 8 : g;
        cp_async16(base + swz<D>(r, c) * (int) sizeof(T), src, ok);
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// dropout: element (i, j) of sequence s, head h keeps its probability when
// Philox.uniform(seed, stream = s·Hq + h, n = offset + i·nk + j) ≥ p (CpuAttention, AttentionSpec)

__device__ __forceinline__ bool dropout_keep(uint64_t seed, uint32_t stream, uint64_t n, float p) {
    uint4 w = philox_block(seed, n >> 2, stream);
    uint32_t lane = (uint32_t) (n & 3);
    uint32_t word = lane == 0 ? w.x : lane == 1 ? w.y : lane == 2 ? w.z : w.w;
    return philox_uniform(word) >= p;
}

// Elements n and n + 1 (one Philox block unless n is its last lane).
__device__ __forceinline__ void dropout_keep2(uint64_t seed, uint32_t stream, uint64_t n, float p, bool& k0, bool& k1) {
    uint4 w = philox_block(seed, n >> 2, stream);
    uint32_t words[4] = {w.x, w.y, w.z, w.w};
    uint32_t lane = (uint32_t) (n & 3);
    uint32_t w0 = lane == 0 ? words[0] : lane == 1 ? words[1] : lane == 2 ? words[2] : words[3];
    uint32_t w1;
    if (lane == 3) {
        uint4 x = philox_block(seed, (n + 1) >> 2, stream);
        w1 = x.x;
    } else {
        w1 = lane == 0 ? words[1] : lane == 1 ? words[2] : words[3];
    }
    k0 = philox_uniform(w0) >= p;
    k1 = philox_uniform(w1) >= p;
}

// 2^x by the special-function unit (flushes denormal results to zero; −∞ gives 0)
__device__ __forceinline__ float fast_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

#define FLASH_LOG2E 1.4426950408889634f
#define FLASH_LN2 0.6931471805599453f

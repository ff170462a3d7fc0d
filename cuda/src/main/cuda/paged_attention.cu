// The paged KV cache (PagedAttention, Kwon et al. 2023) on the GPU: storing new keys and values in their cache slots,
// attention of new query rows over each sequence's cached context read through its block table, and copy-on-write
// block copies over all layers' caches at once. Swapping is plain cuMemcpy on the host side (CudaPagedKv).
//
// Layout (ai.fulgur.ops.kvcache.PagedKvKernels): caches (numBlocks, blockSize, Hkv, D) contiguous, slot s = row
// s % blockSize of block s / blockSize; index tensors int32; query (T, Hq, D) with a unit stride on D; out (T, Hq, D)
// contiguous. Math in float: BF16/F16 are widened on load, the output rounded once.
//
// Decode (one query row per sequence), paged_attention_decode_d<D>: one block of 128 threads per (query head,
// sequence, partition of PA_PARTITION tokens). A group of G lanes holds one token's D-element row as 16-byte loads, so
// a warp reads 32/G rows per step, and each lane keeps PA_UNROLL steps of loads in flight before it uses them. Pass 1
// writes the partition's scores to shared memory, the block takes their max and sum of exponentials, pass 2 sums
// p·V with the same lane layout and the groups are added in shared memory. A context of one partition writes the
// output directly; longer ones (split-K, so that a few long sequences still fill the GPU) write the partition's
// unnormalised output, max and sum, and paged_attention_reduce combines the partitions.
//
// Other cases (chunked prefill rows, head dims without a decode instantiation), paged_attention_rows: one warp per
// (query row, head), online softmax over chunks of 32 keys, one key per lane for the scores and the lanes over D for
// p·V. Correct for any D <= 256; not tuned.
#include "fulgur.cuh"
#include <math_constants.h>

#define PA_THREADS 128
#define PA_WARPS (PA_THREADS / 32)
#define PA_PARTITION 512
#define PA_UNROLL 4
#define PA_MAX_HEAD_DIM 256

// ---------------------------------------------------------------------------------------------------------------------
// reshape_and_cache: cache[slot[t]] = key[t], value[t]; one block per token, W elements per thread step (W = 16 bytes
// when every row is aligned, else 1). key and value rows may be strided (a slice of a fused QKV projection).

template <typename T, int W>
__device__ __forceinline__ void reshape_and_cache(T* __restrict__ key_cache, T* __restrict__ value_cache,
        const T* __restrict__ key, const T* __restrict__ value, const int* __restrict__ slot_mapping, int hkv, int d,
        int64_t key_stride_t, int64_t key_stride_h, int64_t value_stride_t, int64_t value_stride_h) {
    using V = Vec<T, W>;
    const int64_t t = blockIdx.x;
    const int slot = slot_mapping[t];
    if (slot < 0) return; // padding token
    const int per_head = d / W;
    for (int i = threadIdx.x; i < hkv * per_head; i += blockDim.x) {
        const int h = i / per_head;
        const int c = (i - h * per_head) * W;
        const int64_t dst = ((int64_t) slot * hkv + h) * d + c;
        *(V*) (key_cache + dst) = *(const V*) (key + t * key_stride_t + h * key_stride_h + c);
        *(V*) (value_cache + dst) = *(const V*) (value + t * value_stride_t + h * value_stride_h + c);
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// decode: one query row per sequence

template <typename T, int D>
__device__ __forceinline__ void paged_attention_decode(T* __restrict__ out, float* __restrict__ part_out,
        float* __restrict__ part_max, float* __restrict__ part_sum, const T* __restrict__ q,
        const T* __restrict__ key_cache, const T* __restrict__ value_cache, const int* __restrict__ block_tables,
        const int* __restrict__ query_starts, const int* __restrict__ context_lens, int hkv, int block_size,
        int table_width, int64_t q_stride_t, int64_t q_stride_h, float scale, int max_parts) {
    constexpr int W = 16 / sizeof(T);         // elements per 16-byte load
    constexpr int NVEC = D / W;               // loads per row
    constexpr int G = NVEC < 32 ? NVEC : 32;  // lanes per token
    constexpr int VPL = NVEC / G;             // loads per lane and row
    constexpr int TPW = 32 / G;               // tokens per warp step
    constexpr int GROUPS = PA_WARPS * TPW;    // tokens per block step
    using V = Vec<T, W>;
    __shared__ float logits[PA_PARTITION];
    __shared__ float partial[GROUPS][D];
    __shared__ float scratch[32];

    const int h = blockIdx.x;
    const int s = blockIdx.y;
    const int part = blockIdx.z;
    const int hq = gridDim.x;
    const int ctx = context_lens[s];
    const int start = part * PA_PARTITION;
    if (start >= ctx) return; // a partition past this sequence's context
    const int end = min(ctx, start + PA_PARTITION);
    const int kvh = h / (hq / hkv);
    const int64_t t = query_starts[s];
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    const int group_lane = lane % G;
    const int* table = block_tables + (int64_t) s * table_width;
    const int64_t token_stride = (int64_t) hkv * D;

    // this lane's slices of the query row, widened and scaled
    float qf[VPL][W];
    const T* q_row = q + t * q_stride_t + h * q_stride_h;
#pragma unroll
    for (int v = 0; v < VPL; v++) {
        V x = *(const V*) (q_row + (group_lane + v * G) * W);
#pragma unroll
        for (int i = 0; i < W; i++) qf[v][i] = widen(x.v[i]) * scale;
    }

    // pass 1: the scores of the partition's tokens; the step base is warp-uniform so the shuffles see every lane
    float local_max = -CUDART_INF_F;
    for (int base = start + warp * TPW; base < end; base += GROUPS * PA_UNROLL) {
        V k[PA_UNROLL][VPL];
#pragma unroll
        for (int u = 0; u < PA_UNROLL; u++) {
            const int j = base + lane / G + u * GROUPS;
            if (j < end) {
                const T* row = key_cache + ((int64_t) table[j / block_size] * block_size + j % block_size)
                        * token_stride + kvh * D;
#pragma unroll
                for (int v = 0; v < VPL; v++) k[u][v] = *(const V*) (row + (group_lane + v * G) * W);
            } else {
#pragma unroll
                for (int v = 0; v < VPL; v++) *(uint4*) &k[u][v] = make_uint4(0u, 0u, 0u, 0u);
            }
        }
#pragma unroll
        for (int u = 0; u < PA_UNROLL; u++) {
            float dot = 0.f;
#pragma unroll
            for (int v = 0; v < VPL; v++) {
#pragma unroll
                for (int i = 0; i < W; i++) dot += qf[v][i] * widen(k[u][v].v[i]);
            }
#pragma unroll
            for (int o = G / 2; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
            const int j = base + lane / G + u * GROUPS;
            if (j < end) {
                if (group_lane == 0) logits[j - start] = dot;
                local_max = fmaxf(local_max, dot);
            }
        }
    }
    const float max = block_reduce(local_max, MaxOp(), scratch);
    float local_sum = 0.f;
    for (int i = threadIdx.x; i < end - start; i += PA_THREADS) {
        const float p = __expf(logits[i] - max);
        logits[i] = p;
        local_sum += p;
    }
    const float sum = block_reduce(local_sum, SumOp(), scratch); // its __syncthreads also publish the p values

    // pass 2: Σ p·V over the partition, each group over its tokens, then the groups added
    float acc[VPL][W];
#pragma unroll
    for (int v = 0; v < VPL; v++) {
#pragma unroll
        for (int i = 0; i < W; i++) acc[v][i] = 0.f;
    }
    for (int base = start + warp * TPW; base < end; base += GROUPS * PA_UNROLL) {
        V x[PA_UNROLL][VPL];
        float p[PA_UNROLL];
#pragma unroll
        for (int u = 0; u < PA_UNROLL; u++) {
            const int j = base + lane / G + u * GROUPS;
            if (j < end) {
                const T* row = value_cache + ((int64_t) table[j / block_size] * block_size + j % block_size)
                        * token_stride + kvh * D;
#pragma unroll
                for (int v = 0; v < VPL; v++) x[u][v] = *(const V*) (row + (group_lane + v * G) * W);
                p[u] = logits[j - start];
            } else {
#pragma unroll
                for (int v = 0; v < VPL; v++) *(uint4*) &x[u][v] = make_uint4(0u, 0u, 0u, 0u);
                p[u] = 0.f;
            }
        }
#pragma unroll
        for (int u = 0; u < PA_UNROLL; u++) {
#pragma unroll
            for (int v = 0; v < VPL; v++) {
#pragma unroll
                for (int i = 0; i < W; i++) acc[v][i] += p[u] * widen(x[u][v].v[i]);
            }
        }
    }
    const int group = warp * TPW + lane / G;
#pragma unroll
    for (int v = 0; v < VPL; v++) {
#pragma unroll
        for (int i = 0; i < W; i++) partial[group][(group_lane + v * G) * W + i] = acc[v][i];
    }
    __syncthreads();
    const int64_t slot = ((int64_t) s * hq + h) * max_parts + part;
    for (int c = threadIdx.x; c < D; c += PA_THREADS) {
        float o = 0.f;
#pragma unroll
        for (int g = 0; g < GROUPS; g++) o += partial[g][c];
        if (max_parts == 1) {
            out[(t * hq + h) * D + c] = narrow<T>(o / sum);
        } else {
            part_out[slot * D + c] = o;
        }
    }
    if (max_parts > 1 && threadIdx.x == 0) {
        part_max[slot] = max;
        part_sum[slot] = sum;
    }
}

// Combines the partitions of each (sequence, head): out = Σ_p e^(m_p − M) o_p / Σ_p e^(m_p − M) l_p, M = max_p m_p.
template <typename T>
__device__ __forceinline__ void paged_attention_reduce(T* __restrict__ out, const float* __restrict__ part_out,
        const float* __restrict__ part_max, const float* __restrict__ part_sum, const int* __restrict__ query_starts,
        const int* __restrict__ context_lens, int d, int max_parts) {
    const int h = blockIdx.x;
    const int s = blockIdx.y;
    const int hq = gridDim.x;
    const int parts = (context_lens[s] + PA_PARTITION - 1) / PA_PARTITION;
    const int64_t first = ((int64_t) s * hq + h) * max_parts;
    float m = -CUDART_INF_F;
    for (int p = 0; p < parts; p++) m = fmaxf(m, part_max[first + p]);
    float total = 0.f;
    for (int p = 0; p < parts; p++) total += __expf(part_max[first + p] - m) * part_sum[first + p];
    const int64_t t = query_starts[s];
    for (int c = threadIdx.x; c < d; c += blockDim.x) {
        float o = 0.f;
        for (int p = 0; p < parts; p++) o += __expf(part_max[first + p] - m) * part_out[(first + p) * d + c];
        out[(t * hq + h) * d + c] = narrow<T>(o / total);
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// any rows: one warp per (query row, head), for chunked prefill and head dims without a decode kernel

template <typename T>
__device__ __forceinline__ void paged_attention_rows(T* __restrict__ out, const T* __restrict__ q,
        const T* __restrict__ key_cache, const T* __restrict__ value_cache, const int* __restrict__ block_tables,
        const int* __restrict__ query_starts, const int* __restrict__ context_lens, int seqs, int rows, int hq,
        int hkv, int d, int block_size, int table_width, int64_t q_stride_t, int64_t q_stride_h, float scale) {
    constexpr int PER_LANE = PA_MAX_HEAD_DIM / 32;
    __shared__ float q_shared[PA_WARPS][PA_MAX_HEAD_DIM];
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    const int64_t task = (int64_t) blockIdx.x * PA_WARPS + warp;
    if (task >= (int64_t) rows * hq) return; // uniform over the warp
    const int t = (int) (task / hq);
    const int h = (int) (task % hq);
    // the sequence owning row t: the last s with query_starts[s] <= t
    int lo = 0;
    int hi = seqs - 1;
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (query_starts[mid] <= t) lo = mid; else hi = mid - 1;
    }
    const int s = lo;
    const int nq = query_starts[s + 1] - query_starts[s];
    const int last = context_lens[s] - nq + (t - query_starts[s]); // causal: positions 0..last
    const int kvh = h / (hq / hkv);
    const int* table = block_tables + (int64_t) s * table_width;
    float* qs = q_shared[warp];
    for (int c = lane; c < d; c += 32) qs[c] = widen(q[(int64_t) t * q_stride_t + (int64_t) h * q_stride_h + c]) * scale;
    __syncwarp();

    float m = -CUDART_INF_F;
    float l = 0.f;
    float acc[PER_LANE];
#pragma unroll
    for (int i = 0; i < PER_LANE; i++) acc[i] = 0.f;
    for (int j0 = 0; j0 <= last; j0 += 32) {
        const int j = j0 + lane;
        float score = -CUDART_INF_F;
        int64_t row = 0;
        if (j <= last) {
            row = (((int64_t) table[j / block_size] * block_size + j % block_size) * hkv + kvh) * d;
            float dot = 0.f;
            for (int c = 0; c < d; c++) dot += qs[c] * widen(key_cache[row + c]);
            score = dot;
        }
        const float m_new = fmaxf(m, warp_reduce(score, MaxOp()));
        const float p = j <= last ? __expf(score - m_new) : 0.f;
        const float correction = __expf(m - m_new);
        l = l * correction + warp_reduce(p, SumOp());
#pragma unroll
        for (int i = 0; i < PER_LANE; i++) acc[i] *= correction;
        const int count = min(32, last - j0 + 1);
        for (int jj = 0; jj < count; jj++) {
            const float pj = __shfl_sync(0xffffffffu, p, jj);
            const int64_t rj = __shfl_sync(0xffffffffu, row, jj);
#pragma unroll
            for (int i = 0; i < PER_LANE; i++) {
                const int c = lane + 32 * i;
                if (c < d) acc[i] += pj * widen(value_cache[rj + c]);
            }
        }
        m = m_new;
    }
#pragma unroll
    for (int i = 0; i < PER_LANE; i++) {
        const int c = lane + 32 * i;
        if (c < d) out[((int64_t) t * hq + h) * d + c] = narrow<T>(acc[i] / l);
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// copy_blocks: block pairs[2i + 1] = block pairs[2i] in every cache of caches[] (device addresses, one per layer and
// key/value); one thread block per (pair, cache), U-sized units (16 bytes when every block is aligned, else 1 byte).

template <typename U>
__device__ __forceinline__ void copy_blocks(const int64_t* __restrict__ caches, const int* __restrict__ pairs,
        int64_t block_bytes) {
    const int pair = blockIdx.x;
    unsigned char* base = (unsigned char*) caches[blockIdx.y];
    const U* src = (const U*) (base + pairs[2 * pair] * block_bytes);
    U* dst = (U*) (base + pairs[2 * pair + 1] * block_bytes);
    const int64_t units = block_bytes / (int64_t) sizeof(U);
    for (int64_t i = threadIdx.x; i < units; i += blockDim.x) dst[i] = src[i];
}

extern "C" __global__ void copy_blocks_vec(const int64_t* caches, const int* pairs, int64_t block_bytes) {
    copy_blocks<uint4>(caches, pairs, block_bytes);
}

extern "C" __global__ void copy_blocks_bytes(const int64_t* caches, const int* pairs, int64_t block_bytes) {
    copy_blocks<unsigned char>(caches, pairs, block_bytes);
}

// ---------------------------------------------------------------------------------------------------------------------
// entry points: <name>_<dtype>, decode kernels also by head dim

#define PA_DECODE_ENTRY_POINT(SUFFIX, T, D)                                                                          \
    extern "C" __global__ void __launch_bounds__(PA_THREADS) paged_attention_decode_d##D##_##SUFFIX(T* out,         \
            float* part_out, float* part_max, float* part_sum, const T* q, const T* key_cache, const T* value_cache, \
            const int* block_tables, const int* query_starts, const int* context_lens, int hkv, int block_size,      \
            int table_width, int64_t q_stride_t, int64_t q_stride_h, float scale, int max_parts) {                   \
        paged_attention_decode<T, D>(out, part_out, part_max, part_sum, q, key_cache, value_cache, block_tables,   \
                query_starts, context_lens, hkv, block_size, table_width, q_stride_t, q_stride_h, scale, max_parts); \
    }

#define PA_ENTRY_POINTS(SUFFIX, T)                                                                                   \
    extern "C" __global__ void reshape_and_cache_vec_##SUFFIX(T* key_cache, T* value_cache, const T* key,          \
            const T* value, const int* slot_mapping, int hkv, int d, int64_t key_stride_t, int64_t key_stride_h,    \
            int64_t value_stride_t, int64_t value_stride_h) {                                                        \
        reshape_and_cache<T, 16 / sizeof(T)>(key_cache, value_cache, key, value, slot_mapping, hkv, d,             \
                key_stride_t, key_stride_h, value_stride_t, value_stride_h);                                         \
    }                                                                                                                \
    extern "C" __global__ void reshape_and_cache_##SUFFIX(T* key_cache, T* value_cache, const T* key,              \
            const T* value, const int* slot_mapping, int hkv, int d, int64_t key_stride_t, int64_t key_stride_h,    \
            int64_t value_stride_t, int64_t value_stride_h) {                                                        \
        reshape_and_cache<T, 1>(key_cache, value_cache, key, value, slot_mapping, hkv, d, key_stride_t,            \
                key_stride_h, value_stride_t, value_stride_h);                                                       \
    }                                                                                                                \
    PA_DECODE_ENTRY_POINT(SUFFIX, T, 32)                                                                             \
    PA_DECODE_ENTRY_POINT(SUFFIX, T, 64)                                                                             \
    PA_DECODE_ENTRY_POINT(SUFFIX, T, 128)                                                                            \
    PA_DECODE_ENTRY_POINT(SUFFIX, T, 256)                                                                            \
    extern "C" __global__ void paged_attention_reduce_##SUFFIX(T* out, const float* part_out,                      \
            const float* part_max, const float* part_sum, const int* query_starts, const int* context_lens, int d,  \
            int max_parts) {                                                                                         \
        paged_attention_reduce<T>(out, part_out, part_max, part_sum, query_starts, context_lens, d, max_parts);     \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(PA_THREADS) paged_attention_rows_##SUFFIX(T* out, const T* q,     \
            const T* key_cache, const T* value_cache, const int* block_tables, const int* query_starts,            \
            const int* context_lens, int seqs, int rows, int hq, int hkv, int d, int block_size, int table_width,  \
            int64_t q_stride_t, int64_t q_stride_h, float scale) {                                                   \
        paged_attention_rows<T>(out, q, key_cache, value_cache, block_tables, query_starts, context_lens, seqs,    \
                rows, hq, hkv, d, block_size, table_width, q_stride_t, q_stride_h, scale);                           \
    }

PA_ENTRY_POINTS(f32, float)
PA_ENTRY_POINTS(bf16, __nv_bfloat16)
PA_ENTRY_POINTS(f16, __half)

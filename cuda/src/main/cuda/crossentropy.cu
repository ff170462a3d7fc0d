// Fused cross-entropy (log-softmax + negative log-likelihood) over rows of logits, forward and backward; the GPU side
// of ai.fulgur.ops.loss.LossKernels with ai.fulgur.ops.cpu.CpuLoss as the reference. Softmax is never stored: the
// forward saves the row logsumexp, the backward recomputes each probability from it in one pass over the row.
//
// Layout: one block per row (grid-stride over rows), the row read with 16-byte loads after a scalar head that brings
// the address to 16-byte alignment (V = 50257 rows start anywhere) and before a scalar tail. Rows sit a row stride
// apart (ldx for logits, ldd for dlogits, each ≥ V): V for contiguous rows, more for a row-pitched vocabulary head's
// output, whose padded rows all start 16-byte aligned; the elements past V in a row are neither read nor written.
// The forward issues CE_CHUNK loads a thread before using any of them: one load at a time (each behind the previous
// pack's arithmetic and the loop's bound check) kept 16 bytes a thread in flight, too few to cover the latency of an
// H200's memory.
// Types: T is the logits' storage type, A the accumulation and output type: float for F32, BF16 and F16 logits (losses
// and lse are F32 for half logits), double for F64.
// Targets are I32 or I64 (targetType is the DType ordinal). Bounds: the facade checks host targets only, so the
// kernels check on the device. A target that is neither the ignore index nor in [0, V) reads nothing out of bounds:
// its row gets loss NaN (lse is still written) in the forward and NaN in every dlogits element in the backward.
// Leaves out: label smoothing, class weights, reductions over rows (the facade sums or averages the losses).
#include "fulgur.cuh"

__device__ __forceinline__ float exp_acc(float x) { return expf(x); }
__device__ __forceinline__ double exp_acc(double x) { return exp(x); }
__device__ __forceinline__ float log_acc(float x) { return logf(x); }
__device__ __forceinline__ double log_acc(double x) { return log(x); }

// Online logsumexp state of one thread: running max m and sum s of exp(x - m).
template <typename A> struct Lse {
    A m;
    A s;
};

// exp(x − m) for every x of a pack, m fixed: float uses one FFMA and one MUFU.EX2 per element, exp2(x·log2e − m·log2e)
// (the argument rounded once; about 1e-6 relative, like expf's own reduction); double uses exp.
#define LOG2E_F 1.4426950408889634f
__device__ __forceinline__ float exp_bias(float m) { return -m * LOG2E_F; }
__device__ __forceinline__ double exp_bias(double m) { return -m; }
// ex2.approx.ftz: exp2f's own ex2.approx (no ftz) adds a range fix-up around each MUFU.EX2 for results under
// 2^-126, which add nothing to a sum that holds exp(max − max) = 1.
__device__ __forceinline__ float exp_shifted(float x, float bias) {
    float r;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(fmaf(x, LOG2E_F, bias)));
    return r;
}
__device__ __forceinline__ double exp_shifted(double x, double bias) { return exp(x + bias); }

// Adds one pack of values: rescales once to the pack's max, then sums. While the max is still -inf every value so far
// is -inf (contributing 0) or NaN (making s NaN, as on the CPU), so that case adds no exponentials at all.
// The max skips NaN (fmax: one instruction, where compare-and-select took two); a NaN still reaches the sum through
// its exponential. The max and the sum run as two independent chains each (halving their dependent latency).
template <typename A, int K>
__device__ __forceinline__ void lse_add(Lse<A>& st, const A (&x)[K]) {
    A pm0 = x[0];
    A pm1 = K > 1 ? x[1] : x[0];
#pragma unroll
    for (int k = 2; k < K; k += 2) {
        pm0 = fmax(pm0, x[k]);
        if (k + 1 < K) pm1 = fmax(pm1, x[k + 1]);
    }
    const A pm = fmax(pm0, pm1);
    if (pm > st.m) {
        st.s *= exp_acc(st.m - pm); // exp(-inf) = 0 while st.s is still 0
        st.m = pm;
    }
    if (st.m == (A) -INFINITY) {
#pragma unroll
        for (int k = 0; k < K; k++) st.s = x[k] != x[k] ? x[k] : st.s;
        return;
    }
    A bias = exp_bias(st.m);
    A s0 = 0;
    A s1 = 0;
#pragma unroll
    for (int k = 0; k < K; k += 2) {
        s0 += exp_shifted(x[k], bias); // -inf gives 0, NaN gives NaN
        if (k + 1 < K) s1 += exp_shifted(x[k + 1], bias);
    }
    st.s += s0 + s1;
}

template <typename A> __device__ __forceinline__ Lse<A> lse_combine(Lse<A> a, Lse<A> b) {
    A m = a.m > b.m ? a.m : b.m;
    if (m == (A) -INFINITY) return {m, a.s + b.s};
    return {m, a.s * exp_acc(a.m - m) + b.s * exp_acc(b.m - m)};
}

// Combines the threads' states; every thread of the block receives the result. blockDim.x is a multiple of 32.
template <typename A> __device__ Lse<A> lse_block_reduce(Lse<A> st) {
    __shared__ A sm[32];
    __shared__ A ss[32];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        Lse<A> other = {__shfl_xor_sync(0xffffffffu, st.m, o), __shfl_xor_sync(0xffffffffu, st.s, o)};
        st = lse_combine(st, other);
    }
    int warp = threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    int warps = blockDim.x / 32;
    __syncthreads(); // the previous row's readers are done with sm/ss
    if (lane == 0) {
        sm[warp] = st.m;
        ss[warp] = st.s;
    }
    __syncthreads();
    st = lane < warps ? Lse<A>{sm[lane], ss[lane]} : Lse<A>{(A) -INFINITY, (A) 0};
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        Lse<A> other = {__shfl_xor_sync(0xffffffffu, st.m, o), __shfl_xor_sync(0xffffffffu, st.s, o)};
        st = lse_combine(st, other);
    }
    return st;
}

// Elements before the first 16-byte aligned address of a row (at most V).
template <typename T> __device__ __forceinline__ int64_t aligned_head(const T* row, int64_t V) {
    int64_t head = (int64_t) (((16 - ((uintptr_t) row & 15)) & 15) / sizeof(T));
    return head < V ? head : V;
}

// Packs of the forward's main loop loaded before any is used (a thread's bytes in flight: CE_CHUNK · 16).
constexpr int CE_CHUNK = 4;

// losses (R) and lse (R), A; logits (R, V) with row stride ldx, T; targets (R), I32/I64.
template <typename T, typename A>
__device__ void crossentropy_forward_kernel(A* losses, A* lse, const T* logits, int64_t ldx, const void* targets,
                                            int targetType, int64_t R, int64_t V, int64_t ignoreIndex) {
    constexpr int K = 16 / sizeof(T);
    using Pack = Vec<T, K>;
    const int64_t step = blockDim.x;
    for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
        const T* x = logits + r * ldx;
        // thread 0 reads the target and its logit now, so that their latency overlaps the row's loads
        int64_t t = 0;
        A xt = 0;
        if (threadIdx.x == 0) {
            t = load_long(targets, targetType, r);
            if (t != ignoreIndex && t >= 0 && t < V) xt = (A) widen(x[t]);
        }
        Lse<A> st = {(A) -INFINITY, (A) 0};
        int64_t head = aligned_head(x, V);
        int64_t nvec = (V - head) / K;
        for (int64_t j = threadIdx.x; j < head; j += step) {
            A one[1] = {widen(x[j])};
            lse_add(st, one);
        }
        const Pack* body = reinterpret_cast<const Pack*>(x + head);
        int64_t k = threadIdx.x;
        for (; k + (CE_CHUNK - 1) * step < nvec; k += CE_CHUNK * step) {
            Pack p[CE_CHUNK];
#pragma unroll
            for (int u = 0; u < CE_CHUNK; u++) p[u] = body[k + u * step];
            A v[CE_CHUNK * K];
#pragma unroll
            for (int u = 0; u < CE_CHUNK; u++) {
#pragma unroll
                for (int e = 0; e < K; e++) v[u * K + e] = widen(p[u].v[e]);
            }
            lse_add(st, v);
        }
        for (; k < nvec; k += step) { // the last packs, fewer than CE_CHUNK a thread
            Pack p = body[k];
            A v[K];
#pragma unroll
            for (int e = 0; e < K; e++) v[e] = widen(p.v[e]);
            lse_add(st, v);
        }
        for (int64_t j = head + nvec * K + threadIdx.x; j < V; j += step) {
            A one[1] = {widen(x[j])};
            lse_add(st, one);
        }
        st = lse_block_reduce(st);
        if (threadIdx.x == 0) {
            A logSumExp = st.m + log_acc(st.s);
            A loss;
            if (t == ignoreIndex) {
                loss = 0;
            } else if (t < 0 || t >= V) {
                loss = (A) NAN; // out-of-range target: reported as NaN, nothing read
            } else {
                loss = logSumExp - xt;
            }
            lse[r] = logSumExp;
            losses[r] = loss;
        }
    }
}

// dlogits (R, V) with row stride ldd, T; dlosses (R) and lse (R), any floating type (dlossesType, lseType);
// logits (R, V) with row stride ldx, T; targets (R), I32/I64.
// dlogits[r, j] = dlosses[r] · (exp(logits[r, j] − lse[r]) − [j == targets[r]]).
template <typename T, typename A>
__device__ void crossentropy_backward_kernel(T* dlogits, int64_t ldd, const void* dlosses, int dlossesType,
                                             const T* logits, int64_t ldx, const void* lse, int lseType,
                                             const void* targets, int targetType, int64_t R, int64_t V,
                                             int64_t ignoreIndex) {
    constexpr int K = 16 / sizeof(T);
    using Pack = Vec<T, K>;
    for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
        const T* x = logits + r * ldx;
        T* dx = dlogits + r * ldd;
        int64_t t = load_long(targets, targetType, r);
        bool ignored = t == ignoreIndex;
        A g = 0;
        A L = 0;
        if (!ignored && (t < 0 || t >= V)) {
            g = (A) NAN; // out-of-range target: the whole row becomes NaN
            t = -1;      // and no one-hot position
        } else if (!ignored) {
            g = Io<A>::load(dlosses, dlossesType, r);
            L = Io<A>::load(lse, lseType, r);
        }
        // the vector path needs x and dx equally misaligned; they are whenever both bases are 16-byte aligned
        bool vec = (((uintptr_t) x ^ (uintptr_t) dx) & 15) == 0;
        int64_t head = vec ? aligned_head(x, V) : V;
        int64_t nvec = (V - head) / K;
        for (int64_t j = threadIdx.x; j < head; j += blockDim.x) {
            A p = ignored ? (A) 0 : exp_acc((A) widen(x[j]) - L);
            dx[j] = narrow<T>(ignored ? (A) 0 : g * (p - (j == t ? (A) 1 : (A) 0)));
        }
        const Pack* in = reinterpret_cast<const Pack*>(x + head);
        Pack* out = reinterpret_cast<Pack*>(dx + head);
#pragma unroll 4
        for (int64_t k = threadIdx.x; k < nvec; k += blockDim.x) {
            Pack o;
            if (ignored) {
#pragma unroll
                for (int e = 0; e < K; e++) o.v[e] = narrow<T>((A) 0);
            } else {
                Pack p = in[k];
                int64_t j0 = head + k * K;
#pragma unroll
                for (int e = 0; e < K; e++) {
                    A q = exp_acc((A) widen(p.v[e]) - L);
                    o.v[e] = narrow<T>(g * (q - (j0 + e == t ? (A) 1 : (A) 0)));
                }
            }
            out[k] = o;
        }
        for (int64_t j = head + nvec * K + threadIdx.x; j < V; j += blockDim.x) {
            A p = ignored ? (A) 0 : exp_acc((A) widen(x[j]) - L);
            dx[j] = narrow<T>(ignored ? (A) 0 : g * (p - (j == t ? (A) 1 : (A) 0)));
        }
    }
}

#define CROSSENTROPY_ENTRY_POINTS(SUFFIX, T, A)                                                                     \
    extern "C" __global__ void crossentropy_forward_##SUFFIX(A* losses, A* lse, const T* logits, int64_t ldx,      \
                                                             const void* targets, int targetType, int64_t R,        \
                                                             int64_t V, int64_t ignoreIndex) {                      \
        crossentropy_forward_kernel<T, A>(losses, lse, logits, ldx, targets, targetType, R, V, ignoreIndex);       \
    }                                                                                                               \
    extern "C" __global__ void crossentropy_backward_##SUFFIX(T* dlogits, int64_t ldd, const void* dlosses,        \
                                                              int dlossesType, const T* logits, int64_t ldx,        \
                                                              const void* lse, int lseType, const void* targets,    \
                                                              int targetType, int64_t R, int64_t V,                 \
                                                              int64_t ignoreIndex) {                                \
        crossentropy_backward_kernel<T, A>(dlogits, ldd, dlosses, dlossesType, logits, ldx, lse, lseType, targets, \
                                           targetType, R, V, ignoreIndex);                                          \
    }

CROSSENTROPY_ENTRY_POINTS(f32, float, float)
CROSSENTROPY_ENTRY_POINTS(bf16, __nv_bfloat16, float)
CROSSENTROPY_ENTRY_POINTS(f16, __half, float)
CROSSENTROPY_ENTRY_POINTS(f64, double, double)

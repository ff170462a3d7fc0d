// Optimizer updates in place: Adam/AdamW (one tensor, or many tensors in one launch) and SGD with momentum; the GPU
// side of ai.fulgur.ops.optim.OptimKernels with ai.fulgur.ops.cpu.CpuOptim as the reference. The Adam step, per
// element, exactly as AdamParams documents it (g = clip(rescale · grad), L2 or decoupled decay, bias corrections
// folded into stepSize = lr / bc1 and sqrtBc2 = √bc2 by the host, eps outside the root):
//
//   g += wd · w (Adam only);  m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;  w −= lr·wd·w (AdamW only);
//   w −= stepSize · m / (√v / sqrtBc2 + eps)
//
// Types: every tensor has its own dtype (wType, gType, mType, vType are DType ordinals), so F32 parameters and
// moments, BF16 parameters or gradients with F32 moments, or F64 everything all work; F32 w, m, v with an F32 or BF16
// gradient, all 16-byte (BF16: 8-byte) aligned, take a vector path (4 elements a load, two loads in flight per
// thread). C, the compute type, is float (entry points _f32) or double (_f64, chosen by the host when a tensor is
// F64); the CPU computes in double, so F32 results agree to rounding, not bit for bit.
// BF16 parameters are rounded after every step (no master copy, no stochastic rounding).
//
// Multi-tensor: the host uploads an array of AdamTensor {w, g, m, v, n, types, firstChunk, flags} once per parameter
// set (ai.fulgur.cuda.AdamTensorTable); the launch's blocks grid-stride over chunks of ADAM_CHUNK elements numbered
// across all tensors, and a block finds its tensor by binary search over firstChunk. One launch updates every
// parameter of a model; flags bit 0 says whether the tensor takes weight decay (GPT-2 excludes biases and norms).
// The _stepped entry points read {lr, stepSize, sqrtBc2} from device memory, so a captured CUDA graph replays with
// each step's values.
#include "fulgur.cuh"

#define ADAM_CHUNK 16384

template <typename C> struct AdamArgs {
    C beta1, oneMinusBeta1, beta2, oneMinusBeta2, eps, weightDecay, lrTimesWeightDecay, stepSize, sqrtBc2, rescale,
        clip;
    bool decoupled;
};

template <typename C>
__device__ __forceinline__ AdamArgs<C> adam_args(double lr, double beta1, double beta2, double eps,
                                                 double weightDecay, int decoupled, double stepSize, double sqrtBc2,
                                                 double rescale, double clip) {
    AdamArgs<C> a;
    a.beta1 = (C) beta1;
    a.oneMinusBeta1 = (C) (1 - beta1);
    a.beta2 = (C) beta2;
    a.oneMinusBeta2 = (C) (1 - beta2);
    a.eps = (C) eps;
    a.weightDecay = (C) weightDecay;
    a.lrTimesWeightDecay = (C) (lr * weightDecay);
    a.stepSize = (C) stepSize;
    a.sqrtBc2 = (C) sqrtBc2;
    a.rescale = (C) rescale;
    a.clip = (C) clip;
    a.decoupled = decoupled != 0;
    return a;
}

// clip < 0 disables; NaN passes through (as Math.max/min do on the CPU).
template <typename C> __device__ __forceinline__ C clip_grad(C g, C clip) {
    if (clip < 0) return g;
    return g < -clip ? -clip : (g > clip ? clip : g);
}

template <typename C>
__device__ __forceinline__ void adam_step(C& w, C g, C& m, C& v, const AdamArgs<C>& a) {
    g = clip_grad(g * a.rescale, a.clip);
    if (!a.decoupled) g += a.weightDecay * w;
    m = a.beta1 * m + a.oneMinusBeta1 * g;
    v = a.beta2 * v + a.oneMinusBeta2 * g * g;
    if (a.decoupled) w -= a.lrTimesWeightDecay * w;
    w -= a.stepSize * m / (sqrt(v) / a.sqrtBc2 + a.eps);
}

// One parameter tensor: addresses of its first elements, element count, and the four dtype codes (w | g << 8 |
// m << 16 | v << 24). Also the host's layout of ai.fulgur.cuda.CudaOptim's descriptor array (8 int64 each).
struct AdamTensor {
    int64_t w, g, m, v;
    int64_t n;
    int64_t types;
    int64_t firstChunk; // chunks of earlier tensors (multi-tensor launches only)
    int64_t flags;      // bit 0: weight decay applies (ADAM_DECAY); otherwise the tensor's weightDecay is 0
};

#define ADAM_DECAY 1

// The arguments for a tensor without weight decay: L2 term and decoupled decay both vanish.
template <typename C> __device__ __forceinline__ AdamArgs<C> without_decay(AdamArgs<C> a) {
    a.weightDecay = 0;
    a.lrTimesWeightDecay = 0;
    return a;
}

template <typename C>
__device__ __forceinline__ void adam_step4(float4& w, float4 g, float4& m, float4& v, const AdamArgs<C>& a) {
    adam_step<C>(w.x, g.x, m.x, v.x, a);
    adam_step<C>(w.y, g.y, m.y, v.y, a);
    adam_step<C>(w.z, g.z, m.z, v.z, a);
    adam_step<C>(w.w, g.w, m.w, v.w, a);
}

// Four gradients at g + i: F32 (16-byte load) or BF16 (8-byte load), as floats.
template <bool G_BF16> __device__ __forceinline__ float4 load_grad4(const void* g, int64_t i) {
    if constexpr (G_BF16) {
        uint2 raw = __ldg((const uint2*) ((const __nv_bfloat16*) g + i));
        __nv_bfloat162 lo = *(const __nv_bfloat162*) &raw.x, hi = *(const __nv_bfloat162*) &raw.y;
        float2 a = __bfloat1622float2(lo), b = __bfloat1622float2(hi);
        return make_float4(a.x, a.y, b.x, b.y);
    } else {
        return __ldg((const float4*) ((const float*) g + i));
    }
}

// F32 w, m, v and an F32 or BF16 g over [start, end4), end4 − start a multiple of 4, all aligned: each thread loads two
// groups of four before it computes, so eight independent 16-byte loads are in flight (the tensors may alias as far
// as the compiler knows, which would otherwise keep a store between every load).
template <typename C, bool G_BF16>
__device__ __forceinline__ void adam_range_vec(float* w, const void* g, float* m, float* v, int64_t start,
                                               int64_t end4, const AdamArgs<C>& a) {
    const int64_t stride = 4 * (int64_t) blockDim.x;
    int64_t i = start + 4 * (int64_t) threadIdx.x;
    for (; i + stride < end4; i += 2 * stride) {
        int64_t j = i + stride;
        float4 w0 = *(const float4*) (w + i), w1 = *(const float4*) (w + j);
        float4 g0 = load_grad4<G_BF16>(g, i), g1 = load_grad4<G_BF16>(g, j);
        float4 m0 = *(const float4*) (m + i), m1 = *(const float4*) (m + j);
        float4 v0 = *(const float4*) (v + i), v1 = *(const float4*) (v + j);
        adam_step4<C>(w0, g0, m0, v0, a);
        adam_step4<C>(w1, g1, m1, v1, a);
        *(float4*) (w + i) = w0;
        *(float4*) (m + i) = m0;
        *(float4*) (v + i) = v0;
        *(float4*) (w + j) = w1;
        *(float4*) (m + j) = m1;
        *(float4*) (v + j) = v1;
    }
    if (i < end4) {
        float4 w0 = *(const float4*) (w + i);
        float4 g0 = load_grad4<G_BF16>(g, i);
        float4 m0 = *(const float4*) (m + i);
        float4 v0 = *(const float4*) (v + i);
        adam_step4<C>(w0, g0, m0, v0, a);
        *(float4*) (w + i) = w0;
        *(float4*) (m + i) = m0;
        *(float4*) (v + i) = v0;
    }
}

// Elements [start, end) of tensor t.
template <typename C>
__device__ void adam_range(const AdamTensor& t, int64_t start, int64_t end, const AdamArgs<C>& args) {
    const AdamArgs<C> a = (t.flags & ADAM_DECAY) ? args : without_decay(args);
    int wt = (int) (t.types & 0xff), gt = (int) ((t.types >> 8) & 0xff);
    int mt = (int) ((t.types >> 16) & 0xff), vt = (int) ((t.types >> 24) & 0xff);
    void* w = (void*) t.w;
    const void* g = (const void*) t.g;
    void* m = (void*) t.m;
    void* v = (void*) t.v;
    if constexpr (sizeof(C) == 4) {
        bool wmv = wt == F32 && mt == F32 && vt == F32 && aligned16(w) && aligned16(m) && aligned16(v);
        bool gF32 = gt == F32 && aligned16(g);
        bool gBF16 = gt == BF16 && ((uintptr_t) g & 7) == 0;
        if (wmv && (gF32 || gBF16) && (start & 3) == 0) {
            // vector body, scalar tail
            int64_t end4 = start + ((end - start) & ~(int64_t) 3);
            if (gF32) {
                adam_range_vec<C, false>((float*) w, g, (float*) m, (float*) v, start, end4, a);
            } else {
                adam_range_vec<C, true>((float*) w, g, (float*) m, (float*) v, start, end4, a);
            }
            start = end4;
        }
    }
    for (int64_t i = start + threadIdx.x; i < end; i += blockDim.x) {
        C wi = Io<C>::load(w, wt, i);
        C mi = Io<C>::load(m, mt, i);
        C vi = Io<C>::load(v, vt, i);
        adam_step<C>(wi, Io<C>::load(g, gt, i), mi, vi, a);
        Io<C>::store(w, wt, i, wi);
        Io<C>::store(m, mt, i, mi);
        Io<C>::store(v, vt, i, vi);
    }
}

// w, g, m, v (n) of their own dtypes.
template <typename C>
__device__ void adam_update_kernel(void* w, int wType, const void* g, int gType, void* m, int mType, void* v,
                                   int vType, int64_t n, const AdamArgs<C>& a) {
    AdamTensor t = {(int64_t) w, (int64_t) g, (int64_t) m, (int64_t) v, n,
                    (int64_t) wType | ((int64_t) gType << 8) | ((int64_t) mType << 16) | ((int64_t) vType << 24), 0,
                    ADAM_DECAY};
    int64_t chunks = (n + ADAM_CHUNK - 1) / ADAM_CHUNK;
    for (int64_t c = blockIdx.x; c < chunks; c += gridDim.x) {
        int64_t start = c * ADAM_CHUNK;
        adam_range<C>(t, start, start + ADAM_CHUNK < n ? start + ADAM_CHUNK : n, a);
    }
}

// tensors (count) AdamTensor with firstChunk ascending; totalChunks = the last firstChunk + its chunks.
template <typename C>
__device__ void adam_update_many_kernel(const AdamTensor* tensors, int count, int64_t totalChunks,
                                        const AdamArgs<C>& a) {
    for (int64_t c = blockIdx.x; c < totalChunks; c += gridDim.x) {
        int lo = 0, hi = count - 1; // the last tensor whose firstChunk <= c
        while (lo < hi) {
            int mid = (lo + hi + 1) / 2;
            if (__ldg(&tensors[mid].firstChunk) <= c) lo = mid; else hi = mid - 1;
        }
        AdamTensor t = tensors[lo];
        int64_t start = (c - t.firstChunk) * ADAM_CHUNK;
        if (start >= t.n) continue; // an empty tensor shares its firstChunk with the next one
        adam_range<C>(t, start, start + ADAM_CHUNK < t.n ? start + ADAM_CHUNK : t.n, a);
    }
}

// w, g, state (n) of their own dtypes; state may be null when momentum is 0.
template <typename C>
__device__ void sgd_update_kernel(void* w, int wType, const void* g, int gType, void* state, int stateType, int64_t n,
                                  C lr, C weightDecay, C momentum, C rescale, C clip) {
    GRID_STRIDE_LOOP(i, n) {
        C wi = Io<C>::load(w, wType, i);
        C gi = clip_grad(Io<C>::load(g, gType, i) * rescale, clip) + weightDecay * wi;
        if (momentum != 0) {
            gi = momentum * Io<C>::load(state, stateType, i) + gi;
            Io<C>::store(state, stateType, i, gi);
        }
        Io<C>::store(w, wType, i, wi - lr * gi);
    }
}

#define ADAM_SCALARS                                                                                                \
    double lr, double beta1, double beta2, double eps, double weightDecay, int decoupled, double stepSize,          \
        double sqrtBc2, double rescale, double clip
#define ADAM_SCALAR_NAMES lr, beta1, beta2, eps, weightDecay, decoupled, stepSize, sqrtBc2, rescale, clip

#define OPTIM_ENTRY_POINTS(SUFFIX, C)                                                                               \
    extern "C" __global__ void adam_update_##SUFFIX(void* w, int wType, const void* g, int gType, void* m,         \
                                                    int mType, void* v, int vType, int64_t n, ADAM_SCALARS) {       \
        adam_update_kernel<C>(w, wType, g, gType, m, mType, v, vType, n, adam_args<C>(ADAM_SCALAR_NAMES));         \
    }                                                                                                               \
    extern "C" __global__ void adam_update_many_##SUFFIX(const AdamTensor* tensors, int count,                      \
                                                         int64_t totalChunks, ADAM_SCALARS) {                       \
        adam_update_many_kernel<C>(tensors, count, totalChunks, adam_args<C>(ADAM_SCALAR_NAMES));                  \
    }                                                                                                               \
    extern "C" __global__ void sgd_update_##SUFFIX(void* w, int wType, const void* g, int gType, void* state,      \
                                                   int stateType, int64_t n, double lr, double weightDecay,         \
                                                   double momentum, double rescale, double clip) {                  \
        sgd_update_kernel<C>(w, wType, g, gType, state, stateType, n, (C) lr, (C) weightDecay, (C) momentum,        \
                             (C) rescale, (C) clip);                                                                \
    }

OPTIM_ENTRY_POINTS(f32, float)
OPTIM_ENTRY_POINTS(f64, double)

// adam_update with the per-step scalars read from device memory: step = {lr, stepSize, sqrtBc2} (F32), written before
// each replay of a captured training step (a launch argument would stay at its value at capture). The products are
// formed in double as the host forms them for adam_update, so both give the same bits.
template <typename C>
__device__ __forceinline__ AdamArgs<C> adam_args_stepped(const float* step, double beta1, double beta2, double eps,
                                                         double weightDecay, int decoupled, double rescale,
                                                         double clip) {
    double lr = __ldg(&step[0]);
    return adam_args<C>(lr, beta1, beta2, eps, weightDecay, decoupled, (double) __ldg(&step[1]),
                        (double) __ldg(&step[2]), rescale, clip);
}

#define ADAM_STEPPED_ENTRY_POINT(SUFFIX, C)                                                                         \
    extern "C" __global__ void adam_update_stepped_##SUFFIX(void* w, int wType, const void* g, int gType, void* m, \
                                                            int mType, void* v, int vType, int64_t n,               \
                                                            const float* step, double beta1, double beta2,          \
                                                            double eps, double weightDecay, int decoupled,          \
                                                            double rescale, double clip) {                          \
        adam_update_kernel<C>(w, wType, g, gType, m, mType, v, vType, n,                                            \
                              adam_args_stepped<C>(step, beta1, beta2, eps, weightDecay, decoupled, rescale, clip)); \
    }                                                                                                               \
    extern "C" __global__ void adam_update_many_stepped_##SUFFIX(                                                  \
        const AdamTensor* tensors, int count, int64_t totalChunks, const float* step, double beta1, double beta2,   \
        double eps, double weightDecay, int decoupled, double rescale, double clip) {                               \
        adam_update_many_kernel<C>(tensors, count, totalChunks,                                                     \
                                   adam_args_stepped<C>(step, beta1, beta2, eps, weightDecay, decoupled, rescale,   \
                                                        clip));                                                     \
    }

ADAM_STEPPED_ENTRY_POINT(f32, float)
ADAM_STEPPED_ENTRY_POINT(f64, double)

// GELU forward and backward (gelu.cu), element-wise over contiguous tensors of any shape, in both forms of
// ai.fulgur.ops.activation.GeluForm: ERF, x·Φ(x) = 0.5·x·(1 + erf(x/√2)), and TANH, GPT-2's
// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). F32, BF16 and F16 compute in float (erff, tanhf), F64 in double; the
// formulas and their derivatives are CpuActivation's. Grid-stride loops over 16-byte packs when every pointer is
// 16-byte aligned, then a scalar tail; element by element otherwise.
#include "fulgur.cuh"

enum GeluCode : int { GELU_ERF, GELU_TANH }; // GeluForm ordinals

template <int FORM, typename A> __device__ __forceinline__ A gelu(A x) {
    if constexpr (FORM == GELU_TANH) {
        const A inner = (A) 0.7978845608028654 * (x + (A) 0.044715 * x * x * x); // √(2/π)
        return (A) 0.5 * x * ((A) 1 + tanh(inner));
    } else {
        return (A) 0.5 * x * ((A) 1 + erf(x * (A) 0.7071067811865476)); // 1/√2
    }
}

// d gelu / dx
template <int FORM, typename A> __device__ __forceinline__ A gelu_grad(A x) {
    if constexpr (FORM == GELU_TANH) {
        const A inner = (A) 0.7978845608028654 * (x + (A) 0.044715 * x * x * x);
        const A t = tanh(inner);
        const A dInner = (A) 0.7978845608028654 * ((A) 1 + (A) (3 * 0.044715) * x * x);
        return (A) 0.5 * ((A) 1 + t) + (A) 0.5 * x * ((A) 1 - t * t) * dInner;
    } else {
        const A cdf = (A) 0.5 * ((A) 1 + erf(x * (A) 0.7071067811865476));
        const A pdf = (A) 0.3989422804014327 * exp((A) -0.5 * x * x); // 1/√(2π)
        return cdf + x * pdf;
    }
}

// y (n) = gelu(x (n))
template <int FORM, typename T>
__device__ void gelu_forward_kernel(int64_t n, T* __restrict__ y, const T* __restrict__ x) {
    using A = compute_t<T>;
    constexpr int V = 16 / sizeof(T);
    const int64_t body = aligned16(x) && aligned16(y) ? n / V * V : 0;
    const Vec<T, V>* xv = reinterpret_cast<const Vec<T, V>*>(x);
    Vec<T, V>* yv = reinterpret_cast<Vec<T, V>*>(y);
    GRID_STRIDE_LOOP(i, body / V) {
        const Vec<T, V> p = xv[i];
        Vec<T, V> q;
#pragma unroll
        for (int k = 0; k < V; k++) q.v[k] = narrow<T>(gelu<FORM, A>(widen(p.v[k])));
        yv[i] = q;
    }
    GRID_STRIDE_LOOP(j, n - body) y[body + j] = narrow<T>(gelu<FORM, A>(widen(x[body + j])));
}

// dx (n) = dy (n) · gelu'(x (n))
template <int FORM, typename T>
__device__ void gelu_backward_kernel(int64_t n, T* __restrict__ dx, const T* __restrict__ x,
                                     const T* __restrict__ dy) {
    using A = compute_t<T>;
    constexpr int V = 16 / sizeof(T);
    const int64_t body = aligned16(x) && aligned16(dy) && aligned16(dx) ? n / V * V : 0;
    const Vec<T, V>* xv = reinterpret_cast<const Vec<T, V>*>(x);
    const Vec<T, V>* gv = reinterpret_cast<const Vec<T, V>*>(dy);
    Vec<T, V>* dxv = reinterpret_cast<Vec<T, V>*>(dx);
    GRID_STRIDE_LOOP(i, body / V) {
        const Vec<T, V> p = xv[i];
        const Vec<T, V> g = gv[i];
        Vec<T, V> q;
#pragma unroll
        for (int k = 0; k < V; k++) q.v[k] = narrow<T>((A) widen(g.v[k]) * gelu_grad<FORM, A>(widen(p.v[k])));
        dxv[i] = q;
    }
    GRID_STRIDE_LOOP(j, n - body) {
        dx[body + j] = narrow<T>((A) widen(dy[body + j]) * gelu_grad<FORM, A>(widen(x[body + j])));
    }
}

// entry points per dtype; form: a GeluForm ordinal. Any 1-D grid (grid-stride), e.g. 256 threads.
#define GELU_ENTRY_POINTS(SUFFIX, T)                                                                                 \
    extern "C" __global__ void gelu_forward_##SUFFIX(int64_t n, int form, void* y, const void* x) {               \
        if (form == GELU_TANH) gelu_forward_kernel<GELU_TANH, T>(n, (T*) y, (const T*) x);                          \
        else gelu_forward_kernel<GELU_ERF, T>(n, (T*) y, (const T*) x);                                             \
    }                                                                                                               \
    extern "C" __global__ void gelu_backward_##SUFFIX(int64_t n, int form, void* dx, const void* x,                \
                                                      const void* dy) {                                             \
        if (form == GELU_TANH) gelu_backward_kernel<GELU_TANH, T>(n, (T*) dx, (const T*) x, (const T*) dy);         \
        else gelu_backward_kernel<GELU_ERF, T>(n, (T*) dx, (const T*) x, (const T*) dy);                            \
    }

GELU_ENTRY_POINTS(f64, double)
GELU_ENTRY_POINTS(f32, float)
GELU_ENTRY_POINTS(bf16, __nv_bfloat16)
GELU_ENTRY_POINTS(f16, __half)

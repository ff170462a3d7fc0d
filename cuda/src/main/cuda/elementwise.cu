// Element-wise kernels: unary (with a scalar parameter), binary, where, copy (with dtype conversion) and fill, over
// strided and broadcast operands described by a StridedLayout. The op codes are the ordinals of
// ai.fulgur.ops.elementwise.UnaryOp and BinaryOp; the compute type C is float, double or int64_t, chosen on the host
// as the CPU kernels do.
#include "fulgur.cuh"

// UnaryOp ordinals
enum Unary : int {
    NEG, ABS, SIGN, EXP, LOG, LOG1P, EXPM1, SQRT, RSQRT, SQUARE, RECIPROCAL, TANH, SIGMOID, RELU, ERF, SIN, COS,
    FLOOR, CEIL, ROUND, LOGICAL_NOT, ADD_SCALAR, MUL_SCALAR, RSUB_SCALAR, RDIV_SCALAR, POW_SCALAR, RPOW_SCALAR,
    MAX_SCALAR, MIN_SCALAR, EQ_SCALAR, NE_SCALAR, LT_SCALAR, LE_SCALAR, GT_SCALAR, GE_SCALAR
};
// BinaryOp ordinals
enum Binary : int {
    ADD, SUB, MUL, DIV, POW, MAX, MIN, MOD, EQ, NE, LT, LE, GT, GE, LOGICAL_AND, LOGICAL_OR, LOGICAL_XOR
};

template <typename C> __device__ __forceinline__ C unary_op(int op, C x, C s) {
    switch (op) {
        case NEG: return -x;
        case ABS: return x < 0 ? -x : x;
        case SIGN: return (C) ((x > 0) - (x < 0));
        case EXP: return exp(x);
        case LOG: return log(x);
        case LOG1P: return log1p(x);
        case EXPM1: return expm1(x);
        case SQRT: return sqrt(x);
        case RSQRT: return (C) 1 / sqrt(x);
        case SQUARE: return x * x;
        case RECIPROCAL: return (C) 1 / x;
        case TANH: return tanh(x);
        case SIGMOID: return (C) 1 / ((C) 1 + exp(-x));
        case RELU: return x > 0 ? x : (C) 0;
        case ERF: return erf(x);
        case SIN: return sin(x);
        case COS: return cos(x);
        case FLOOR: return floor(x);
        case CEIL: return ceil(x);
        case ROUND: return rint(x);
        case LOGICAL_NOT: return x == 0 ? (C) 1 : (C) 0;
        case ADD_SCALAR: return x + s;
        case MUL_SCALAR: return x * s;
        case RSUB_SCALAR: return s - x;
        case RDIV_SCALAR: return s / x;
        case POW_SCALAR: return pow(x, s);
        case RPOW_SCALAR: return pow(s, x);
        case MAX_SCALAR: return isnan(x) ? x : (x > s ? x : s);
        case MIN_SCALAR: return isnan(x) ? x : (x < s ? x : s);
        case EQ_SCALAR: return x == s;
        case NE_SCALAR: return x != s;
        case LT_SCALAR: return x < s;
        case LE_SCALAR: return x <= s;
        case GT_SCALAR: return x > s;
        case GE_SCALAR: return x >= s;
        default: return (C) NAN;
    }
}

__device__ __forceinline__ int64_t pow_long(int64_t base, int64_t e) {
    if (e < 0) return base == 1 ? 1 : base == -1 ? ((e & 1) == 0 ? 1 : -1) : 0;
    int64_t r = 1;
    while (e > 0) {
        if (e & 1) r *= base;
        base *= base;
        e >>= 1;
    }
    return r;
}

template <> __device__ __forceinline__ int64_t unary_op<int64_t>(int op, int64_t x, int64_t s) {
    switch (op) {
        case NEG: return -x;
        case ABS: return x < 0 ? -x : x;
        case SIGN: return (x > 0) - (x < 0);
        case SQUARE: return x * x;
        case RELU: return x > 0 ? x : 0;
        case FLOOR: case CEIL: case ROUND: return x;
        case LOGICAL_NOT: return x == 0;
        case ADD_SCALAR: return x + s;
        case MUL_SCALAR: return x * s;
        case RSUB_SCALAR: return s - x;
        case POW_SCALAR: return pow_long(x, s);
        case RPOW_SCALAR: return pow_long(s, x);
        case MAX_SCALAR: return x > s ? x : s;
        case MIN_SCALAR: return x < s ? x : s;
        case EQ_SCALAR: return x == s;
        case NE_SCALAR: return x != s;
        case LT_SCALAR: return x < s;
        case LE_SCALAR: return x <= s;
        case GT_SCALAR: return x > s;
        case GE_SCALAR: return x >= s;
        default: return 0;
    }
}

template <typename C> __device__ __forceinline__ C binary_op(int op, C a, C b) {
    switch (op) {
        case ADD: return a + b;
        case SUB: return a - b;
        case MUL: return a * b;
        case DIV: return a / b;
        case POW: return pow(a, b);
        case MAX: return (isnan(a) || isnan(b)) ? (C) NAN : (a > b ? a : b);
        case MIN: return (isnan(a) || isnan(b)) ? (C) NAN : (a < b ? a : b);
        case MOD: return a - floor(a / b) * b;
        case EQ: return a == b;
        case NE: return a != b;
        case LT: return a < b;
        case LE: return a <= b;
        case GT: return a > b;
        case GE: return a >= b;
        case LOGICAL_AND: return (a != 0) && (b != 0);
        case LOGICAL_OR: return (a != 0) || (b != 0);
        case LOGICAL_XOR: return (a != 0) != (b != 0);
        default: return (C) NAN;
    }
}

template <> __device__ __forceinline__ int64_t binary_op<int64_t>(int op, int64_t a, int64_t b) {
    switch (op) {
        case ADD: return a + b;
        case SUB: return a - b;
        case MUL: return a * b;
        case POW: return pow_long(a, b);
        case MAX: return a > b ? a : b;
        case MIN: return a < b ? a : b;
        case MOD: { int64_t r = a % b; return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r; }
        case EQ: return a == b;
        case NE: return a != b;
        case LT: return a < b;
        case LE: return a <= b;
        case GT: return a > b;
        case GE: return a >= b;
        case LOGICAL_AND: return (a != 0) && (b != 0);
        case LOGICAL_OR: return (a != 0) || (b != 0);
        case LOGICAL_XOR: return (a != 0) != (b != 0);
        default: return 0;
    }
}

template <typename C>
__device__ void unary_kernel(StridedLayout L, int op, double s, void* out, int outType, const void* x, int xType) {
    GRID_STRIDE_LOOP(i, L.numel) {
        int64_t off[2];
        strided_offsets<2>(L, i, off);
        C v = unary_op<C>(op, Io<C>::load(x, xType, off[1]), (C) s);
        Io<C>::store(out, outType, off[0], v);
    }
}

template <typename C>
__device__ void binary_kernel(StridedLayout L, int op, void* out, int outType, const void* a, int aType,
                              const void* b, int bType) {
    GRID_STRIDE_LOOP(i, L.numel) {
        int64_t off[3];
        strided_offsets<3>(L, i, off);
        C v = binary_op<C>(op, Io<C>::load(a, aType, off[1]), Io<C>::load(b, bType, off[2]));
        Io<C>::store(out, outType, off[0], v);
    }
}

template <typename C>
__device__ void where_kernel(StridedLayout L, void* out, int outType, const void* cond, int condType,
                             const void* a, int aType, const void* b, int bType) {
    GRID_STRIDE_LOOP(i, L.numel) {
        int64_t off[4];
        strided_offsets<4>(L, i, off);
        bool c = load_long(cond, condType, off[1]) != 0;
        C v = c ? Io<C>::load(a, aType, off[2]) : Io<C>::load(b, bType, off[3]);
        Io<C>::store(out, outType, off[0], v);
    }
}

template <typename C>
__device__ void copy_kernel(StridedLayout L, void* dst, int dstType, const void* src, int srcType) {
    GRID_STRIDE_LOOP(i, L.numel) {
        int64_t off[2];
        strided_offsets<2>(L, i, off);
        Io<C>::store(dst, dstType, off[0], Io<C>::load(src, srcType, off[1]));
    }
}

template <typename C>
__device__ void fill_kernel(StridedLayout L, void* dst, int dstType, C value) {
    GRID_STRIDE_LOOP(i, L.numel) {
        int64_t off[1];
        strided_offsets<1>(L, i, off);
        Io<C>::store(dst, dstType, off[0], value);
    }
}

#define ELEMENTWISE_ENTRY_POINTS(SUFFIX, C)                                                                        \
    extern "C" __global__ void unary_##SUFFIX(StridedLayout L, int op, double s, void* out, int outType,            \
                                              const void* x, int xType) {                                           \
        unary_kernel<C>(L, op, s, out, outType, x, xType);                                                          \
    }                                                                                                               \
    extern "C" __global__ void binary_##SUFFIX(StridedLayout L, int op, void* out, int outType, const void* a,      \
                                               int aType, const void* b, int bType) {                               \
        binary_kernel<C>(L, op, out, outType, a, aType, b, bType);                                                  \
    }                                                                                                               \
    extern "C" __global__ void where_##SUFFIX(StridedLayout L, void* out, int outType, const void* cond,            \
                                              int condType, const void* a, int aType, const void* b, int bType) {  \
        where_kernel<C>(L, out, outType, cond, condType, a, aType, b, bType);                                       \
    }                                                                                                               \
    extern "C" __global__ void copy_##SUFFIX(StridedLayout L, void* dst, int dstType, const void* src,             \
                                             int srcType) {                                                         \
        copy_kernel<C>(L, dst, dstType, src, srcType);                                                              \
    }

ELEMENTWISE_ENTRY_POINTS(f32, float)
ELEMENTWISE_ENTRY_POINTS(f64, double)
ELEMENTWISE_ENTRY_POINTS(i64, int64_t)

extern "C" __global__ void fill_f64(StridedLayout L, void* dst, int dstType, double value) {
    fill_kernel<double>(L, dst, dstType, value);
}

extern "C" __global__ void fill_i64(StridedLayout L, void* dst, int dstType, int64_t value) {
    fill_kernel<int64_t>(L, dst, dstType, value);
}

// ---------------------------------------------------------------------------------------------------------------------
// Contiguous fast paths: the generic kernels above pay a strided-offset computation and a run-time dtype switch per
// element and reach about 40% of copy bandwidth; the F32/BF16 casts and the ADD/SUB/MUL of contiguous operands that
// mixed precision makes on every activation (residual adds, the casts around each GEMM) take these instead: types
// fixed at compile time, four elements per thread in one vector load per operand (the host checks every pointer is
// aligned to four elements), math in float. n (int64) elements; the last n % 4 go one per thread.

template <typename TO, typename TI>
__device__ void cast_contiguous(TO* out, const TI* in, int64_t n) {
    int64_t groups = n / 4;
    const Vec<TI, 4>* in4 = (const Vec<TI, 4>*) in;
    Vec<TO, 4>* out4 = (Vec<TO, 4>*) out;
    GRID_STRIDE_LOOP(g, groups) {
        Vec<TI, 4> x = in4[g];
        Vec<TO, 4> y;
#pragma unroll
        for (int k = 0; k < 4; k++) y.v[k] = narrow<TO>(widen(x.v[k]));
        out4[g] = y;
    }
    GRID_STRIDE_LOOP(t, n - groups * 4) {
        out[groups * 4 + t] = narrow<TO>(widen(in[groups * 4 + t]));
    }
}

__device__ __forceinline__ float binary_float(int op, float a, float b) {
    return op == ADD ? a + b : (op == SUB ? a - b : a * b);
}

template <typename TO, typename TA, typename TB>
__device__ void binary_contiguous(int op, TO* out, const TA* a, const TB* b,
                                  int64_t n) {
    int64_t groups = n / 4;
    GRID_STRIDE_LOOP(g, groups) {
        Vec<TA, 4> x = ((const Vec<TA, 4>*) a)[g];
        Vec<TB, 4> y = ((const Vec<TB, 4>*) b)[g];
        Vec<TO, 4> z;
#pragma unroll
        for (int k = 0; k < 4; k++) z.v[k] = narrow<TO>(binary_float(op, widen(x.v[k]), widen(y.v[k])));
        ((Vec<TO, 4>*) out)[g] = z;
    }
    GRID_STRIDE_LOOP(t, n - groups * 4) {
        int64_t i = groups * 4 + t;
        out[i] = narrow<TO>(binary_float(op, widen(a[i]), widen(b[i])));
    }
}

extern "C" __global__ void cast_contiguous_f32_bf16(float* out, const __nv_bfloat16* in, int64_t n) {
    cast_contiguous(out, in, n);
}
extern "C" __global__ void cast_contiguous_bf16_f32(__nv_bfloat16* out, const float* in, int64_t n) {
    cast_contiguous(out, in, n);
}

#define BINARY_CONTIGUOUS(NAME, TO, TA, TB)                                                                         \
    extern "C" __global__ void binary_contiguous_##NAME(int op, TO* out, const TA* a, const TB* b, int64_t n) {   \
        binary_contiguous(op, out, a, b, n);                                                                        \
    }
BINARY_CONTIGUOUS(f32_f32_f32, float, float, float)
BINARY_CONTIGUOUS(f32_f32_bf16, float, float, __nv_bfloat16)
BINARY_CONTIGUOUS(f32_bf16_f32, float, __nv_bfloat16, float)
BINARY_CONTIGUOUS(bf16_bf16_bf16, __nv_bfloat16, __nv_bfloat16, __nv_bfloat16)

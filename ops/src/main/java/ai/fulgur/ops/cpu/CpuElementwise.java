package ai.fulgur.ops.cpu;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.BinaryOp;
import ai.fulgur.ops.elementwise.ElementwiseKernels;
import ai.fulgur.ops.elementwise.UnaryOp;

/**
 * Element-wise kernels on the host. Each walks its operands row by row ({@link StridedRows}), so strided and broadcast
 * views need no copies. Floating math runs in double and rounds on store; integer math runs in long so that I64
 * values stay exact. Contiguous F32 arithmetic, the bulk of training, takes a direct float-array loop.
 */
public final class CpuElementwise implements ElementwiseKernels {
    private static final int GRAIN = 1 << 14; // elements per parallel task

    // ---------------------------------------------------------------------------------------------------------------
    // scalar definitions: one place that says what each op computes

    static double unary(UnaryOp op, double x, double s) {
        return switch (op) {
            case NEG -> -x;
            case ABS -> Math.abs(x);
            case SIGN -> Math.signum(x);
            case EXP -> Math.exp(x);
            case LOG -> Math.log(x);
            case LOG1P -> Math.log1p(x);
            case EXPM1 -> Math.expm1(x);
            case SQRT -> Math.sqrt(x);
            case RSQRT -> 1 / Math.sqrt(x);
            case SQUARE -> x * x;
            case RECIPROCAL -> 1 / x;
            case TANH -> Math.tanh(x);
            case SIGMOID -> 1 / (1 + Math.exp(-x));
            case RELU -> x > 0 ? x : 0; // not max(x, 0): keeps NaN as 0 like PyTorch's threshold
            case ERF -> SpecialFunctions.erf(x);
            case SIN -> Math.sin(x);
            case COS -> Math.cos(x);
            case FLOOR -> Math.floor(x);
            case CEIL -> Math.ceil(x);
            case ROUND -> Math.rint(x); // half to even, as PyTorch
            case LOGICAL_NOT -> x == 0 ? 1 : 0;
            case ADD_SCALAR -> x + s;
            case MUL_SCALAR -> x * s;
            case RSUB_SCALAR -> s - x;
            case RDIV_SCALAR -> s / x;
            case POW_SCALAR -> Math.pow(x, s);
            case RPOW_SCALAR -> Math.pow(s, x);
            case MAX_SCALAR -> Double.isNaN(x) ? x : Math.max(x, s);
            case MIN_SCALAR -> Double.isNaN(x) ? x : Math.min(x, s);
            case EQ_SCALAR -> x == s ? 1 : 0;
            case NE_SCALAR -> x != s ? 1 : 0;
            case LT_SCALAR -> x < s ? 1 : 0;
            case LE_SCALAR -> x <= s ? 1 : 0;
            case GT_SCALAR -> x > s ? 1 : 0;
            case GE_SCALAR -> x >= s ? 1 : 0;
        };
    }

    static long unaryLong(UnaryOp op, long x, long s) {
        return switch (op) {
            case NEG -> -x;
            case ABS -> Math.abs(x);
            case SIGN -> Long.signum(x);
            case SQUARE -> x * x;
            case RELU -> Math.max(x, 0);
            case FLOOR, CEIL, ROUND -> x;
            case LOGICAL_NOT -> x == 0 ? 1 : 0;
            case ADD_SCALAR -> x + s;
            case MUL_SCALAR -> x * s;
            case RSUB_SCALAR -> s - x;
            case POW_SCALAR -> powLong(x, s);
            case RPOW_SCALAR -> powLong(s, x);
            case MAX_SCALAR -> Math.max(x, s);
            case MIN_SCALAR -> Math.min(x, s);
            case EQ_SCALAR -> x == s ? 1 : 0;
            case NE_SCALAR -> x != s ? 1 : 0;
            case LT_SCALAR -> x < s ? 1 : 0;
            case LE_SCALAR -> x <= s ? 1 : 0;
            case GT_SCALAR -> x > s ? 1 : 0;
            case GE_SCALAR -> x >= s ? 1 : 0;
            default -> throw new IllegalArgumentException(op + " is not defined on integers");
        };
    }

    static double binary(BinaryOp op, double a, double b) {
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case POW -> Math.pow(a, b);
            case MAX -> Double.isNaN(a) || Double.isNaN(b) ? Double.NaN : Math.max(a, b);
            case MIN -> Double.isNaN(a) || Double.isNaN(b) ? Double.NaN : Math.min(a, b);
            case MOD -> a - Math.floor(a / b) * b; // Python's sign-of-divisor remainder, as torch.remainder
            case EQ -> a == b ? 1 : 0;
            case NE -> a != b ? 1 : 0;
            case LT -> a < b ? 1 : 0;
            case LE -> a <= b ? 1 : 0;
            case GT -> a > b ? 1 : 0;
            case GE -> a >= b ? 1 : 0;
            case LOGICAL_AND -> a != 0 && b != 0 ? 1 : 0;
            case LOGICAL_OR -> a != 0 || b != 0 ? 1 : 0;
            case LOGICAL_XOR -> (a != 0) != (b != 0) ? 1 : 0;
        };
    }

    static long binaryLong(BinaryOp op, long a, long b) {
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case POW -> powLong(a, b);
            case MAX -> Math.max(a, b);
            case MIN -> Math.min(a, b);
            case MOD -> Math.floorMod(a, b);
            case EQ -> a == b ? 1 : 0;
            case NE -> a != b ? 1 : 0;
            case LT -> a < b ? 1 : 0;
            case LE -> a <= b ? 1 : 0;
            case GT -> a > b ? 1 : 0;
            case GE -> a >= b ? 1 : 0;
            case LOGICAL_AND -> a != 0 && b != 0 ? 1 : 0;
            case LOGICAL_OR -> a != 0 || b != 0 ? 1 : 0;
            case LOGICAL_XOR -> (a != 0) != (b != 0) ? 1 : 0;
            case DIV -> throw new IllegalArgumentException("integer DIV is computed in floating point");
        };
    }

    private static long powLong(long base, long exp) {
        if (exp < 0) {
            return base == 1 ? 1 : base == -1 ? ((exp & 1) == 0 ? 1 : -1) : 0;
        }
        long r = 1;
        for (long e = exp, b = base; e > 0; e >>= 1, b *= b) {
            if ((e & 1) != 0) {
                r *= b;
            }
        }
        return r;
    }

    private static boolean integral(DType t) {
        return !t.isFloating();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // kernels

    @Override
    public void unary(UnaryOp op, double s, Tensor out, Tensor x) {
        CpuStorage o = out.cpu();
        CpuStorage xs = x.cpu();
        boolean longMath = integral(x.dtype()) && (integral(out.dtype()) || op.isComparison())
                && s == Math.rint(s);
        if (!longMath && out.dtype() == DType.F32 && x.dtype() == DType.F32 && out.isContiguous()
                && x.isContiguous()) {
            unaryF32(op, (float) s, o.f32(), (int) out.offset(), xs.f32(), (int) x.offset(), (int) out.numel());
            return;
        }
        StridedRows rows = new StridedRows(out.shape(), out, x);
        int n = rows.rowLength();
        int so = rows.innerStride(0);
        int sx = rows.innerStride(1);
        long sl = (long) s;
        CpuParallel.forRange(rows.rows(), Math.max(1, GRAIN / Math.max(1, n)), (r0, r1) -> {
            int[] base = new int[2];
            for (int r = r0; r < r1; r++) {
                rows.rowStart(r, base);
                for (int j = 0, io = base[0], ix = base[1]; j < n; j++, io += so, ix += sx) {
                    if (longMath) {
                        o.setLong(io, unaryLong(op, xs.getLong(ix), sl));
                    } else {
                        o.set(io, unary(op, xs.get(ix), s));
                    }
                }
            }
        });
    }

    private static void unaryF32(UnaryOp op, float s, float[] o, int oo, float[] x, int ox, int n) {
        CpuParallel.forRange(n, GRAIN, (i0, i1) -> {
            switch (op) {
                case ADD_SCALAR -> { for (int i = i0; i < i1; i++) o[oo + i] = x[ox + i] + s; }
                case MUL_SCALAR -> { for (int i = i0; i < i1; i++) o[oo + i] = x[ox + i] * s; }
                case NEG -> { for (int i = i0; i < i1; i++) o[oo + i] = -x[ox + i]; }
                case SQUARE -> { for (int i = i0; i < i1; i++) o[oo + i] = x[ox + i] * x[ox + i]; }
                default -> {
                    for (int i = i0; i < i1; i++) {
                        o[oo + i] = (float) unary(op, x[ox + i], s);
                    }
                }
            }
        });
    }

    @Override
    public void binary(BinaryOp op, Tensor out, Tensor a, Tensor b) {
        CpuStorage o = out.cpu();
        CpuStorage as = a.cpu();
        CpuStorage bs = b.cpu();
        boolean longMath = integral(a.dtype()) && integral(b.dtype()) && op != BinaryOp.DIV;
        if (out.dtype() == DType.F32 && a.dtype() == DType.F32 && b.dtype() == DType.F32 && out.isContiguous()
                && a.isContiguous() && b.isContiguous() && !op.isComparison()) {
            binaryF32(op, o.f32(), (int) out.offset(), as.f32(), (int) a.offset(), bs.f32(), (int) b.offset(),
                    (int) out.numel());
            return;
        }
        StridedRows rows = new StridedRows(out.shape(), out, a, b);
        int n = rows.rowLength();
        int so = rows.innerStride(0);
        int sa = rows.innerStride(1);
        int sb = rows.innerStride(2);
        CpuParallel.forRange(rows.rows(), Math.max(1, GRAIN / Math.max(1, n)), (r0, r1) -> {
            int[] base = new int[3];
            for (int r = r0; r < r1; r++) {
                rows.rowStart(r, base);
                for (int j = 0, io = base[0], ia = base[1], ib = base[2]; j < n; j++, io += so, ia += sa, ib += sb) {
                    if (longMath) {
                        o.setLong(io, binaryLong(op, as.getLong(ia), bs.getLong(ib)));
                    } else {
                        o.set(io, binary(op, as.get(ia), bs.get(ib)));
                    }
                }
            }
        });
    }

    private static void binaryF32(BinaryOp op, float[] o, int oo, float[] a, int oa, float[] b, int ob, int n) {
        CpuParallel.forRange(n, GRAIN, (i0, i1) -> {
            switch (op) {
                case ADD -> { for (int i = i0; i < i1; i++) o[oo + i] = a[oa + i] + b[ob + i]; }
                case SUB -> { for (int i = i0; i < i1; i++) o[oo + i] = a[oa + i] - b[ob + i]; }
                case MUL -> { for (int i = i0; i < i1; i++) o[oo + i] = a[oa + i] * b[ob + i]; }
                case DIV -> { for (int i = i0; i < i1; i++) o[oo + i] = a[oa + i] / b[ob + i]; }
                default -> {
                    for (int i = i0; i < i1; i++) {
                        o[oo + i] = (float) binary(op, a[oa + i], b[ob + i]);
                    }
                }
            }
        });
    }

    @Override
    public void where(Tensor out, Tensor cond, Tensor a, Tensor b) {
        CpuStorage o = out.cpu();
        CpuStorage cs = cond.cpu();
        CpuStorage as = a.cpu();
        CpuStorage bs = b.cpu();
        boolean longMath = integral(out.dtype());
        StridedRows rows = new StridedRows(out.shape(), out, cond, a, b);
        int n = rows.rowLength();
        int so = rows.innerStride(0);
        int sc = rows.innerStride(1);
        int sa = rows.innerStride(2);
        int sb = rows.innerStride(3);
        CpuParallel.forRange(rows.rows(), Math.max(1, GRAIN / Math.max(1, n)), (r0, r1) -> {
            int[] base = new int[4];
            for (int r = r0; r < r1; r++) {
                rows.rowStart(r, base);
                for (int j = 0; j < n; j++) {
                    int io = base[0] + j * so;
                    boolean c = cs.getLong(base[1] + j * sc) != 0;
                    int ia = base[2] + j * sa;
                    int ib = base[3] + j * sb;
                    if (longMath) {
                        o.setLong(io, c ? as.getLong(ia) : bs.getLong(ib));
                    } else {
                        o.set(io, c ? as.get(ia) : bs.get(ib));
                    }
                }
            }
        });
    }

    @Override
    public void copy(Tensor dst, Tensor src) {
        CpuStorage d = dst.cpu();
        CpuStorage s = src.cpu();
        if (dst.dtype() == src.dtype() && dst.isContiguous() && src.isContiguous()) {
            System.arraycopy(s.array(), (int) src.offset(), d.array(), (int) dst.offset(), (int) dst.numel());
            return;
        }
        boolean longMath = integral(dst.dtype()) && integral(src.dtype());
        StridedRows rows = new StridedRows(dst.shape(), dst, src);
        int n = rows.rowLength();
        int sd = rows.innerStride(0);
        int ss = rows.innerStride(1);
        CpuParallel.forRange(rows.rows(), Math.max(1, GRAIN / Math.max(1, n)), (r0, r1) -> {
            int[] base = new int[2];
            for (int r = r0; r < r1; r++) {
                rows.rowStart(r, base);
                for (int j = 0, id = base[0], is = base[1]; j < n; j++, id += sd, is += ss) {
                    if (longMath) {
                        d.setLong(id, s.getLong(is));
                    } else {
                        d.set(id, s.get(is));
                    }
                }
            }
        });
    }

    @Override
    public void fill(Tensor dst, double value) {
        CpuStorage d = dst.cpu();
        StridedRows rows = new StridedRows(dst.shape(), dst);
        int n = rows.rowLength();
        int sd = rows.innerStride(0);
        boolean longMath = integral(dst.dtype()) && dst.dtype() != DType.BOOL; // BOOL: set() tests value != 0
        long lv = (long) value;
        CpuParallel.forRange(rows.rows(), Math.max(1, GRAIN / Math.max(1, n)), (r0, r1) -> {
            int[] base = new int[1];
            for (int r = r0; r < r1; r++) {
                rows.rowStart(r, base);
                for (int j = 0, id = base[0]; j < n; j++, id += sd) {
                    if (longMath) {
                        d.setLong(id, lv);
                    } else {
                        d.set(id, value);
                    }
                }
            }
        });
    }
}

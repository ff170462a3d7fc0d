package ai.fulgur.cuda;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.RowPitched;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.activation.GeluForm;
import ai.fulgur.ops.elementwise.BinaryOp;
import ai.fulgur.ops.linalg.LinalgKernels;
import ai.fulgur.ops.linalg.LinearEpilogue;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Matrix products on the GPU through cuBLASLt (F32, BF16, F16 with F32 accumulation); {@link #linear} fuses the bias
 * and GELU into the product with cuBLASLt's epilogues. Operands stored by rows are passed with their row strides as
 * leading dimensions, so row-pitched views (a vocabulary head's logits and their gradient) need no copies.
 */
final class CudaLinalg implements LinalgKernels {
    private final ConcurrentHashMap<Integer, CudaStorage> workspaces = new ConcurrentHashMap<>();
    private final CudaElementwise elementwise;
    private final CudaActivation activation;

    CudaLinalg(CudaElementwise elementwise, CudaActivation activation) {
        this.elementwise = elementwise;
        this.activation = activation;
    }

    /** A cuBLASLt workspace per device, kept for the life of the process. */
    long workspace(CudaDevice device) {
        return workspaces.computeIfAbsent(device.index(),
                i -> new CudaStorage(device, DType.U8, CublasLt.WORKSPACE_BYTES)).address(0);
    }

    @Override
    public void matmul(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB, double alpha,
            boolean accumulate) {
        requireNotF64(out.dtype(), "matmul");
        if (!isAligned(out)) {
            // compute into aligned memory (holding out's values when accumulating), then copy back
            Tensor staged = accumulate ? out.copy() : Tensor.empty(out.shape(), out.dtype(), out.device());
            matmul(staged, a, b, transA, transB, alpha, accumulate);
            elementwise.copy(out, staged);
            return;
        }
        if (pitchedOperands ? matmulLarge(out, a, b, transA, transB, alpha, accumulate)
                : matmulPadded(out, a, b, transA, transB, alpha, accumulate)) {
            return;
        }
        Tensor a16 = aligned(a);
        Tensor b16 = aligned(b);
        CudaDevice d = CudaTensors.device(out);
        long batch = out.shape().dim(0);
        long m = out.shape().dim(1);
        long n = out.shape().dim(2);
        long k = transA ? a16.shape().dim(1) : a16.shape().dim(2);
        CublasLt.get().matmul(d, out.dtype(), batch, m, n, k, matrix(a16), transA, matrix(b16), transB, matrix(out),
                (float) alpha, accumulate ? 1f : 0f, 0, CublasLt.EPILOGUE_DEFAULT, workspace(d));
    }

    /** A (B, rows, cols) operand stored by rows as cuBLASLt sees it: address, row stride, batch stride (0: shared). */
    private static CublasLt.Matrix matrix(Tensor t) {
        long batchStride = t.shape().dim(0) == 1 ? 0 : t.stride(0);
        return new CublasLt.Matrix(CudaTensors.first(t), AlignedProductSplit.rowStride(t), batchStride);
    }

    /**
     * Whether large products with a misaligned m, n or k run without padded copies of the whole problem: new outputs
     * whose rows are not a multiple of 16 bytes get padded rows ({@link #outputRowPitch}), operands are taken in place
     * by their row strides, and a misaligned m, n or k is split into an aligned body and a narrow tail
     * ({@link #matmulLarge}). On by default; {@code -Dfulgur.cuda.pitchedOperands=false} restores main's zero-padded
     * copies of whole problems ({@link #matmulPadded}) and contiguous outputs. Settable for tests.
     */
    static volatile boolean pitchedOperands = !"false".equals(System.getProperty("fulgur.cuda.pitchedOperands"));

    /**
     * A padded row pitch (the next multiple of 16 bytes) for a large product's output whose row length is not one,
     * so that cuBLASLt writes it with its fast kernels and the consumers (cross-entropy, the backward products) read
     * it in place; N otherwise, and always when {@link #pitchedOperands} is off.
     */
    @Override
    public long outputRowPitch(DType dtype, long m, long n, long k) {
        if (!pitchedOperands || !fusesLinear(dtype)) {
            return n;
        }
        long q = 16 / dtype.byteSize();
        return n % q != 0 && m * n * k >= padMisalignedMacs ? roundUp(n, q) : n;
    }

    /**
     * A large single-matrix product ({@link #padMisalignedMacs}) with a misaligned row stride or m, n, k, run as
     * products cuBLASLt takes its fast kernels for ({@link AlignedProductSplit}: only operands whose row stride is
     * misaligned are copied; a misaligned m, n or k is split into an aligned body and a narrow tail). False (nothing
     * done) for batched, small or aligned problems.
     */
    private boolean matmulLarge(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB, double alpha,
            boolean accumulate) {
        return AlignedProductSplit.apply(splitSteps, 16 / out.dtype().byteSize(), padMisalignedMacs, out, a, b,
                transA, transB, alpha, accumulate);
    }

    private final AlignedProductSplit.Steps splitSteps = new AlignedProductSplit.Steps() {
        @Override
        public void product(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB, double alpha,
                boolean accumulate) {
            matmul(out, a, b, transA, transB, alpha, accumulate);
        }

        @Override
        public Tensor repitched(Tensor t, long pitch, boolean withValues) {
            Tensor p = RowPitched.empty(t.shape(), t.dtype(), t.device(), pitch);
            if (withValues) {
                elementwise.copy(p, t);
            }
            return p;
        }

        @Override
        public void copy(Tensor dst, Tensor src) {
            elementwise.copy(dst, src);
        }
    };

    /**
     * Products of at least this many multiply-adds whose m, n, k or row strides are not a multiple of 16 bytes' worth
     * of elements are made aligned: split into aligned parts over their own memory ({@link AlignedProductSplit}, the
     * default) or, with {@link #pitchedOperands} off, run on zero-padded copies ({@link #matmulPadded}); such products'
     * outputs get padded rows ({@link #outputRowPitch}). {@code -Dfulgur.cuda.padMisalignedMacs}, default 2^32 (GPT-2's
     * vocabulary head, 8192 × 50257 × 768, is 3·10^11; its other products are aligned). Settable for tests.
     */
    static volatile long padMisalignedMacs = Long.getLong("fulgur.cuda.padMisalignedMacs", 1L << 32);

    /**
     * A large single-matrix product with a dimension that is not a multiple of 8 (2-byte types) or 4 (F32) elements
     * (a 50257-token vocabulary, say) leaves a row length that is not a multiple of 16 bytes, and cuBLASLt then has
     * only kernels without vector loads or TMA: GPT-2's head ran at 100-170 TFLOP/s on an H200 instead of 600+. Here
     * the operands are copied into buffers padded to the next multiple (padding along k is zero, so the sums are
     * unchanged; padding along m or n only adds output rows or columns that are dropped), the padded product runs, and
     * out receives its m × n part. The copies cost about one read and write of each operand, far less than the
     * time the slow kernels lose. Returns false (nothing done) for batched, small or already aligned problems.
     */
    private boolean matmulPadded(Tensor out, Tensor a, Tensor b, boolean transA, boolean transB, double alpha,
            boolean accumulate) {
        if (out.shape().dim(0) != 1 || a.shape().dim(0) != 1 || b.shape().dim(0) != 1) {
            return false;
        }
        long m = out.shape().dim(1);
        long n = out.shape().dim(2);
        long k = transA ? a.shape().dim(1) : a.shape().dim(2);
        long q = 16 / out.dtype().byteSize();
        if ((m % q == 0 && n % q == 0 && k % q == 0) || m * n * k < padMisalignedMacs || k == 0) {
            return false;
        }
        long mp = roundUp(m, q);
        long np = roundUp(n, q);
        long kp = roundUp(k, q);
        // stored shapes: A (m, k) or (k, m) when transA; B (k, n) or (n, k) when transB
        Tensor ap = transA ? padded(a, kp, mp, true) : padded(a, mp, kp, false);
        Tensor bp = transB ? padded(b, np, kp, false) : padded(b, kp, np, true);
        Tensor outp = out;
        if (mp != m || np != n) {
            outp = Tensor.empty(Shape.of(1, mp, np), out.dtype(), out.device());
            if (accumulate) {
                elementwise.copy(corner(outp, m, n), out);
            }
        }
        matmul(outp, ap, bp, transA, transB, alpha, accumulate);
        if (outp != out) {
            elementwise.copy(out, corner(outp, m, n));
        }
        return true;
    }

    /**
     * {@code t} (1, r, c) copied into the corner of a new (1, rows, cols) buffer, or t itself when it has that shape.
     * {@code kIsRows}: whether t's rows (else its columns) run along the summed dimension k.
     */
    private Tensor padded(Tensor t, long rows, long cols, boolean kIsRows) {
        long r = t.shape().dim(1);
        long c = t.shape().dim(2);
        if (r == rows && c == cols) {
            return t;
        }
        // the padding along k must be zero; along m or n it only feeds output elements that are dropped
        boolean kPadded = kIsRows ? rows != r : cols != c;
        Tensor p = kPadded ? Tensor.zeros(Shape.of(1, rows, cols), t.dtype(), t.device())
                : Tensor.empty(Shape.of(1, rows, cols), t.dtype(), t.device());
        elementwise.copy(corner(p, r, c), t);
        return p;
    }

    /** The leading (1, r, c) block of a contiguous (1, R, C) tensor, as a view. */
    private static Tensor corner(Tensor p, long r, long c) {
        long rows = p.shape().dim(1);
        long cols = p.shape().dim(2);
        return new Tensor(p.storage(), Shape.of(1, r, c), new long[] {rows * cols, cols, 1}, p.offset());
    }

    private static long roundUp(long x, long q) {
        return (x + q - 1) / q * q;
    }

    /**
     * Whether a tensor's first element is 16-byte aligned. cuBLASLt's tensor-core kernels want 16 bytes; an operand at
     * an odd element offset (a slice) is copied to fresh memory rather than left to the heuristic, which may find no
     * kernel for 2- or 4-byte alignment.
     */
    private static boolean isAligned(Tensor t) {
        return CublasLt.alignment(CudaTensors.first(t)) >= 16;
    }

    /** {@code t}, or an aligned contiguous copy of it when it is not 16-byte aligned. */
    private static Tensor aligned(Tensor t) {
        return t == null || isAligned(t) ? t : t.copy();
    }

    @Override
    public boolean fusesLinear(DType dtype) {
        return dtype == DType.F32 || dtype == DType.BF16 || dtype == DType.F16;
    }

    // out (M, N); x (M, K); weight (N, K); bias (N) or null; preActivation (M, N) or null
    @Override
    public void linear(Tensor out, Tensor x, Tensor weight, Tensor bias, LinearEpilogue epilogue,
            Tensor preActivation) {
        requireNotF64(out.dtype(), "linear");
        long m = out.shape().dim(0);
        long n = out.shape().dim(1);
        long k = x.shape().dim(1);
        if (m == 0 || n == 0) {
            return;
        }
        boolean aux = preActivation != null;
        // cuBLASLt's aux output needs a leading dimension divisible by 8 and an aligned pointer
        boolean auxFits = !aux || (n % 8 == 0 && isAligned(preActivation));
        if (k == 0 || !auxFits) {
            composed(out, x, weight, bias, epilogue, preActivation);
            return;
        }
        if (!isAligned(out)) {
            Tensor staged = Tensor.empty(out.shape(), out.dtype(), out.device());
            linear(staged, x, weight, bias, epilogue, preActivation);
            elementwise.copy(out, staged);
            return;
        }
        long q = 16 / out.dtype().byteSize();
        long ldOut = RowPitched.pitch(out);
        if (!aux && (bias != null || epilogue != LinearEpilogue.NONE) && n % q != 0 && n > q && k % q == 0
                && ldOut % q == 0 && m * n * k >= padMisalignedMacs) {
            // a large product whose only misaligned size is its row length n (x and weight are contiguous, so k
            // aligned makes their rows aligned), with an epilogue (BERT's MLM decoder: V = 30522 and a bias): the
            // aligned first columns run with the epilogue fused, as cuBLASLt's fast kernels take them at the output's
            // padded pitch; the last n % q columns run composed (a sliver)
            long body = n - n % q;
            linear(out.slice(1, 0, body), x, weight.slice(0, 0, body), bias == null ? null : bias.slice(0, 0, body),
                    epilogue, null);
            composed(out.slice(1, body, n), x, weight.slice(0, body, n), bias == null ? null : bias.slice(0, body, n),
                    epilogue, null);
            return;
        }
        if (!aux && !epilogue.hasGelu() && (n % q != 0 || k % q != 0) && m * n * k >= padMisalignedMacs) {
            // a large misaligned product with at most a bias that the split above does not take (GPT-2's tied head,
            // an unaligned k or output pitch): matmul's split into aligned products (or, with pitchedOperands off, its
            // zero-padded copy of the problem), then any bias in its own pass: cuBLASLt's kernels for the misaligned
            // problem cost far more
            composed(out, x, weight, bias, epilogue, null);
            return;
        }
        x = aligned(x);
        weight = aligned(weight);
        bias = aligned(bias);
        int code = switch (epilogue) {
            case NONE -> CublasLt.EPILOGUE_DEFAULT;
            case BIAS -> CublasLt.EPILOGUE_BIAS;
            case GELU -> aux ? CublasLt.EPILOGUE_GELU_AUX : CublasLt.EPILOGUE_GELU;
            case GELU_BIAS -> aux ? CublasLt.EPILOGUE_GELU_AUX_BIAS : CublasLt.EPILOGUE_GELU_BIAS;
        };
        CudaDevice d = CudaTensors.device(out);
        try {
            // out (M, N) = x (M, K) · weight (N, K)ᵀ: weight is the transposed second operand; out at its row stride
            CublasLt.get().matmul(d, out.dtype(), 1, m, n, k, new CublasLt.Matrix(CudaTensors.first(x), k, 0), false,
                    new CublasLt.Matrix(CudaTensors.first(weight), k, 0), true,
                    new CublasLt.Matrix(CudaTensors.first(out), ldOut, 0), 1f, 0f,
                    bias == null ? 0 : CudaTensors.first(bias), aux ? CudaTensors.first(preActivation) : 0, code,
                    workspace(d));
        } catch (CublasLt.NoAlgorithmException e) {
            // an epilogue this library version lacks for this dtype or shape: the same result in separate passes
            composed(out, x, weight, bias, epilogue, preActivation);
        }
    }

    /**
     * The same result in separate passes, for what the epilogues cannot take (an empty depth, a pre-activation output
     * whose row length is not a multiple of 8, an epilogue the heuristic has no kernel for): product, bias add, GELU.
     */
    private void composed(Tensor out, Tensor x, Tensor weight, Tensor bias, LinearEpilogue epilogue,
            Tensor preActivation) {
        long m = out.shape().dim(0);
        long n = out.shape().dim(1);
        long k = x.shape().dim(1);
        Tensor pre = epilogue.hasGelu() ? (preActivation != null ? preActivation
                : Tensor.empty(out.shape(), out.dtype(), out.device())) : out;
        if (k == 0) {
            elementwise.fill(pre, 0);
        } else {
            matmul(view3(pre), x.reshape(1, m, k), weight.reshape(1, n, k), false, true, 1, false);
        }
        if (bias != null) {
            Tensor row = new Tensor(bias.storage(), Shape.of(m, n), new long[] {0, bias.stride(0)}, bias.offset());
            elementwise.binary(BinaryOp.ADD, pre, pre, row);
        }
        if (epilogue.hasGelu()) {
            activation.geluForward(out, pre, GeluForm.TANH);
        }
    }

    /** An (M, N) matrix stored by rows (contiguous or row-pitched) as a (1, M, N) view, keeping its row stride. */
    private static Tensor view3(Tensor t) {
        long ld = RowPitched.pitch(t);
        return new Tensor(t.storage(), Shape.of(1, t.shape().dim(0), t.shape().dim(1)),
                new long[] {t.shape().dim(0) * ld, ld, 1}, t.offset());
    }

    private static void requireNotF64(DType dtype, String op) {
        if (dtype == DType.F64) {
            throw new UnsupportedOperationException("F64 " + op + " is not supported on CUDA devices; use F32, BF16 or "
                    + "F16 there (the CPU backend computes F64)");
        }
    }
}

package ai.fulgur.autograd.djl;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.internal.NDArrayEx;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.fulgur.autograd.GradMode;
import ai.fulgur.autograd.Variable;
import ai.fulgur.autograd.functions.Arithmetic;
import ai.fulgur.autograd.functions.Cast;
import ai.fulgur.autograd.functions.Clone;
import ai.fulgur.autograd.functions.Expand;
import ai.fulgur.autograd.functions.Gather;
import ai.fulgur.autograd.functions.IndexSelect;
import ai.fulgur.autograd.functions.MatMul;
import ai.fulgur.autograd.functions.MaxReduce;
import ai.fulgur.autograd.functions.Reshape;
import ai.fulgur.autograd.functions.Softmax;
import ai.fulgur.autograd.functions.StridedView;
import ai.fulgur.autograd.functions.Sum;
import ai.fulgur.autograd.functions.ToDevice;
import ai.fulgur.autograd.functions.Transpose;
import ai.fulgur.autograd.functions.UnaryMath;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.elementwise.BinaryOp;
import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.elementwise.UnaryOp;
import ai.fulgur.ops.reduce.Reduce;
import ai.fulgur.ops.reduce.ReduceOp;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * A DJL NDArray over a Fulgur {@link Variable}: the value lives in Fulgur storage, gradients come from Fulgur's
 * tape. Ops record the graph only while a {@link FulgurGradientCollector} is open. In-place ops and optimizer updates
 * change the storage in place (the Variable, which carries requiresGrad and the gradient, is never swapped) and bump
 * its version, so a backward pass that needs an overwritten value fails loudly.
 *
 * <p>Methods Fulgur does not implement throw (see {@link UnsupportedNDArrayOps}); none is computed by another engine.
 */
public final class FulgurNDArray extends UnsupportedNDArrayOps {
    private static final AtomicLong NEXT_ID = new AtomicLong();

    private final Variable var;

    FulgurNDArray(NDManager manager, Variable var) {
        super(manager, DjlTypes.djlShape(var.shape()), DjlTypes.dataType(var.dtype()),
                "fulgur-" + NEXT_ID.incrementAndGet());
        this.var = var;
        manager.attachInternal(getUid(), this);
        NDScope.register(this);
    }

    /** The Fulgur variable behind a DJL array, failing clearly for another engine's array. */
    public static Variable variableOf(NDArray array, String op) {
        if (array instanceof FulgurNDArray f) {
            f.checkOpen();
            return f.var;
        }
        throw new IllegalArgumentException(op + ": operand " + (array == null ? "null" : array.getShape() + " "
                + array.getDataType() + " from the " + array.getManager().getEngine().getEngineName() + " engine")
                + " is not a " + FulgurEngine.ENGINE_NAME + " array; convert it with manager.from(array)");
    }

    /** The Fulgur variable behind this array. */
    public Variable variable() {
        checkOpen();
        return var;
    }

    /** The tensor behind this array. */
    public Tensor tensor() {
        return variable().data();
    }

    private void checkOpen() {
        if (isClosed) {
            throw new IllegalStateException("NDArray " + getUid() + " " + shape + " was closed (its manager closed or "
                    + "close() was called); keep it in a manager that outlives its use");
        }
    }

    /**
     * Runs an op with recording on exactly when a gradient collector is open: a block calling an autograd
     * {@code Function} directly (FlashAttention) wraps the call in this so it records only inside a collector.
     */
    public static <T> T recorded(Supplier<T> op) {
        // a collector records, except inside a no-grad scope of this thread (a recomputed layer's first forward)
        try (GradMode.Scope s = GradMode.set(FulgurGradientCollector.isRecording() && GradMode.isEnabled())) {
            return op.get();
        }
    }

    /**
     * A DJL array over {@code variable}, attached to {@code manager}: how a block that called an autograd
     * {@code Function} on {@link #variableOf unwrapped} inputs hands the result back to DJL (use the input's manager).
     */
    public static NDArray wrap(NDManager manager, Variable variable) {
        return new FulgurNDArray(manager, variable);
    }

    private NDArray wrap(Variable v) {
        return new FulgurNDArray(getManager(), v);
    }

    private NDArray op(Supplier<Variable> op) {
        checkOpen();
        return wrap(recorded(op));
    }

    private Variable other(NDArray array, String op) {
        return variableOf(array, op);
    }

    // -----------------------------------------------------------------------------------------------------------------
    // identity, lifecycle, devices, types

    @Override
    public Device getDevice() {
        return DjlTypes.djlDevice(var.device());
    }

    @Override
    public void attach(NDManager manager) {
        detach();
        this.manager = manager;
        manager.attachInternal(getUid(), this);
    }

    @Override
    public void detach() {
        manager.detachInternal(getUid());
        manager = FulgurNDManager.getSystemManager();
    }

    @Override
    public NDArray toDevice(Device device, boolean copy) {
        if (device.equals(getDevice())) {
            return copy ? duplicate() : this;
        }
        ai.fulgur.ops.Device target = DjlTypes.device(device);
        return op(() -> ToDevice.apply(var, target));
    }

    @Override
    public NDArray toType(DataType dataType, boolean copy) {
        DType target = DjlTypes.dtype(dataType);
        if (target == var.dtype()) {
            return copy ? duplicate() : this;
        }
        return op(() -> Cast.apply(var, target));
    }

    @Override
    public NDArray duplicate() {
        NDArray d = op(() -> Clone.apply(var));
        d.setName(getName());
        return d;
    }

    @Override
    public void copyTo(NDArray array) {
        if (!array.getShape().equals(getShape())) {
            throw new IllegalArgumentException("copyTo: shape " + getShape() + " does not match target "
                    + array.getShape());
        }
        Variable target = variableOf(array, "copyTo");
        Elementwise.assign(target.data(), tensor().cast(target.dtype()));
        target.bumpVersion();
    }

    @Override
    public ByteBuffer toByteBuffer(boolean tryDirect) {
        return DjlTypes.toBuffer(tensor());
    }

    /** Takes {@code replaced}'s values into this array's storage (same shape and type), in place. */
    @Override
    public void intern(NDArray replaced) {
        Variable src = variableOf(replaced, "intern");
        if (!src.shape().equals(var.shape())) {
            throw new IllegalArgumentException("intern: shape " + src.shape() + " does not match this array's "
                    + var.shape());
        }
        Elementwise.assign(var.data(), src.data().cast(var.dtype()));
        var.bumpVersion();
        replaced.close();
    }

    /** Copies {@code result}'s values into this array's storage (the r-in-place ops: rdivi, rmodi, rpowi). */
    NDArray overwriteWith(NDArray result) {
        Variable src = variableOf(result, "in-place");
        Elementwise.assign(variable().data(), src.data().cast(var.dtype()));
        var.bumpVersion();
        result.close();
        return this;
    }

    @Override
    public NDArray get(NDIndex index) {
        return get(getManager(), index);
    }

    // set(...) in place through our indexer: NDArrayAdapter would edit a copy in the alternative engine

    @Override
    public void set(NDIndex index, NDArray value) {
        checkOpen();
        getNDArrayInternal().getIndexer(getManager()).set(this, index, value);
    }

    @Override
    public void set(NDIndex index, Number value) {
        checkOpen();
        getNDArrayInternal().getIndexer(getManager()).set(this, index, value);
    }

    @Override
    public void set(NDIndex index, java.util.function.Function<NDArray, NDArray> function) {
        set(index, function.apply(get(index)));
    }

    @Override
    public void set(NDArray index, Number value) {
        set(new NDIndex().addBooleanIndex(index), value);
    }

    @Override
    public void setScalar(NDIndex index, Number value) {
        checkOpen();
        getNDArrayInternal().getIndexer(getManager()).setScalar(this, index, value);
    }

    @Override
    public NDArrayEx getNDArrayInternal() {
        return new FulgurNDArrayEx(this);
    }

    @Override
    public float getFloat(long... indices) {
        return (float) scalarAt(indices);
    }

    @Override
    public double getDouble(long... indices) {
        return scalarAt(indices);
    }

    @Override
    public long getLong(long... indices) {
        if (var.dtype() != DType.I64) {
            throw new IllegalStateException("getLong needs an INT64 array, this one is " + getDataType());
        }
        return (long) scalarAt(indices);
    }

    @Override
    public int getInt(long... indices) {
        if (var.dtype() != DType.I32) {
            throw new IllegalStateException("getInt needs an INT32 array, this one is " + getDataType());
        }
        return (int) scalarAt(indices);
    }

    private double scalarAt(long[] indices) {
        Tensor t = tensor();
        if (indices.length == 0) {
            if (t.numel() != 1) {
                throw new IllegalStateException("this array " + getShape() + " is not a scalar; pass indices");
            }
            return t.item();
        }
        if (indices.length != t.rank()) {
            throw new IllegalArgumentException("got " + indices.length + " indices for an array of rank " + t.rank());
        }
        Tensor e = t;
        for (long i : indices) {
            e = e.select(0, i);
        }
        return e.item();
    }

    // -----------------------------------------------------------------------------------------------------------------
    // gradients

    @Override
    public void setRequiresGradient(boolean requiresGrad) {
        checkOpen();
        if (var.isLeaf()) {
            var.setRequiresGrad(requiresGrad);
            if (requiresGrad) {
                FulgurGradientCollector.registerLeaf(var);
            }
        } else if (!requiresGrad) {
            throw new IllegalStateException("setRequiresGradient(false) on the result of an op; use stopGradient()");
        }
    }

    /**
     * The gradient accumulated into this array (zeros before any backward); shares storage with it. Zeroing is lazy
     * (see {@code Variable.zeroGrad}): after zeroGradients or an optimizer update, an array obtained earlier keeps the
     * old values until the next backward writes the gradient (as an old reference does after PyTorch's
     * {@code zero_grad(set_to_none=True)}); call getGradient again to read the zeros.
     */
    @Override
    public NDArray getGradient() {
        checkOpen();
        if (!var.requiresGrad()) {
            throw new IllegalStateException("no gradient is attached to this NDArray " + getShape()
                    + ": call setRequiresGradient(true) first");
        }
        if (var.grad() == null) {
            var.setGrad(Tensor.zeros(var.shape(), var.dtype(), var.device()));
        }
        return new FulgurNDArray(getManager(), Variable.constant(var.grad()));
    }

    @Override
    public boolean hasGradient() {
        return var.requiresGrad();
    }

    @Override
    public NDArray stopGradient() {
        checkOpen();
        return wrap(var.detach());
    }

    // -----------------------------------------------------------------------------------------------------------------
    // arithmetic

    private NDArray binary(BinaryOp op, NDArray other) {
        return op(() -> Arithmetic.binary(op, var, other(other, op.name().toLowerCase())));
    }

    private NDArray unary(UnaryOp op, double s) {
        return op(() -> UnaryMath.apply(op, var, s));
    }

    private NDArray unary(UnaryOp op) {
        return unary(op, 0);
    }

    @Override public NDArray add(Number n) { return unary(UnaryOp.ADD_SCALAR, n.doubleValue()); }
    @Override public NDArray add(NDArray other) { return binary(BinaryOp.ADD, other); }
    @Override public NDArray sub(Number n) { return unary(UnaryOp.ADD_SCALAR, -n.doubleValue()); }
    @Override public NDArray sub(NDArray other) { return binary(BinaryOp.SUB, other); }
    @Override public NDArray mul(Number n) { return unary(UnaryOp.MUL_SCALAR, n.doubleValue()); }
    @Override public NDArray mul(NDArray other) { return binary(BinaryOp.MUL, other); }

    @Override
    public NDArray div(Number n) {
        return var.dtype().isFloating() ? unary(UnaryOp.MUL_SCALAR, 1 / n.doubleValue())
                : binary(BinaryOp.DIV, getManager().create(n.floatValue()));
    }

    @Override public NDArray div(NDArray other) { return binary(BinaryOp.DIV, other); }
    @Override public NDArray mod(Number n) { return binary(BinaryOp.MOD, scalarLike(n)); }
    @Override public NDArray mod(NDArray other) { return binary(BinaryOp.MOD, other); }
    @Override public NDArray pow(Number n) { return unary(UnaryOp.POW_SCALAR, n.doubleValue()); }
    @Override public NDArray pow(NDArray other) { return binary(BinaryOp.POW, other); }
    @Override public NDArray maximum(Number n) { return unary(UnaryOp.MAX_SCALAR, n.doubleValue()); }
    @Override public NDArray maximum(NDArray other) { return binary(BinaryOp.MAX, other); }
    @Override public NDArray minimum(Number n) { return unary(UnaryOp.MIN_SCALAR, n.doubleValue()); }
    @Override public NDArray minimum(NDArray other) { return binary(BinaryOp.MIN, other); }
    @Override public NDArray neg() { return unary(UnaryOp.NEG); }
    @Override public NDArray abs() { return unary(UnaryOp.ABS); }
    @Override public NDArray square() { return unary(UnaryOp.SQUARE); }
    @Override public NDArray sqrt() { return unary(UnaryOp.SQRT); }
    @Override public NDArray cbrt() { return op(() -> cbrtOf(var)); }
    @Override public NDArray floor() { return unary(UnaryOp.FLOOR); }
    @Override public NDArray ceil() { return unary(UnaryOp.CEIL); }
    @Override public NDArray round() { return unary(UnaryOp.ROUND); }
    @Override public NDArray trunc() { return op(() -> truncOf(var)); }
    @Override public NDArray sign() { return unary(UnaryOp.SIGN); }
    @Override public NDArray exp() { return unary(UnaryOp.EXP); }
    @Override public NDArray log() { return unary(UnaryOp.LOG); }
    @Override public NDArray log10() { return unary(UnaryOp.LOG).div(Math.log(10)); }
    @Override public NDArray log2() { return unary(UnaryOp.LOG).div(Math.log(2)); }
    @Override public NDArray sin() { return unary(UnaryOp.SIN); }
    @Override public NDArray cos() { return unary(UnaryOp.COS); }
    @Override public NDArray tan() { return sin().div(cos()); }
    @Override public NDArray tanh() { return unary(UnaryOp.TANH); }
    @Override public NDArray erf() { return unary(UnaryOp.ERF); }
    @Override public NDArray toDegrees() { return mul(180 / Math.PI); }
    @Override public NDArray toRadians() { return mul(Math.PI / 180); }

    @Override
    public NDArray clip(Number min, Number max) {
        return maximum(min).minimum(max);
    }

    private static Variable cbrtOf(Variable x) {
        // sign(x)·|x|^(1/3): pow of a negative base is NaN
        Variable mag = UnaryMath.apply(UnaryOp.POW_SCALAR, UnaryMath.apply(UnaryOp.ABS, x), 1.0 / 3);
        return Arithmetic.binary(BinaryOp.MUL, Variable.constant(Elementwise.unary(UnaryOp.SIGN, x.data())), mag);
    }

    private static Variable truncOf(Variable x) {
        Tensor t = x.data();
        Tensor neg = Elementwise.unary(UnaryOp.LT_SCALAR, t, 0);
        return Variable.constant(Elementwise.where(neg, Elementwise.unary(UnaryOp.CEIL, t),
                Elementwise.unary(UnaryOp.FLOOR, t)));
    }

    /** A scalar of this array's dtype on its device (for ops without a scalar form). */
    private NDArray scalarLike(Number n) {
        return wrap(Variable.constant(Tensor.scalar(n.doubleValue(), var.dtype(), var.device())));
    }

    // in place: the storage changes, the variable (requiresGrad, gradient) stays

    private NDArray inPlace(BinaryOp op, Tensor src) {
        checkOpen();
        Elementwise.binaryInPlace(op, var.data(), src.dtype() == var.dtype() || !src.dtype().isFloating() ? src
                : src.cast(var.dtype()));
        var.bumpVersion();
        return this;
    }

    private NDArray inPlace(UnaryOp op, double s) {
        checkOpen();
        Elementwise.unaryInPlace(op, var.data(), s);
        var.bumpVersion();
        return this;
    }

    @Override public NDArray addi(Number n) { return inPlace(UnaryOp.ADD_SCALAR, n.doubleValue()); }
    @Override public NDArray addi(NDArray other) { return inPlace(BinaryOp.ADD, other(other, "addi").data()); }
    @Override public NDArray subi(Number n) { return inPlace(UnaryOp.ADD_SCALAR, -n.doubleValue()); }
    @Override public NDArray subi(NDArray other) { return inPlace(BinaryOp.SUB, other(other, "subi").data()); }
    @Override public NDArray muli(Number n) { return inPlace(UnaryOp.MUL_SCALAR, n.doubleValue()); }
    @Override public NDArray muli(NDArray other) { return inPlace(BinaryOp.MUL, other(other, "muli").data()); }
    @Override public NDArray divi(Number n) { return inPlace(UnaryOp.MUL_SCALAR, 1 / n.doubleValue()); }
    @Override public NDArray divi(NDArray other) { return inPlace(BinaryOp.DIV, other(other, "divi").data()); }
    @Override public NDArray modi(Number n) { return inPlace(BinaryOp.MOD, ((FulgurNDArray) scalarLike(n)).tensor()); }
    @Override public NDArray modi(NDArray other) { return inPlace(BinaryOp.MOD, other(other, "modi").data()); }
    @Override public NDArray powi(Number n) { return inPlace(UnaryOp.POW_SCALAR, n.doubleValue()); }
    @Override public NDArray powi(NDArray other) { return inPlace(BinaryOp.POW, other(other, "powi").data()); }
    @Override public NDArray negi() { return inPlace(UnaryOp.NEG, 0); }
    @Override public NDArray signi() { return inPlace(UnaryOp.SIGN, 0); }

    // -----------------------------------------------------------------------------------------------------------------
    // comparisons and logic (BOOLEAN results, no gradient)

    @Override public NDArray eq(Number n) { return unary(UnaryOp.EQ_SCALAR, n.doubleValue()); }
    @Override public NDArray eq(NDArray other) { return binary(BinaryOp.EQ, other); }
    @Override public NDArray neq(Number n) { return unary(UnaryOp.NE_SCALAR, n.doubleValue()); }
    @Override public NDArray neq(NDArray other) { return binary(BinaryOp.NE, other); }
    @Override public NDArray gt(Number n) { return unary(UnaryOp.GT_SCALAR, n.doubleValue()); }
    @Override public NDArray gt(NDArray other) { return binary(BinaryOp.GT, other); }
    @Override public NDArray gte(Number n) { return unary(UnaryOp.GE_SCALAR, n.doubleValue()); }
    @Override public NDArray gte(NDArray other) { return binary(BinaryOp.GE, other); }
    @Override public NDArray lt(Number n) { return unary(UnaryOp.LT_SCALAR, n.doubleValue()); }
    @Override public NDArray lt(NDArray other) { return binary(BinaryOp.LT, other); }
    @Override public NDArray lte(Number n) { return unary(UnaryOp.LE_SCALAR, n.doubleValue()); }
    @Override public NDArray lte(NDArray other) { return binary(BinaryOp.LE, other); }
    @Override public NDArray logicalAnd(NDArray other) { return binary(BinaryOp.LOGICAL_AND, other); }
    @Override public NDArray logicalOr(NDArray other) { return binary(BinaryOp.LOGICAL_OR, other); }
    @Override public NDArray logicalXor(NDArray other) { return binary(BinaryOp.LOGICAL_XOR, other); }
    @Override public NDArray logicalNot() { return unary(UnaryOp.LOGICAL_NOT); }
    @Override public NDArray isNaN() { return binary(BinaryOp.NE, this); }

    @Override
    public NDArray isInfinite() {
        return unary(UnaryOp.ABS).eq(Double.POSITIVE_INFINITY);
    }

    // -----------------------------------------------------------------------------------------------------------------
    // reductions

    @Override public NDArray sum() { return op(() -> Sum.apply(var, new int[0], false, false)); }
    @Override public NDArray sum(int[] axes, boolean keepDims) { return op(() -> Sum.apply(var, axes, keepDims, false)); }
    @Override public NDArray mean() { return op(() -> Sum.apply(var, new int[0], false, true)); }
    @Override public NDArray mean(int[] axes, boolean keepDims) { return op(() -> Sum.apply(var, axes, keepDims, true)); }
    @Override public NDArray max() { return op(() -> MaxReduce.apply(var, new int[0], false, true)); }
    @Override public NDArray max(int[] axes, boolean keepDims) { return op(() -> MaxReduce.apply(var, axes, keepDims, true)); }
    @Override public NDArray min() { return op(() -> MaxReduce.apply(var, new int[0], false, false)); }
    @Override public NDArray min(int[] axes, boolean keepDims) { return op(() -> MaxReduce.apply(var, axes, keepDims, false)); }
    @Override public NDArray prod() { return prod(new int[0], false); }

    @Override
    public NDArray prod(int[] axes, boolean keepDims) {
        checkOpen();
        if (var.requiresGrad() && FulgurGradientCollector.isRecording()) {
            throw unsupported("prod(int[], boolean) with gradient recording");
        }
        return wrap(Variable.constant(Reduce.reduce(ReduceOp.PROD, tensor(), axes, keepDims)));
    }

    @Override
    public NDArray argMax() {
        return wrap(Variable.constant(Reduce.argMax(tensor().reshape(-1), 0, false)));
    }

    @Override
    public NDArray argMax(int axis) {
        return wrap(Variable.constant(Reduce.argMax(tensor(), axis, false)));
    }

    @Override
    public NDArray argMin() {
        return wrap(Variable.constant(Reduce.argMin(tensor().reshape(-1), 0, false)));
    }

    @Override
    public NDArray argMin(int axis) {
        return wrap(Variable.constant(Reduce.argMin(tensor(), axis, false)));
    }

    // -----------------------------------------------------------------------------------------------------------------
    // shapes

    @Override
    public NDArray reshape(Shape shape) {
        ai.fulgur.ops.Shape target = var.shape().reshapeTarget(shape.getShape());
        return op(() -> Reshape.apply(var, target));
    }

    @Override
    public NDArray expandDims(int axis) {
        return op(() -> StridedView.apply(var, t -> t.unsqueeze(axis), "expandDims"));
    }

    @Override
    public NDArray squeeze(int[] axes) {
        int[] sorted = axes.clone();
        for (int i = 0; i < sorted.length; i++) {
            sorted[i] = var.shape().axis(sorted[i]);
        }
        java.util.Arrays.sort(sorted);
        return op(() -> StridedView.apply(var, t -> {
            Tensor r = t;
            for (int i = sorted.length - 1; i >= 0; i--) {
                r = r.squeeze(sorted[i]);
            }
            return r;
        }, "squeeze"));
    }

    @Override
    public NDArray transpose() {
        int[] order = new int[var.shape().rank()];
        for (int i = 0; i < order.length; i++) {
            order[i] = order.length - 1 - i;
        }
        return transpose(order);
    }

    @Override
    public NDArray transpose(int... axes) {
        return op(() -> Transpose.permute(var, axes));
    }

    @Override
    public NDArray flatten() {
        return reshape(new Shape(-1));
    }

    @Override
    public NDArray flatten(int startDim, int endDim) {
        ai.fulgur.ops.Shape s = var.shape();
        int a = s.axis(startDim);
        int b = s.axis(endDim);
        if (b < a) {
            throw new IllegalArgumentException("flatten(" + startDim + ", " + endDim + "): end before start for shape "
                    + s);
        }
        long merged = s.slice(a, b + 1).numel();
        long[] dims = s.slice(0, a).concat(merged).concat(s.slice(b + 1, s.rank()).dims()).dims();
        return reshape(new Shape(dims));
    }

    @Override
    public NDArray broadcast(Shape shape) {
        ai.fulgur.ops.Shape target = DjlTypes.shape(shape);
        return op(() -> Expand.apply(var, target));
    }

    @Override
    public NDList split(long[] indices, int axis) {
        int a = var.shape().axis(axis);
        long n = var.shape().dim(a);
        List<NDArray> parts = new ArrayList<>();
        long start = 0;
        for (int i = 0; i <= indices.length; i++) {
            long end = i < indices.length ? indices[i] : n;
            long s = start;
            parts.add(op(() -> StridedView.slice(var, a, s, end, 1)));
            start = end;
        }
        return new NDList(parts);
    }

    @Override
    public NDList split(long sections, int axis) {
        long n = var.shape().dim(axis);
        if (sections <= 0 || n % sections != 0) {
            throw new IllegalArgumentException("split: axis " + axis + " of size " + n + " cannot be split into "
                    + sections + " equal sections");
        }
        long[] indices = new long[(int) sections - 1];
        for (int i = 0; i < indices.length; i++) {
            indices[i] = (i + 1) * (n / sections);
        }
        return split(indices, axis);
    }

    @Override
    public NDArray toDense() {
        return this;
    }

    // -----------------------------------------------------------------------------------------------------------------
    // linear algebra, softmax, indexing

    @Override
    public NDArray matMul(NDArray other) {
        return op(() -> MatMul.apply(var, other(other, "matMul")));
    }

    @Override
    public NDArray batchMatMul(NDArray other) {
        if (var.shape().rank() != 3 || other.getShape().dimension() != 3) {
            throw new IllegalArgumentException("batchMatMul needs two rank-3 arrays, got " + getShape() + " and "
                    + other.getShape());
        }
        return matMul(other);
    }

    /** numpy's dot for rank ≤ 2 (vector·vector, matrix·vector, matrix·matrix) and for scalars. */
    @Override
    public NDArray dot(NDArray other) {
        int ra = var.shape().rank();
        int rb = other.getShape().dimension();
        if (ra == 0 || rb == 0) {
            return mul(other);
        }
        if (ra <= 2 && rb <= 2) {
            return matMul(other);
        }
        throw unsupported("dot(NDArray) on arrays of rank " + ra + " and " + rb + " (use matMul)");
    }

    @Override
    public NDArray softmax(int axis) {
        return op(() -> Softmax.apply(var, axis, false));
    }

    @Override
    public NDArray logSoftmax(int axis) {
        return op(() -> Softmax.apply(var, axis, true));
    }

    @Override
    public NDArray gather(NDArray index, int axis) {
        Tensor idx = index(index, "gather");
        return op(() -> Gather.apply(var, axis, idx));
    }

    /** Elements of the flattened array at the given indices (torch.take); the result has the indices' shape. */
    @Override
    public NDArray take(NDManager manager, NDArray index) {
        Tensor idx = index(index, "take");
        checkOpen();
        Variable flat = recorded(() -> IndexSelect.apply(Reshape.apply(var, ai.fulgur.ops.Shape.of(var.data().numel())),
                0, idx));
        return new FulgurNDArray(manager, flat);
    }

    @Override
    public NDArray booleanMask(NDArray index, int axis) {
        Tensor mask = index(index, "booleanMask").cast(DType.BOOL);
        int a = var.shape().axis(axis);
        ai.fulgur.ops.Shape maskShape = mask.shape();
        ai.fulgur.ops.Shape covered = var.shape().slice(a, a + maskShape.rank());
        if (!covered.equals(maskShape)) {
            throw new IllegalArgumentException("booleanMask: mask " + maskShape + " must match axes " + a + ".."
                    + (a + maskShape.rank() - 1) + " of " + var.shape());
        }
        long[] flags = mask.toLongArray();
        long[] picked = java.util.stream.IntStream.range(0, flags.length).filter(i -> flags[i] != 0)
                .asLongStream().toArray();
        Tensor idx = Tensor.of(picked, picked.length).to(var.device());
        long[] merged = var.shape().slice(0, a).concat(maskShape.numel()).concat(
                var.shape().slice(a + maskShape.rank(), var.shape().rank()).dims()).dims();
        ai.fulgur.ops.Shape mergedShape = ai.fulgur.ops.Shape.of(merged);
        return op(() -> IndexSelect.apply(Reshape.apply(var, mergedShape), a, idx));
    }

    @Override
    public NDArray oneHot(int depth, float onValue, float offValue, DataType dataType) {
        long[] ids = tensor().toLongArray();
        double[] v = new double[Math.multiplyExact(ids.length, depth)];
        java.util.Arrays.fill(v, offValue);
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= depth) {
                throw new IndexOutOfBoundsException("oneHot: index " + ids[i] + " at position " + i
                        + " is outside [0, " + depth + ")");
            }
            v[(int) (i * (long) depth + ids[i])] = onValue;
        }
        ai.fulgur.ops.Shape s = var.shape().concat(depth);
        return wrap(Variable.constant(Tensor.of(v, s.dims()).cast(DjlTypes.dtype(dataType)).to(var.device())));
    }

    @Override
    public NDArray nonzero() {
        Tensor t = tensor();
        long[] flat = Elementwise.unary(UnaryOp.NE_SCALAR, t, 0).toLongArray();
        int rank = t.rank();
        List<long[]> rows = new ArrayList<>();
        long[] dims = t.shape().dims();
        for (int i = 0; i < flat.length; i++) {
            if (flat[i] != 0) {
                long[] coord = new long[rank];
                long r = i;
                for (int d = rank - 1; d >= 0; d--) {
                    coord[d] = r % dims[d];
                    r /= dims[d];
                }
                rows.add(coord);
            }
        }
        long[] out = new long[rows.size() * rank];
        for (int i = 0; i < rows.size(); i++) {
            System.arraycopy(rows.get(i), 0, out, i * rank, rank);
        }
        return wrap(Variable.constant(Tensor.of(out, rows.size(), rank).to(var.device())));
    }

    /** An index array's tensor as I64 (DJL datasets hand labels and indices as FLOAT32). */
    static Tensor index(NDArray index, String op) {
        Tensor t = variableOf(index, op).data();
        if (t.dtype() == DType.I64 || t.dtype() == DType.I32 || t.dtype() == DType.BOOL) {
            return t;
        }
        return t.cast(DType.I64);
    }

    @Override
    public String toString() {
        if (isClosed) {
            return "This array is already closed";
        }
        return super.toString();
    }
}

package ai.fulgur.autograd.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDArrayIndexer;
import ai.djl.ndarray.internal.NDArrayEx;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.recurrent.RNN;
import ai.fulgur.autograd.Variable;
import ai.fulgur.autograd.functions.Arithmetic;
import ai.fulgur.autograd.functions.Concat;
import ai.fulgur.autograd.functions.Dropout;
import ai.fulgur.autograd.functions.Embedding;
import ai.fulgur.autograd.functions.Gelu;
import ai.fulgur.autograd.functions.LayerNorm;
import ai.fulgur.autograd.functions.Linear;
import ai.fulgur.autograd.functions.UnaryMath;
import ai.fulgur.autograd.functions.Where;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.activation.GeluForm;
import ai.fulgur.ops.elementwise.BinaryOp;
import ai.fulgur.ops.elementwise.UnaryOp;
import ai.fulgur.ops.optim.AdamParams;
import ai.fulgur.ops.optim.Optim;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * DJL's internal op set for Fulgur arrays: the neural-network ops blocks call (linear, embedding, layer norm,
 * dropout, GELU), optimizer updates, stacking, and the indexer. Ops DJL's built-in blocks need for vision or RNNs
 * (pooling, convolution, LSTM, ...) throw, naming the method and the engine.
 */
final class FulgurNDArrayEx implements NDArrayEx {
    private final FulgurNDArray array;

    FulgurNDArrayEx(FulgurNDArray array) {
        this.array = array;
    }

    private static UnsupportedOperationException unsupported(String method) {
        return new UnsupportedOperationException("NDArrayEx." + method + " is not supported by the "
                + FulgurEngine.ENGINE_NAME + " engine");
    }

    private NDArray result(Supplier<Variable> op) {
        return new FulgurNDArray(array.getManager(), FulgurNDArray.recorded(op));
    }

    private static Variable var(NDArray a, String op) {
        return FulgurNDArray.variableOf(a, op);
    }

    @Override
    public NDArray getArray() {
        return array;
    }

    // -----------------------------------------------------------------------------------------------------------------
    // reversed arithmetic and activations

    @Override
    public NDArray rdivi(NDArray b) {
        return array.overwriteWith(array.getManager().from(b).div(array));
    }

    @Override
    public NDArray rmodi(NDArray b) {
        return array.overwriteWith(array.getManager().from(b).mod(array));
    }

    @Override
    public NDArray rpowi(Number n) {
        return array.overwriteWith(result(() -> UnaryMath.apply(UnaryOp.RPOW_SCALAR, array.variable(), n.doubleValue())));
    }

    @Override
    public NDArray relu() {
        return result(() -> UnaryMath.apply(UnaryOp.RELU, array.variable()));
    }

    @Override
    public NDArray sigmoid() {
        return result(() -> UnaryMath.apply(UnaryOp.SIGMOID, array.variable()));
    }

    @Override
    public NDArray tanh() {
        return result(() -> UnaryMath.apply(UnaryOp.TANH, array.variable()));
    }

    /** log(1 + eˣ) computed as max(x, 0) + log1p(e^−|x|), which neither overflows nor loses small values. */
    @Override
    public NDArray softPlus() {
        return result(() -> {
            Variable x = array.variable();
            Variable pos = UnaryMath.apply(UnaryOp.RELU, x);
            Variable tail = UnaryMath.apply(UnaryOp.LOG1P, UnaryMath.apply(UnaryOp.EXP,
                    UnaryMath.apply(UnaryOp.NEG, UnaryMath.apply(UnaryOp.ABS, x))));
            return Arithmetic.binary(BinaryOp.ADD, pos, tail);
        });
    }

    @Override
    public NDArray softSign() {
        return result(() -> {
            Variable x = array.variable();
            Variable denom = UnaryMath.apply(UnaryOp.ADD_SCALAR, UnaryMath.apply(UnaryOp.ABS, x), 1);
            return Arithmetic.binary(BinaryOp.DIV, x, denom);
        });
    }

    @Override
    public NDArray leakyRelu(float alpha) {
        return result(() -> {
            Variable x = array.variable();
            Tensor positive = ai.fulgur.ops.elementwise.Elementwise.unary(UnaryOp.GT_SCALAR, x.data(), 0);
            return Where.apply(positive, x, UnaryMath.apply(UnaryOp.MUL_SCALAR, x, alpha));
        });
    }

    @Override
    public NDArray elu(float alpha) {
        return result(() -> {
            Variable x = array.variable();
            Tensor positive = ai.fulgur.ops.elementwise.Elementwise.unary(UnaryOp.GT_SCALAR, x.data(), 0);
            Variable negative = UnaryMath.apply(UnaryOp.MUL_SCALAR, UnaryMath.apply(UnaryOp.EXPM1, x), alpha);
            return Where.apply(positive, x, negative);
        });
    }

    @Override
    public NDArray selu() {
        double alpha = 1.6732632423543772;
        double scale = 1.0507009873554805;
        return array.getManager().from(elu((float) alpha)).mul(scale);
    }

    /** GELU in the exact erf form, as DJL's PyTorch engine computes it; GPT-2's tanh form is Fulgur's own op. */
    @Override
    public NDArray gelu() {
        return result(() -> Gelu.apply(array.variable(), GeluForm.ERF));
    }

    // -----------------------------------------------------------------------------------------------------------------
    // neural-network ops used by DJL's blocks

    @Override
    public NDList linear(NDArray input, NDArray weight, NDArray bias) {
        return new NDList(new FulgurNDArray(input.getManager(), FulgurNDArray.recorded(() -> Linear.apply(
                var(input, "linear"), var(weight, "linear"), bias == null ? null : var(bias, "linear")))));
    }

    @Override
    public NDList embedding(NDArray input, NDArray weight, SparseFormat sparse) {
        if (sparse != SparseFormat.DENSE) {
            throw unsupported("embedding with sparse format " + sparse);
        }
        Tensor indices = var(input, "embedding").data();
        if (indices.dtype().isFloating()) {
            throw new IllegalArgumentException("embedding: indices must be INT32 or INT64, got "
                    + DjlTypes.dataType(indices.dtype()) + " " + input.getShape() + "; cast them with toType");
        }
        return new NDList(new FulgurNDArray(input.getManager(), FulgurNDArray.recorded(
                () -> Embedding.apply(var(weight, "embedding"), indices))));
    }

    @Override
    public NDList dropout(NDArray input, float rate, boolean training) {
        if (!training || rate == 0) {
            return new NDList(input);
        }
        FulgurEngine engine = FulgurEngine.getInstance();
        long offset = engine.nextRandomOffset(input.getShape().size());
        return new NDList(new FulgurNDArray(input.getManager(), FulgurNDArray.recorded(
                () -> Dropout.apply(var(input, "dropout"), rate, engine.seed(), offset))));
    }

    @Override
    public NDList layerNorm(NDArray input, Shape normalizedShape, NDArray gamma, NDArray beta, float eps) {
        return new NDList(new FulgurNDArray(input.getManager(), FulgurNDArray.recorded(() -> LayerNorm.apply(
                var(input, "layerNorm"), DjlTypes.shape(normalizedShape), gamma == null ? null : var(gamma, "layerNorm"),
                beta == null ? null : var(beta, "layerNorm"), eps))));
    }

    // -----------------------------------------------------------------------------------------------------------------
    // optimizer updates (never recorded; in place; the weight's gradient is zeroed afterwards)

    /**
     * Adam/AdamW as DJL's PyTorch engine computes it: the step size {@code lrBiasCorrection} already holds the bias
     * corrections, eps is added to √v, and AdamW's decoupled decay uses the plain {@code lr} ({@link AdamParams#djl}).
     * Gradient clipping is symmetric, [−clip, clip].
     */
    @Override
    public void adamUpdate(NDList inputs, NDList weights, float lr, float lrBiasCorrection, float wd,
            float rescaleGrad, float clipGrad, float beta1, float beta2, float eps, boolean lazyUpdate, boolean adamw) {
        Variable w = var(inputs.get(0), "adamUpdate");
        Tensor g = var(inputs.get(1), "adamUpdate").data();
        Variable m = var(inputs.get(2), "adamUpdate");
        Variable v = var(inputs.get(3), "adamUpdate");
        AdamParams p = AdamParams.djl(lr, lrBiasCorrection, beta1, beta2, eps, wd, adamw, rescaleGrad, clipGrad);
        Optim.adamUpdate(w.data(), g, m.data(), v.data(), p);
        w.bumpVersion();
        m.bumpVersion();
        v.bumpVersion();
        var(weights.singletonOrThrow(), "adamUpdate").zeroGrad();
    }

    @Override
    public void sgdUpdate(NDList inputs, NDList weights, float lr, float wd, float rescaleGrad, float clipGrad,
            float momentum, boolean lazyUpdate) {
        Variable w = var(inputs.get(0), "sgdUpdate");
        Tensor g = var(inputs.get(1), "sgdUpdate").data();
        Variable state = momentum != 0 ? var(inputs.get(2), "sgdUpdate") : null;
        Optim.sgdUpdate(w.data(), g, state == null ? null : state.data(), lr, wd, momentum, rescaleGrad, clipGrad);
        w.bumpVersion();
        if (state != null) {
            state.bumpVersion();
        }
        var(weights.singletonOrThrow(), "sgdUpdate").zeroGrad();
    }

    // -----------------------------------------------------------------------------------------------------------------
    // indexing, where, stack, concat

    @Override
    public NDArrayIndexer getIndexer(NDManager manager) {
        return new FulgurNDArrayIndexer(manager);
    }

    /** condition ? this : other. */
    @Override
    public NDArray where(NDArray condition, NDArray other) {
        Tensor cond = var(condition, "where").data();
        Tensor c = cond.dtype() == DType.BOOL ? cond : cond.cast(DType.BOOL);
        return result(() -> Where.apply(c, array.variable(), var(other, "where")));
    }

    @Override
    public NDArray stack(NDList arrays, int axis) {
        return result(() -> Concat.stack(withThis(arrays, "stack"), axis));
    }

    @Override
    public NDArray concat(NDList arrays, int axis) {
        return result(() -> Concat.apply(withThis(arrays, "concat"), axis));
    }

    private List<Variable> withThis(NDList rest, String op) {
        List<Variable> all = new ArrayList<>(rest.size() + 1);
        all.add(array.variable());
        for (NDArray a : rest) {
            all.add(var(a, op));
        }
        return all;
    }

    // -----------------------------------------------------------------------------------------------------------------
    // not supported: vision and recurrent ops, other optimizers

    @Override public NDArray maxPool(Shape k, Shape s, Shape p, boolean c) { throw unsupported("maxPool"); }
    @Override public NDArray globalMaxPool() { throw unsupported("globalMaxPool"); }
    @Override public NDArray avgPool(Shape k, Shape s, Shape p, boolean c, boolean i) { throw unsupported("avgPool"); }
    @Override public NDArray globalAvgPool() { throw unsupported("globalAvgPool"); }
    @Override public NDArray lpPool(float n, Shape k, Shape s, Shape p, boolean c) { throw unsupported("lpPool"); }
    @Override public NDArray globalLpPool(float n) { throw unsupported("globalLpPool"); }

    @Override
    public void adadeltaUpdate(NDList i, NDList w, float wd, float rg, float cg, float rho, float eps) {
        throw unsupported("adadeltaUpdate");
    }

    @Override
    public void adagradUpdate(NDList i, NDList w, float lr, float wd, float rg, float cg, float eps) {
        throw unsupported("adagradUpdate");
    }

    @Override
    public void nagUpdate(NDList i, NDList w, float lr, float wd, float rg, float cg, float m) {
        throw unsupported("nagUpdate");
    }

    @Override
    public void rmspropUpdate(NDList i, NDList w, float lr, float wd, float rg, float cg, float rho, float m,
            float eps, boolean centered) {
        throw unsupported("rmspropUpdate");
    }

    @Override
    public NDList convolution(NDArray in, NDArray w, NDArray b, Shape s, Shape p, Shape d, int g) {
        throw unsupported("convolution");
    }

    @Override
    public NDList deconvolution(NDArray in, NDArray w, NDArray b, Shape s, Shape p, Shape op, Shape d, int g) {
        throw unsupported("deconvolution");
    }

    @Override public NDList prelu(NDArray in, NDArray alpha) { throw unsupported("prelu"); }

    @Override
    public NDList batchNorm(NDArray in, NDArray mean, NDArray var, NDArray gamma, NDArray beta, int axis,
            float momentum, float eps, boolean training) {
        throw unsupported("batchNorm");
    }

    @Override
    public NDList rnn(NDArray in, NDArray state, NDList params, boolean hasBiases, int numLayers,
            RNN.Activation activation, double dropRate, boolean training, boolean bidirectional, boolean batchFirst) {
        throw unsupported("rnn");
    }

    @Override
    public NDList gru(NDArray in, NDArray state, NDList params, boolean hasBiases, int numLayers, double dropRate,
            boolean training, boolean bidirectional, boolean batchFirst) {
        throw unsupported("gru");
    }

    @Override
    public NDList lstm(NDArray in, NDList states, NDList params, boolean hasBiases, int numLayers, double dropRate,
            boolean training, boolean bidirectional, boolean batchFirst) {
        throw unsupported("lstm");
    }

    @Override public NDArray interpolation(long[] size, int mode, boolean alignCorners) { throw unsupported("interpolation"); }
    @Override public NDArray resize(int width, int height, int interpolation) { throw unsupported("resize"); }
    @Override public NDArray randomFlipLeftRight() { throw unsupported("randomFlipLeftRight"); }
    @Override public NDArray randomFlipTopBottom() { throw unsupported("randomFlipTopBottom"); }
    @Override public NDArray randomBrightness(float brightness) { throw unsupported("randomBrightness"); }
    @Override public NDArray randomHue(float hue) { throw unsupported("randomHue"); }

    @Override
    public NDArray randomColorJitter(float brightness, float contrast, float saturation, float hue) {
        throw unsupported("randomColorJitter");
    }

    @Override
    public NDList multiBoxTarget(NDList inputs, float iouThreshold, float ignoreThreshold, float negativeMiningRatio,
            float negativeMiningThreshold, int minNegativeSamples) {
        throw unsupported("multiBoxTarget");
    }

    @Override
    public NDList multiBoxPrior(List<Float> sizes, List<Float> ratios, List<Float> steps, List<Float> offsets,
            boolean clip) {
        throw unsupported("multiBoxPrior");
    }

    @Override
    public NDList multiBoxDetection(NDList inputs, boolean clip, float threshold, int backgroundId,
            float nmsThreshold, boolean forceSuppress, int nmsTopK) {
        throw unsupported("multiBoxDetection");
    }
}

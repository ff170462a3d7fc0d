package ai.fulgur.training.optim;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.ParameterTracker;
import ai.djl.training.tracker.Tracker;
import ai.djl.ndarray.types.DataType;
import ai.djl.util.Pair;
import ai.fulgur.autograd.Variable;
import ai.fulgur.autograd.djl.FulgurNDArray;
import ai.fulgur.autograd.djl.MultiTensorOptimizer;
import ai.fulgur.ops.optim.AdamGroup;
import ai.fulgur.ops.optim.AdamParams;
import ai.fulgur.ops.optim.Optim;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Adam with decoupled weight decay (PyTorch's {@code torch.optim.AdamW}, DJL's {@code AdamW} update through the
 * engine's fused kernel) whose state can be saved and restored, so that a resumed run continues exactly: the first and
 * second moments of every parameter and the update count that drives bias correction and the learning-rate schedule.
 *
 * <pre>
 *   m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
 *   w = w − lr_t·(m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε) − lr_t·λ·w        (λ = 0 for parameters excluded from decay)
 * </pre>
 *
 * <p>DJL keys optimizer state by parameter ids, which are fresh UUIDs in every process; the state is exported keyed by
 * the parameter names of a block ({@code exp_avg/<name>}, {@code exp_avg_sq/<name>}), which are stable. Parameters
 * can be excluded from weight decay (GPT-2 and BERT practice: biases, layer norms).
 *
 * <p>As a {@link MultiTensorOptimizer} it updates all parameters of a step in one call ({@link #updateAll}: one
 * kernel launch on a GPU, each tensor's decay flag in the launch's table), with the same bits as one
 * {@link #update} per parameter.
 */
public class ResumableAdamW extends Optimizer implements MultiTensorOptimizer {
    private static final String FIRST = "exp_avg/";
    private static final String SECOND = "exp_avg_sq/";

    private final ParameterTracker learningRate;
    private final float beta1;
    private final float beta2;
    private final float epsilon;
    private final Set<String> noDecayIds = ConcurrentHashMap.newKeySet();
    private final Map<String, Map<Device, NDArray>> means = new ConcurrentHashMap<>();
    private final Map<String, Map<Device, NDArray>> variances = new ConcurrentHashMap<>();
    private volatile int step;
    /** F32 {lr, lr / bc1, √bc2} on the device, read by the update kernels (graph replay); null: launch arguments. */
    private volatile NDArray stepScalars;

    /** Builds the optimizer; see {@link Builder}. */
    protected ResumableAdamW(Builder builder) {
        super(builder);
        learningRate = builder.learningRate;
        beta1 = builder.beta1;
        beta2 = builder.beta2;
        epsilon = builder.epsilon;
        step = builder.beginStep;
    }

    /** A builder with PyTorch's AdamW defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01). */
    public static Builder builder() {
        return new Builder();
    }

    /** {@inheritDoc} */
    @Override
    public void update(String parameterId, NDArray weight, NDArray grad) {
        int t = updateCount(parameterId);
        step = Math.max(step, t);
        updateAt(parameterId, weight, grad, t, learningRate.getNewValue(parameterId, t));
    }

    /** Update {@code t} (already counted) of one parameter with learning rate {@code lr}. */
    private void updateAt(String parameterId, NDArray weight, NDArray grad, int t, float lr) {
        float biasCorrectedLr = biasCorrectedLr(lr, t);
        float decay = noDecayIds.contains(parameterId) ? 0f : getWeightDecay();
        NDArray m = withDefaultState(means, parameterId, weight.getDevice(), k -> weight.zerosLike());
        NDArray v = withDefaultState(variances, parameterId, weight.getDevice(), k -> weight.zerosLike());
        NDArray scalars = stepScalars;
        if (scalars != null) {
            updateFromStepScalars(weight, grad, m, v, scalars, decay);
            return;
        }
        weight.getNDArrayInternal().adamUpdate(new NDList(weight, grad, m, v), new NDList(weight), lr,
                biasCorrectedLr, decay, rescaleGrad, clipGrad, beta1, beta2, epsilon, true, true);
    }

    /** lr · √bc2 / bc1 of update {@code t}, as a float (what DJL's adamUpdate takes); fails unless finite. */
    private float biasCorrectedLr(float lr, int t) {
        double coef1 = 1.0 - Math.pow(beta1, t);
        double coef2 = 1.0 - Math.pow(beta2, t);
        float biasCorrectedLr = (float) (lr * Math.sqrt(coef2) / coef1);
        if (!Float.isFinite(lr) || !Float.isFinite(biasCorrectedLr)) {
            throw new IllegalStateException("learning rate at update " + t + " is " + lr + "; expected a finite value");
        }
        return biasCorrectedLr;
    }

    /**
     * {@inheritDoc}
     *
     * <p>When every parameter is at the same update count with the same learning rate (always, in a training loop),
     * one {@link Optim#adamUpdateMany} call updates them all (reading the step scalars from the device array when
     * {@link #readStepScalarsFrom} set one); otherwise each parameter is updated on its own.
     */
    @Override
    public void updateAll(List<String> parameterIds, List<NDArray> weights, List<NDArray> grads) {
        int n = parameterIds.size();
        if (weights.size() != n || grads.size() != n) {
            throw new IllegalArgumentException("updateAll needs one weight and one gradient per parameter id, got "
                    + n + " ids, " + weights.size() + " weights and " + grads.size() + " gradients");
        }
        if (n == 0) {
            return;
        }
        int[] counts = new int[n];
        float[] rates = new float[n];
        boolean uniform = true;
        for (int i = 0; i < n; i++) {
            counts[i] = updateCount(parameterIds.get(i));
            step = Math.max(step, counts[i]);
            rates[i] = learningRate.getNewValue(parameterIds.get(i), counts[i]);
            uniform &= counts[i] == counts[0] && Float.floatToIntBits(rates[i]) == Float.floatToIntBits(rates[0]);
        }
        if (!uniform) {
            for (int i = 0; i < n; i++) {
                updateAt(parameterIds.get(i), weights.get(i), grads.get(i), counts[i], rates[i]);
            }
            return;
        }
        float lr = rates[0];
        float biasCorrectedLr = biasCorrectedLr(lr, counts[0]);
        List<AdamGroup> groups = new ArrayList<>(n);
        List<Variable> touched = new ArrayList<>(3 * n);
        for (int i = 0; i < n; i++) {
            NDArray weight = weights.get(i);
            String id = parameterIds.get(i);
            Variable w = FulgurNDArray.variableOf(weight, "adamUpdate");
            Variable m = FulgurNDArray.variableOf(withDefaultState(means, id, weight.getDevice(),
                    k -> weight.zerosLike()), "adamUpdate");
            Variable v = FulgurNDArray.variableOf(withDefaultState(variances, id, weight.getDevice(),
                    k -> weight.zerosLike()), "adamUpdate");
            Variable g = FulgurNDArray.variableOf(grads.get(i), "adamUpdate");
            groups.add(new AdamGroup(w.data(), g.data(), m.data(), v.data(), !noDecayIds.contains(id)));
            touched.add(w);
            touched.add(m);
            touched.add(v);
        }
        double decay = getWeightDecay();
        NDArray scalars = stepScalars;
        if (scalars != null) {
            Optim.adamUpdateMany(groups, stepScalarParams(decay),
                    FulgurNDArray.variableOf(scalars, "adamUpdate").data());
        } else { // what update passes to DJL's adamUpdate, one launch for all
            Optim.adamUpdateMany(groups, AdamParams.djl(lr, biasCorrectedLr, beta1, beta2, epsilon, decay, true,
                    rescaleGrad, clipGrad));
        }
        for (Variable x : touched) {
            x.bumpVersion();
        }
        for (int i = 0; i < n; i++) {
            touched.get(3 * i).zeroGrad();
        }
    }

    /** This optimizer's constants with {@code decay}; lr and the bias corrections come from the step scalars. */
    private AdamParams stepScalarParams(double decay) {
        return new AdamParams(0, beta1, beta2, epsilon, decay, true, 1, 1, rescaleGrad, clipGrad);
    }

    /**
     * The same update with lr, the bias-corrected step size and √bc2 read by the kernel from {@code scalars}: the
     * values as {@link #update} passes them to DJL's adamUpdate (bc1 = lr / lrBiasCorrection, bc2 = 1), so both give
     * the same bits.
     */
    private void updateFromStepScalars(NDArray weight, NDArray grad, NDArray m, NDArray v, NDArray scalars,
            float decay) {
        Variable w = FulgurNDArray.variableOf(weight, "adamUpdate");
        Variable mv = FulgurNDArray.variableOf(m, "adamUpdate");
        Variable vv = FulgurNDArray.variableOf(v, "adamUpdate");
        Optim.adamUpdate(w.data(), FulgurNDArray.variableOf(grad, "adamUpdate").data(), mv.data(), vv.data(),
                stepScalarParams(decay), FulgurNDArray.variableOf(scalars, "adamUpdate").data());
        w.bumpVersion();
        mv.bumpVersion();
        vv.bumpVersion();
        w.zeroGrad();
    }

    /**
     * From now on (null: no longer) the update kernels read lr, lr / bc1 and √bc2 from {@code scalars} (a Fulgur F32
     * array of 3 elements on the parameters' device) instead of taking them as launch arguments, so that a captured
     * step replays with each step's values: write {@link #stepScalars(int)} into it before every replay.
     */
    public void readStepScalarsFrom(NDArray scalars) {
        if (scalars != null && (scalars.size() != 3 || scalars.getDataType() != DataType.FLOAT32)) {
            throw new IllegalArgumentException("step scalars must be a FLOAT32 array of 3 elements {lr, lr/bc1, "
                    + "sqrt(bc2)}, got " + scalars.getDataType() + " " + scalars.getShape());
        }
        this.stepScalars = scalars;
    }

    /**
     * {lr, lr / bc1, √bc2} of update {@code t} (1-based) as {@link #update} computes them (with the schedule's
     * value for a parameter named ""; schedules here depend on t only), folded the way DJL's adamUpdate folds them.
     */
    public float[] stepScalars(int t) {
        if (t < 1) {
            throw new IllegalArgumentException("update count must be >= 1, got " + t);
        }
        double coef1 = 1.0 - Math.pow(beta1, t);
        double coef2 = 1.0 - Math.pow(beta2, t);
        float lr = learningRate.getNewValue("", t);
        float biasCorrectedLr = (float) (lr * Math.sqrt(coef2) / coef1);
        if (!Float.isFinite(lr) || !Float.isFinite(biasCorrectedLr)) {
            throw new IllegalStateException("learning rate at update " + t + " is " + lr + "; expected a finite value");
        }
        return new float[] {lr, biasCorrectedLr, 1f};
    }

    /**
     * Sets the completed-update count to {@code t} after steps that ran as graph replays (the Java update did not
     * run, so it did not count them); checkpoints export it.
     */
    public void advanceTo(int t) {
        step = Math.max(step, t);
    }

    /** Excludes these parameters of {@code block} from weight decay: those whose name ends with one of the suffixes. */
    public void excludeFromDecay(Block block, String... nameSuffixes) {
        for (Pair<String, Parameter> p : block.getParameters()) {
            for (String suffix : nameSuffixes) {
                if (p.getKey().endsWith(suffix)) {
                    noDecayIds.add(p.getValue().getId());
                }
            }
        }
    }

    /** The number of completed updates (the t of bias correction, the step of the learning-rate schedule). */
    public int step() {
        return step;
    }

    /**
     * The moments of {@code block}'s parameters keyed {@code exp_avg/<name>} and {@code exp_avg_sq/<name>}; a
     * parameter not yet updated has none.
     */
    public Map<String, NDArray> exportState(Block block) {
        Map<String, NDArray> state = new LinkedHashMap<>();
        for (Pair<String, Parameter> p : block.getParameters()) {
            String id = p.getValue().getId();
            if (means.containsKey(id)) {
                state.put(FIRST + p.getKey(), means.get(id).values().iterator().next());
                state.put(SECOND + p.getKey(), variances.get(id).values().iterator().next());
            }
        }
        return state;
    }

    /**
     * Restores moments saved by {@link #exportState} into this (fresh) optimizer for {@code block}'s parameters,
     * copying them into {@code manager}; build the optimizer with {@link Builder#optBeginStep} set to the saved step.
     * A saved moment whose parameter does not exist or whose shape differs fails, naming it.
     */
    public void importState(Block block, Map<String, NDArray> state, NDManager manager) {
        Map<String, Parameter> byName = new LinkedHashMap<>();
        block.getParameters().forEach(p -> byName.put(p.getKey(), p.getValue()));
        Set<String> used = new HashSet<>();
        for (Map.Entry<String, Parameter> e : byName.entrySet()) {
            NDArray m = state.get(FIRST + e.getKey());
            NDArray v = state.get(SECOND + e.getKey());
            if (m == null && v == null) {
                continue;
            }
            if (m == null || v == null) {
                throw new IllegalArgumentException("optimizer state has only one moment of parameter " + e.getKey());
            }
            Parameter p = e.getValue();
            NDArray w = p.getArray();
            for (NDArray s : new NDArray[] {m, v}) {
                if (!s.getShape().equals(w.getShape())) {
                    throw new IllegalArgumentException("optimizer state of parameter " + e.getKey() + " has shape "
                            + s.getShape() + ", the parameter " + w.getShape());
                }
            }
            means.put(p.getId(), deviceMap(m, w, manager));
            variances.put(p.getId(), deviceMap(v, w, manager));
            used.add(FIRST + e.getKey());
            used.add(SECOND + e.getKey());
        }
        for (String key : state.keySet()) {
            if (!used.contains(key)) {
                throw new IllegalArgumentException("optimizer state '" + key + "' belongs to no parameter of the "
                        + "model; the checkpoint was written for a different model");
            }
        }
    }

    private static Map<Device, NDArray> deviceMap(NDArray saved, NDArray weight, NDManager manager) {
        NDArray copy = saved.toType(weight.getDataType(), true).toDevice(weight.getDevice(), true);
        copy.attach(manager);
        Map<Device, NDArray> map = new ConcurrentHashMap<>();
        map.put(weight.getDevice(), copy);
        return map;
    }

    /** The builder of {@link ResumableAdamW}. */
    public static final class Builder extends OptimizerBuilder<Builder> {
        private ParameterTracker learningRate = Tracker.fixed(0.001f);
        private float beta1 = 0.9f;
        private float beta2 = 0.999f;
        private float epsilon = 1e-8f;
        private int beginStep;

        Builder() {
            optWeightDecays(0.01f);
        }

        @Override
        protected Builder self() {
            return this;
        }

        /** Sets the learning-rate schedule, a function of the update count (e.g. warm-up then cosine). */
        public Builder optLearningRateTracker(ParameterTracker learningRate) {
            this.learningRate = learningRate;
            return this;
        }

        /** Sets β1 (default 0.9). */
        public Builder optBeta1(float beta1) {
            this.beta1 = beta1;
            return this;
        }

        /** Sets β2 (default 0.999). */
        public Builder optBeta2(float beta2) {
            this.beta2 = beta2;
            return this;
        }

        /** Sets ε (default 1e-8). */
        public Builder optEpsilon(float epsilon) {
            this.epsilon = epsilon;
            return this;
        }

        /** Resumes counting updates after {@code step} completed ones (default 0). */
        public Builder optBeginStep(int step) {
            if (step < 0) {
                throw new IllegalArgumentException("begin step must be >= 0, got " + step);
            }
            this.beginStep = step;
            optBeginNumUpdate(step);
            return this;
        }

        /** Builds the optimizer. */
        public ResumableAdamW build() {
            if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(epsilon > 0)) {
                throw new IllegalArgumentException("AdamW needs 0 <= beta1, beta2 < 1 and epsilon > 0, got beta1 "
                        + beta1 + ", beta2 " + beta2 + ", epsilon " + epsilon);
            }
            return new ResumableAdamW(this);
        }
    }
}

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
import ai.djl.util.Pair;
import java.util.HashSet;
import java.util.LinkedHashMap;
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
 */
public class ResumableAdamW extends Optimizer {
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
        double coef1 = 1.0 - Math.pow(beta1, t);
        double coef2 = 1.0 - Math.pow(beta2, t);
        float lr = learningRate.getNewValue(parameterId, t);
        float biasCorrectedLr = (float) (lr * Math.sqrt(coef2) / coef1);
        float decay = noDecayIds.contains(parameterId) ? 0f : getWeightDecay();
        if (!Float.isFinite(lr) || !Float.isFinite(biasCorrectedLr)) {
            throw new IllegalStateException("learning rate at update " + t + " is " + lr + "; expected a finite value");
        }
        NDList inputs = new NDList(weight, grad,
                withDefaultState(means, parameterId, weight.getDevice(), k -> weight.zerosLike()),
                withDefaultState(variances, parameterId, weight.getDevice(), k -> weight.zerosLike()));
        weight.getNDArrayInternal().adamUpdate(inputs, new NDList(weight), lr, biasCorrectedLr, decay, rescaleGrad,
                clipGrad, beta1, beta2, epsilon, true, true);
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

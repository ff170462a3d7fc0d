package ai.fulgur.autograd.djl;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.engine.StandardCapabilities;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterServer;
import ai.djl.training.optimizer.Optimizer;
import ai.fulgur.ops.Backends;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The Fulgur DJL engine: DJL's Model, Trainer, blocks, losses and optimizers run on Fulgur tensors, with gradients
 * from Fulgur's tape. Select it with {@code -Dai.djl.default_engine=Fulgur} or {@code Engine.getEngine("Fulgur")}.
 *
 * <p>There is no alternative engine: an NDArray method Fulgur does not implement throws an
 * {@link UnsupportedOperationException} naming the method, instead of computing off the tape in another engine.
 */
public final class FulgurEngine extends Engine {
    /** The name DJL knows this engine by. */
    public static final String ENGINE_NAME = "Fulgur";

    /** Below PyTorch (2), so Fulgur is DJL's default when both are on the class path. */
    static final int RANK = 1;

    private static final String VERSION = "0.1.0";
    private static volatile FulgurEngine instance;

    private final AtomicLong randomOffset = new AtomicLong();
    private volatile long seed = 42;

    private FulgurEngine() {}

    /** The single engine instance (DJL compares engines by identity). */
    public static FulgurEngine getInstance() {
        FulgurEngine e = instance;
        if (e == null) {
            synchronized (FulgurEngine.class) {
                e = instance;
                if (e == null) {
                    e = new FulgurEngine();
                    instance = e;
                }
            }
        }
        return e;
    }

    @Override
    public Engine getAlternativeEngine() {
        return null;
    }

    @Override
    public String getEngineName() {
        return ENGINE_NAME;
    }

    @Override
    public int getRank() {
        return RANK;
    }

    @Override
    public String getVersion() {
        return VERSION;
    }

    @Override
    public boolean hasCapability(String capability) {
        return StandardCapabilities.CUDA.equals(capability) && getGpuCount() > 0;
    }

    @Override
    public int getGpuCount() {
        return Backends.deviceCount(ai.fulgur.ops.Device.Kind.CUDA);
    }

    @Override
    public Device defaultDevice() {
        return getGpuCount() > 0 ? Device.gpu() : Device.cpu();
    }

    @Override
    public Model newModel(String name, Device device) {
        return new FulgurModel(name, device == null ? defaultDevice() : device);
    }

    @Override
    public NDManager newBaseManager() {
        return FulgurNDManager.getSystemManager().newSubManager();
    }

    @Override
    public NDManager newBaseManager(Device device) {
        return FulgurNDManager.getSystemManager().newSubManager(device == null ? defaultDevice() : device);
    }

    @Override
    public GradientCollector newGradientCollector() {
        return new FulgurGradientCollector();
    }

    /** {@inheritDoc} One device's gradients go to the optimizer without DJL's copy: see {@link FulgurParameterServer}. */
    @Override
    public ParameterServer newParameterServer(Optimizer optimizer) {
        return new FulgurParameterServer(optimizer);
    }

    @Override
    public void setRandomSeed(int seed) {
        super.setRandomSeed(seed);
        this.seed = seed;
        randomOffset.set(0);
    }

    /**
     * Reserves {@code count} consecutive positions of the engine's Philox stream and returns the first; random
     * arrays and dropout masks draw from (seed, offset) so a seeded run is reproducible on every device.
     */
    public long nextRandomOffset(long count) {
        return randomOffset.getAndAdd((count + 3) & ~3L); // keep offsets on Philox block boundaries
    }

    /** The current seed of the engine's random stream (blocks with their own dropout draw from it). */
    public long seed() {
        return seed;
    }

    /** The next unreserved position of the engine's Philox stream; with {@link #seed()} the whole random state. */
    public long randomOffset() {
        return randomOffset.get();
    }

    /**
     * Puts the random stream back to a state read from {@link #seed()} and {@link #randomOffset()}, so a resumed
     * run draws the same dropout masks as one that never stopped.
     */
    public void restoreRandomState(long seed, long offset) {
        if (offset < 0 || (offset & 3) != 0) {
            throw new IllegalArgumentException("random offset must be a non-negative multiple of 4, got " + offset);
        }
        super.setRandomSeed((int) seed);
        this.seed = seed;
        randomOffset.set(offset);
    }

    @Override
    public String toString() {
        return ENGINE_NAME + ":" + VERSION;
    }
}

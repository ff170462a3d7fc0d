package ai.fulgur.autograd.djl;

import ai.djl.BaseModel;
import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.nn.Parameter;
import ai.djl.training.Trainer;
import ai.djl.training.TrainingConfig;
import ai.djl.training.initializer.Initializer;
import ai.djl.util.Pair;
import ai.djl.util.PairList;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Predicate;

/** A DJL Model on the Fulgur engine: a block, its parameters in this model's manager, DJL's .params save/load. */
public final class FulgurModel extends BaseModel {

    FulgurModel(String name, Device device) {
        super(name);
        this.manager = FulgurNDManager.getSystemManager().newSubManager(device);
        this.manager.setName("model:" + name);
        this.dataType = ai.djl.ndarray.types.DataType.FLOAT32;
    }

    /** Loads parameters saved by {@link #save} into the block set with {@link #setBlock}. */
    @Override
    public void load(Path modelPath, String prefix, Map<String, ?> options) throws IOException, MalformedModelException {
        setModelDir(modelPath);
        if (block == null) {
            throw new MalformedModelException("the " + FulgurEngine.ENGINE_NAME + " engine loads parameters into a block:"
                    + " call model.setBlock(...) before model.load(" + modelPath + ")");
        }
        loadBlock(prefix == null ? modelName : prefix, options);
        wasLoaded = true;
    }

    @Override
    public Trainer newTrainer(TrainingConfig trainingConfig) {
        if (block == null) {
            throw new IllegalStateException("set a block with model.setBlock(...) before creating a trainer");
        }
        if (wasLoaded) {
            block.freezeParameters(false, p -> p.getType() != Parameter.Type.RUNNING_MEAN
                    && p.getType() != Parameter.Type.RUNNING_VAR);
        }
        PairList<Initializer, Predicate<Parameter>> initializers = trainingConfig.getInitializers();
        for (Pair<Initializer, Predicate<Parameter>> pair : initializers) {
            if (pair.getKey() != null && pair.getValue() != null) {
                block.setInitializer(pair.getKey(), pair.getValue());
            }
        }
        return new FulgurTrainer(this, trainingConfig);
    }
}

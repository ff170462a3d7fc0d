package ai.fulgur.autograd.djl;

import ai.djl.engine.Engine;
import ai.djl.engine.EngineProvider;

/** Registers the Fulgur engine with DJL through {@code META-INF/services/ai.djl.engine.EngineProvider}. */
public final class FulgurEngineProvider implements EngineProvider {

    @Override
    public String getEngineName() {
        return FulgurEngine.ENGINE_NAME;
    }

    @Override
    public int getEngineRank() {
        return FulgurEngine.RANK;
    }

    @Override
    public Engine getEngine() {
        return FulgurEngine.getInstance();
    }
}

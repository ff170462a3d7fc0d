package ai.fulgur.autograd.djl;

import static ai.fulgur.autograd.djl.DjlTestSupport.assertValues;
import static ai.fulgur.autograd.djl.DjlTestSupport.values;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterServer;
import ai.djl.training.optimizer.Optimizer;

import org.junit.jupiter.api.Test;

/**
 * The Fulgur engine's parameter server hands the optimizer a one-device gradient itself (no copy), and sums several
 * devices' gradients into a copy as DJL's LocalParameterServer does.
 */
class FulgurParameterServerTest {

    /** Records the gradient array each update receives (and its values then). */
    private static final class Recording extends Optimizer {
        NDArray seen;
        double[] seenValues;

        Recording() {
            super(new Builder());
        }

        @Override
        public void update(String parameterId, NDArray weight, NDArray grad) {
            seen = grad;
            seenValues = values(grad);
        }

        static final class Builder extends Optimizer.OptimizerBuilder<Builder> {
            @Override
            protected Builder self() {
                return this;
            }
        }
    }

    @Test
    void oneDevicesGradientGoesToTheOptimizerUncopied() {
        try (NDManager m = DjlTestSupport.fulgurManager()) {
            Recording optimizer = new Recording();
            ParameterServer server = DjlTestSupport.fulgur().newParameterServer(optimizer);
            NDArray weight = m.create(new float[] {1, 2, 3});
            NDArray grad = m.create(new float[] {0.5f, -1, 2});
            server.update("w", new NDArray[] {grad}, new NDArray[] {weight});
            assertSame(grad, optimizer.seen, "the gradient array itself");
        }
    }

    @Test
    void severalGradientsAreSummedIntoACopy() {
        try (NDManager m = DjlTestSupport.fulgurManager()) {
            Recording optimizer = new Recording();
            ParameterServer server = DjlTestSupport.fulgur().newParameterServer(optimizer);
            NDArray weight = m.create(new float[] {1, 2});
            NDArray g0 = m.create(new float[] {1, 2});
            NDArray g1 = m.create(new float[] {10, 20});
            server.update("w", new NDArray[] {g0, g1}, new NDArray[] {weight});
            assertNotSame(g0, optimizer.seen, "DJL's server passes a copy");
            assertValues("g0 + g1", new double[] {11, 22}, optimizer.seenValues, 0, 0);
        }
    }
}

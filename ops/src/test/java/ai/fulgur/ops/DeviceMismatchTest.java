package ai.fulgur.ops;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.elementwise.Elementwise;
import ai.fulgur.ops.linalg.Linalg;
import org.junit.jupiter.api.Test;

/**
 * Operands on different devices fail before any kernel runs, with a message naming the op and both operands' shapes,
 * dtypes and devices. A storage that claims to live on cuda:0 stands in for a GPU tensor, so this runs without one.
 */
class DeviceMismatchTest {

    private static Tensor onCuda(long... shape) {
        Shape s = Shape.of(shape);
        Storage fake = new Storage() {
            @Override public Device device() { return Device.cuda(0); }
            @Override public DType dtype() { return DType.F32; }
            @Override public long length() { return s.numel(); }
        };
        return new Tensor(fake, s);
    }

    @Test
    void elementwiseNamesBothDevices() {
        Tensor cpu = Tensor.of(new float[6], 2, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Elementwise.add(cpu, onCuda(2, 3)));
        assertTrue(e.getMessage().contains("add") && e.getMessage().contains("(2, 3) F32 cpu")
                && e.getMessage().contains("(2, 3) F32 cuda:0"), e.getMessage());
    }

    @Test
    void matmulNamesBothDevices() {
        Tensor cpu = Tensor.of(new float[6], 2, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Linalg.matmul(cpu, onCuda(3, 4)));
        assertTrue(e.getMessage().contains("matmul") && e.getMessage().contains("cpu")
                && e.getMessage().contains("(3, 4) F32 cuda:0"), e.getMessage());
    }
}

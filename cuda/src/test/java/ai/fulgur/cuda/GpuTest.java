package ai.fulgur.cuda;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.Device;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;

/**
 * Base of the tests that need a CUDA device: tagged {@code gpu}, and skipped with the printed reason where there is
 * none (CI), so they run only on the GPU machine.
 */
@Tag("gpu")
public abstract class GpuTest {
    /** Marks a test class or method as needing the GPU (the tag alone, for classes that can't extend GpuTest). */
    @Target({ElementType.TYPE, ElementType.METHOD})
    @Retention(RetentionPolicy.RUNTIME)
    @Tag("gpu")
    public @interface Gpu {}

    protected static final Device GPU = Device.cuda(0);

    @BeforeAll
    static void requireGpu() {
        boolean available = Backends.isAvailable(Device.Kind.CUDA);
        if (!available) {
            System.out.println("[gpu] skipped: " + Backends.unavailableReason(Device.Kind.CUDA));
        }
        Assumptions.assumeTrue(available, () -> "no CUDA device: " + Backends.unavailableReason(Device.Kind.CUDA));
    }
}

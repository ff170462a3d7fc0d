package ai.fulgur.ops.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Tensor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The same call gives the same bits before and after the JIT has compiled the kernels. This needs a fresh JVM (the
 * test JVM is warm by the time this runs), so the check runs in a child process: {@link #main} calls forward and
 * backward once cold, warms the kernels up, calls again and compares every bit.
 *
 * <p>Found by this test: the forward pass used the Vector API's EXP, whose Java fallback (before C2) and compiled
 * SVML code differ by an ulp, so a cold and a warm call differed in about half the output elements.
 */
class AttentionDeterminismTest {

    @Test
    void coldAndWarmCallsGiveIdenticalBits() throws IOException, InterruptedException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> command = List.of(java.toString(), "--add-modules", "jdk.incubator.vector", "-Xmx1g",
                "-cp", System.getProperty("java.class.path"), AttentionDeterminismTest.class.getName());
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        boolean done = p.waitFor(60, TimeUnit.SECONDS);
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!done) {
            p.destroyForcibly();
        }
        System.out.print(output);
        assertEquals(0, done ? p.exitValue() : -1, "child JVM (" + String.join(" ", command) + ") said:\n" + output);
    }

    /** Child process: exits normally if the cold and the warm call agree bit for bit, else throws the difference. */
    public static void main(String[] args) {
        Tensor[] t = AttentionAsserts.operands(21, DType.F32, 1, 130, 150, 2, 1, 64);
        AttentionSpec spec = AttentionSpec.causal(64).withDropout(0.1, 5, 0);
        AttentionAsserts.Flash cold = AttentionAsserts.flash(t[0], t[1], t[2], t[3], spec);
        Tensor[] big = AttentionAsserts.operands(22, DType.F32, 1, 1024, 1024, 2, 1, 64);
        for (int i = 0; i < 8; i++) {
            AttentionAsserts.flash(big[0], big[1], big[2], big[3], spec);
        }
        AttentionAsserts.Flash warm = AttentionAsserts.flash(t[0], t[1], t[2], t[3], spec);
        AttentionAsserts.assertIdentical("out, cold vs warm", cold.out(), warm.out());
        AttentionAsserts.assertIdentical("lse, cold vs warm", cold.lse(), warm.lse());
        AttentionAsserts.assertIdentical("dq, cold vs warm", cold.dq(), warm.dq());
        AttentionAsserts.assertIdentical("dk, cold vs warm", cold.dk(), warm.dk());
        AttentionAsserts.assertIdentical("dv, cold vs warm", cold.dv(), warm.dv());
        System.out.println("cold and warm calls agree bit for bit");
    }
}

package ai.fulgur.autograd.djl;

import static ai.fulgur.autograd.djl.DjlTestSupport.assertClose;
import static ai.fulgur.autograd.djl.DjlTestSupport.assertValues;
import static ai.fulgur.autograd.djl.DjlTestSupport.values;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.engine.EngineProvider;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrayAdapter;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The engine as DJL finds it (ServiceLoader, rank, default engine), the manager's creation methods against the
 * PyTorch engine, byte buffers, and the guard rails: no method forwards to another engine, unsupported methods and
 * closed arrays fail clearly, foreign operands are rejected, and {@code attach} does not set off DJL's forwarding loop.
 */
class FulgurEngineTest {

    /** NDArrayAdapter methods that are safe as DJL wrote them: metadata, or built on methods Fulgur implements. */
    private static final Set<String> SAFE_ADAPTER_METHODS = Set.of("getManager()", "tempAttach(NDManager)",
            "getSparseFormat()", "getName()", "setName(String)", "getUid()", "getDataType()", "getShape()",
            "isReleased()", "close()", "equals(Object)", "hashCode()", "toString()", "contentEquals(NDArray)",
            "contentEquals(Number)", "set(Buffer)");

    // -----------------------------------------------------------------------------------------------------------------
    // registration

    @Test
    void registeredThroughServiceLoaderAsDefaultEngine() {
        boolean listed = ServiceLoader.load(EngineProvider.class).stream()
                .anyMatch(p -> p.type() == FulgurEngineProvider.class);
        assertTrue(listed, "META-INF/services/ai.djl.engine.EngineProvider must list FulgurEngineProvider");

        Engine e = Engine.getEngine("Fulgur");
        assertInstanceOf(FulgurEngine.class, e);
        assertSame(e, Engine.getEngine("Fulgur"), "DJL compares engines by identity: one instance");
        assertEquals("Fulgur", e.getEngineName());
        assertEquals(1, e.getRank());
        assertEquals(1, new FulgurEngineProvider().getEngineRank());
        assertEquals("Fulgur", Engine.getDefaultEngineName(), "surefire sets -Dai.djl.default_engine=Fulgur");
        assertSame(e, Engine.getInstance());
        assertNull(e.getAlternativeEngine(), "an alternative engine would compute off the tape");
        assertEquals(0, e.getGpuCount(), "this test machine has no CUDA device");
        assertEquals(Device.cpu(), e.defaultDevice());
        assertFalse(e.hasCapability("CUDA"));
        assertTrue(Engine.getAllEngines().contains("PyTorch"), "the reference engine must be on the test class path");
    }

    @Test
    void newModelAndManagersBelongToFulgur() {
        Engine e = DjlTestSupport.fulgur();
        try (Model model = Model.newInstance("default-engine-model");
                Model named = e.newModel("named", Device.cpu());
                NDManager base = NDManager.newBaseManager();
                NDManager cpu = e.newBaseManager(Device.cpu())) {
            assertInstanceOf(FulgurModel.class, model, "Model.newInstance uses the default engine");
            assertInstanceOf(FulgurModel.class, named);
            assertSame(e, model.getNDManager().getEngine());
            assertInstanceOf(FulgurNDManager.class, base);
            assertSame(e, base.getEngine());
            assertEquals(Device.cpu(), cpu.getDevice());
            assertInstanceOf(FulgurNDArray.class, cpu.zeros(new Shape(2)));
            try (NDManager sub = cpu.newSubManager()) {
                assertSame(e, sub.getEngine());
                assertInstanceOf(FulgurNDArray.class, sub.ones(new Shape(1)));
            }
        }
    }

    // -----------------------------------------------------------------------------------------------------------------
    // creation, against PyTorch

    @Test
    void createFromJavaArraysMatchesPyTorch() {
        try (NDManager fu = DjlTestSupport.fulgurManager(); NDManager pt = DjlTestSupport.torchManager()) {
            List<Function<NDManager, NDArray>> makers = List.of(
                    m -> m.create(new float[] {1.5f, -2, 3, 4, 5, 6}, new Shape(2, 3)),
                    m -> m.create(new double[] {1e-300, -2.25, 3}, new Shape(3)),
                    m -> m.create(new int[] {1, -2, Integer.MAX_VALUE, 4}, new Shape(2, 2)),
                    m -> m.create(new long[] {Long.MIN_VALUE, 0, 1L << 40}),
                    m -> m.create(new boolean[] {true, false, true, true}, new Shape(4, 1)),
                    m -> m.create(7f),
                    m -> m.create(9L),
                    m -> m.create(new float[][] {{1, 2}, {3, 4}, {5, 6}}));
            for (int i = 0; i < makers.size(); i++) {
                NDArray expected = makers.get(i).apply(pt);
                NDArray actual = makers.get(i).apply(fu);
                assertInstanceOf(FulgurNDArray.class, actual);
                assertClose("create #" + i, expected, actual, 0, 0);
            }
        }
    }

    @Test
    void createFromByteBuffersHonoursTheirOrder() {
        float[] v = {1.25f, -3f, 1e-20f, 7e20f, 0f, -0.5f};
        for (ByteOrder order : List.of(ByteOrder.BIG_ENDIAN, ByteOrder.LITTLE_ENDIAN)) {
            try (NDManager fu = DjlTestSupport.fulgurManager()) {
                ByteBuffer bytes = ByteBuffer.allocate(v.length * 4).order(order);
                bytes.asFloatBuffer().put(v);
                NDArray a = fu.create(bytes, new Shape(2, 3), DataType.FLOAT32);
                assertEquals(0, bytes.position(), "create must not consume the caller's buffer");
                assertArrayEquals(v, a.toFloatArray(), "FLOAT32 from a " + order + " buffer");

                ByteBuffer longs = ByteBuffer.allocateDirect(3 * 8).order(order);
                longs.asLongBuffer().put(new long[] {-1, 1L << 33, 5});
                assertArrayEquals(new long[] {-1, 1L << 33, 5}, fu.create(longs, new Shape(3), DataType.INT64)
                        .toLongArray(), "INT64 from a " + order + " buffer");
            }
        }
    }

    @Test
    void fillsRangesAndIdentityMatchPyTorch() {
        try (NDManager fu = DjlTestSupport.fulgurManager(); NDManager pt = DjlTestSupport.torchManager()) {
            List<Function<NDManager, NDArray>> makers = List.of(
                    m -> m.zeros(new Shape(2, 3)),
                    m -> m.zeros(new Shape(4), DataType.INT64),
                    m -> m.ones(new Shape(3, 1)),
                    m -> m.ones(new Shape(2), DataType.INT32),
                    m -> m.full(new Shape(2, 2), 2.5f),
                    m -> m.full(new Shape(3), 7, DataType.INT64),
                    m -> m.arange(5),
                    m -> m.arange(1f, 4f, 0.5f),
                    m -> m.arange(10f, 0f, -3f),
                    m -> m.arange(0, 7, 2, DataType.INT64),
                    m -> m.eye(3),
                    m -> m.eye(3, 4, 0, DataType.FLOAT32),
                    m -> m.linspace(0f, 1f, 5),
                    m -> m.linspace(-3f, 2f, 7));
            for (int i = 0; i < makers.size(); i++) {
                assertClose("creation #" + i, makers.get(i).apply(pt), makers.get(i).apply(fu), 1e-6, 1e-6);
            }
            // PyTorch's engine has no eye with an offset diagonal nor linspace without the endpoint: numpy's values
            assertValues("linspace(-2, 2, 4, false)", new double[] {-2, -1, 0, 1},
                    values(fu.linspace(-2f, 2f, 4, false)), 0, 0);
            assertValues("eye(3, 4, 1)", new double[] {0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1},
                    values(fu.eye(3, 4, 1, DataType.FLOAT32)), 0, 0);
            assertValues("eye(4, 3, -1)", new double[] {0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1},
                    values(fu.eye(4, 3, -1, DataType.FLOAT32)), 0, 0);
        }
    }

    @Test
    void seededRandomArraysRepeatAndLookRandom() {
        Engine e = DjlTestSupport.fulgur();
        try (NDManager fu = DjlTestSupport.fulgurManager()) {
            Shape s = new Shape(100, 100);
            e.setRandomSeed(7);
            float[] n1 = fu.randomNormal(1, 2, s, DataType.FLOAT32).toFloatArray();
            float[] u1 = fu.randomUniform(-1, 3, s, DataType.FLOAT32).toFloatArray();
            e.setRandomSeed(7);
            float[] n2 = fu.randomNormal(1, 2, s, DataType.FLOAT32).toFloatArray();
            float[] u2 = fu.randomUniform(-1, 3, s, DataType.FLOAT32).toFloatArray();
            assertArrayEquals(n1, n2, "randomNormal after the same seed");
            assertArrayEquals(u1, u2, "randomUniform after the same seed");
            float[] n3 = fu.randomNormal(1, 2, s, DataType.FLOAT32).toFloatArray();
            assertFalse(Arrays.equals(n1, n3), "the next draw must differ");
            e.setRandomSeed(8);
            assertFalse(Arrays.equals(n1, fu.randomNormal(1, 2, s, DataType.FLOAT32).toFloatArray()),
                    "another seed must give other values");

            // 10000 samples: the standard errors of mean and std are about 0.02 and 0.014 (times the scale)
            assertEquals(1, mean(n1), 0.1, "normal mean");
            assertEquals(2, std(n1), 0.1, "normal std");
            assertEquals(1, mean(u1), 0.05, "uniform mean (−1 + 3) / 2");
            assertEquals(4 / Math.sqrt(12), std(u1), 0.05, "uniform std (3 − (−1)) / √12");
            for (float x : u1) {
                assertTrue(x >= -1 && x < 3, "uniform value " + x + " outside [−1, 3)");
            }
        }
    }

    @Test
    void randomIntegersStayInBoundsAndPermutationsPermute() {
        try (NDManager fu = DjlTestSupport.fulgurManager()) {
            NDArray r = fu.randomInteger(-3, 4, new Shape(2000), DataType.INT64);
            assertEquals(DataType.INT64, r.getDataType());
            int[] counts = new int[7];
            for (long x : r.toLongArray()) {
                assertTrue(x >= -3 && x < 4, "randomInteger value " + x + " outside [−3, 4)");
                counts[(int) (x + 3)]++;
            }
            for (int i = 0; i < counts.length; i++) {
                assertTrue(counts[i] > 200, "value " + (i - 3) + " drawn " + counts[i] + " times of 2000 (≈ 286)");
            }

            long[] perm = fu.randomPermutation(50).toLongArray();
            long[] sorted = perm.clone();
            Arrays.sort(sorted);
            long[] identity = new long[50];
            Arrays.setAll(identity, i -> i);
            assertArrayEquals(identity, sorted, "randomPermutation must hold each index once");
            assertFalse(Arrays.equals(identity, perm), "a permutation of 50 left in order");
        }
    }

    // -----------------------------------------------------------------------------------------------------------------
    // byte buffers

    @Test
    void toByteBufferIsAFreshNativeOrderBufferAtPositionZero() {
        try (NDManager fu = DjlTestSupport.fulgurManager()) {
            NDArray a = fu.create(new float[] {1, 2, 3});
            ByteBuffer first = a.toByteBuffer();
            assertEquals(ByteOrder.nativeOrder(), first.order());
            assertEquals(0, first.position());
            assertEquals(12, first.remaining());
            first.getFloat();
            first.putFloat(0, 99); // DJL's encode consumes the buffer; nothing may leak back
            ByteBuffer second = a.toByteBuffer();
            assertNotSame(first, second);
            assertEquals(0, second.position());
            assertEquals(1f, second.getFloat(0));
            assertArrayEquals(new float[] {1, 2, 3}, a.toFloatArray());
        }
    }

    @ParameterizedTest
    @EnumSource(value = DataType.class, names = {"FLOAT32", "FLOAT64", "FLOAT16", "BFLOAT16", "INT64", "INT32",
        "INT8", "UINT8", "BOOLEAN"})
    void everySupportedTypeRoundTripsThroughBytes(DataType type) {
        byte[] raw = new byte[6 * type.getNumOfBytes()];
        for (int i = 0; i < raw.length; i++) {
            raw[i] = (byte) (i * 37 + 11);
        }
        if (type == DataType.BOOLEAN) {
            raw = new byte[] {1, 0, 0, 1, 1, 0};
        }
        if (type == DataType.FLOAT16 || type == DataType.BFLOAT16) {
            for (int i = 1; i < raw.length; i += 2) {
                raw[i] &= 0x3F; // finite, no NaN payloads to normalise
            }
        }
        try (NDManager fu = DjlTestSupport.fulgurManager()) {
            ByteBuffer in = ByteBuffer.allocateDirect(raw.length).order(ByteOrder.nativeOrder());
            in.put(raw).rewind();
            NDArray a = fu.create(in, new Shape(2, 3), type);
            assertEquals(type, a.getDataType());
            assertEquals(new Shape(2, 3), a.getShape());
            ByteBuffer out = a.toByteBuffer();
            byte[] back = new byte[out.remaining()];
            out.get(back);
            assertArrayEquals(raw, back, type + " bytes after create(Buffer) and toByteBuffer()");
        }
    }

    // -----------------------------------------------------------------------------------------------------------------
    // nothing forwards to another engine

    @Test
    void noNDArrayMethodFallsBackToTheAdaptersForwarding() throws NoSuchMethodException {
        List<String> forwarded = new ArrayList<>();
        for (Method m : NDArray.class.getMethods()) {
            if (Modifier.isStatic(m.getModifiers())) {
                continue;
            }
            Method resolved = FulgurNDArray.class.getMethod(m.getName(), m.getParameterTypes());
            String sig = m.getName() + "(" + String.join(", ", Arrays.stream(m.getParameterTypes())
                    .map(Class::getSimpleName).toList()) + ")";
            if (resolved.getDeclaringClass() == NDArrayAdapter.class && !SAFE_ADAPTER_METHODS.contains(sig)) {
                forwarded.add(sig);
            }
            assertFalse(Modifier.isAbstract(resolved.getModifiers()), sig + " is abstract in FulgurNDArray");
        }
        forwarded.sort(null);
        assertTrue(forwarded.isEmpty(), "NDArray methods left to NDArrayAdapter (which forwards to an alternative "
                + "engine or throws without naming the method): " + forwarded);
    }

    @Test
    void unsupportedMethodsNameThemselvesAndTheEngine() {
        try (NDManager fu = DjlTestSupport.fulgurManager()) {
            NDArray x = fu.create(new float[] {3, 1, 2, 4}, new Shape(1, 1, 2, 2));
            assertUnsupported("fft", () -> x.fft(1, 1));
            assertUnsupported("sort", x::sort);
            assertUnsupported("cumSum", x::cumSum);
            assertUnsupported("maxPool", () -> x.getNDArrayInternal().maxPool(new Shape(1, 1), new Shape(1, 1),
                    new Shape(0, 0), false));
            assertUnsupported("load", () -> fu.load(Path.of("nothing.npz")));
            assertUnsupported("string", () -> fu.create(new String[] {"a"}));
        }
    }

    private static void assertUnsupported(String method, Executable call) {
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, call, method);
        String msg = String.valueOf(e.getMessage());
        assertTrue(msg.contains(method), "message must name " + method + ": " + msg);
        assertTrue(msg.contains("Fulgur"), "message must name the engine: " + msg);
    }

    @Test
    void closedArraysThrowIllegalState() {
        try (NDManager fu = DjlTestSupport.fulgurManager()) {
            NDArray x = fu.create(new float[] {1, 2});
            NDArray y = fu.create(new float[] {3, 4});
            x.close();
            assertThrows(IllegalStateException.class, () -> x.add(1));
            assertThrows(IllegalStateException.class, () -> y.add(x));
            assertThrows(IllegalStateException.class, x::toByteBuffer);
            assertThrows(IllegalStateException.class, x::getShape);
            assertThrows(IllegalStateException.class, x::sum);
            assertThrows(IllegalStateException.class, () -> x.get(new NDIndex("0")));

            NDArray z;
            try (NDManager sub = fu.newSubManager()) {
                z = sub.ones(new Shape(2));
            }
            assertThrows(IllegalStateException.class, () -> z.mul(2), "closing a manager closes its arrays");
            assertThrows(IllegalStateException.class, () -> z.addi(1));
        }
    }

    @Test
    void operandsOfAnotherEngineAreRejectedNamingIt() {
        try (NDManager fu = DjlTestSupport.fulgurManager(); NDManager pt = DjlTestSupport.torchManager()) {
            NDArray ours = fu.create(new float[] {1, 2});
            NDArray theirs = pt.create(new float[] {3, 4});
            for (Executable call : List.<Executable>of(() -> ours.add(theirs), () -> ours.mul(theirs),
                    () -> ours.addi(theirs), () -> ours.matMul(theirs.reshape(2, 1)),
                    () -> ours.getNDArrayInternal().concat(new NDList(theirs), 0))) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
                assertTrue(e.getMessage().contains("PyTorch"), "message must name the other engine: " + e.getMessage());
            }
            // the way across engines is explicit
            assertInstanceOf(FulgurNDArray.class, fu.from(theirs));
            assertClose("manager.from", theirs, fu.from(theirs), 0, 0);
        }
    }

    @Test
    void attachDoesNotSetOffTheAlternativeEngineLoop() {
        try (NDManager fu = DjlTestSupport.fulgurManager(); NDManager other = DjlTestSupport.fulgurManager()) {
            NDArray x = fu.create(new float[] {1, 2, 3});
            x.attach(other);
            assertSame(other, x.getManager());
            assertArrayEquals(new float[] {2, 3, 4}, x.add(1).toFloatArray());
            assertArrayEquals(new float[] {2, 3}, x.get(new NDIndex("1:")).toFloatArray());
            assertEquals(Device.cpu(), x.getDevice());
            assertValues("toType after attach", new double[] {1, 2, 3}, values(x.toType(DataType.FLOAT64, false)), 0,
                    0);
            NDManager temp = fu.newSubManager();
            x.tempAttach(temp);
            assertArrayEquals(new float[] {0, 1, 2}, x.sub(1).toFloatArray());
            temp.close();
            assertSame(other, x.getManager(), "tempAttach returns the array when the temporary manager closes");
            x.detach();
            assertArrayEquals(new float[] {2, 4, 6}, x.mul(2).toFloatArray());
        }
    }

    @Test
    void resultsLiveInTheFirstOperandsManagerOrTheOneAskedFor() {
        try (NDManager a = DjlTestSupport.fulgurManager(); NDManager b = DjlTestSupport.fulgurManager()) {
            NDArray x = a.create(new float[] {1, 2, 3, 4}, new Shape(2, 2));
            NDArray y = b.create(new float[] {5, 6, 7, 8}, new Shape(2, 2));
            assertSame(a, x.add(y).getManager());
            assertSame(b, y.mul(x).getManager());
            assertSame(a, x.get("0").getManager());
            assertSame(b, x.get(b, new NDIndex("1, :")).getManager(), "get(NDManager, NDIndex) uses that manager");
            assertSame(b, x.take(b, b.create(new long[] {0, 3})).getManager());
            assertSame(a, x.getNDArrayInternal().linear(x, y, null).head().getManager());
            NDArray z = x.add(1);
            a.close();
            assertThrows(IllegalStateException.class, () -> z.add(1), "an op result dies with its manager");
            assertArrayEquals(new float[] {5, 6, 7, 8}, y.toFloatArray(), "the other manager's arrays live on");
        }
    }

    private static double mean(float[] v) {
        double s = 0;
        for (float x : v) {
            s += x;
        }
        return s / v.length;
    }

    private static double std(float[] v) {
        double m = mean(v);
        double s = 0;
        for (float x : v) {
            s += (x - m) * (x - m);
        }
        return Math.sqrt(s / v.length);
    }
}

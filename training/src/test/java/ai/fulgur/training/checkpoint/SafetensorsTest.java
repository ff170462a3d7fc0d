package ai.fulgur.training.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
    @TempDir
    Path dir;

    /** A file laid out by hand from the format's definition reads back as those values. */
    @Test
    void readsAFileBuiltFromTheSpecification() throws IOException {
        String json = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"b\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[8,24]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer file = ByteBuffer.allocate(8 + header.length + 24).order(ByteOrder.LITTLE_ENDIAN);
        file.putLong(header.length).put(header).putFloat(1.5f).putFloat(-2f).putLong(7).putLong(-9);
        Path path = dir.resolve("hand.safetensors");
        Files.write(path, file.array());
        try (NDManager m = NDManager.newBaseManager("Fulgur")) {
            Safetensors.Contents c = Safetensors.read(path, m);
            assertEquals(Map.of("format", "pt"), c.metadata());
            assertArrayEquals(new float[] {1.5f, -2f}, c.tensors().get("a").toFloatArray());
            assertArrayEquals(new long[] {7, -9}, c.tensors().get("b").toLongArray());
        }
    }

    @Test
    void writeThenReadKeepsNamesOrderDtypesShapesAndBits() throws IOException {
        try (NDManager m = NDManager.newBaseManager("Fulgur")) {
            Map<String, NDArray> in = new LinkedHashMap<>();
            in.put("z.weight", m.randomNormal(new Shape(3, 5)));
            in.put("a.bias", m.create(new float[] {1, 2, 3}).toType(DataType.BFLOAT16, false));
            in.put("ids", m.create(new long[] {4, 5}, new Shape(1, 2)));
            in.put("scalar", m.create(3.25f));
            Path path = dir.resolve("model.safetensors");
            Safetensors.write(path, in, Map.of("format", "pt"));
            // the data starts 8-byte aligned
            ByteBuffer head = ByteBuffer.wrap(Files.readAllBytes(path)).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(0, head.getLong(0) % 8);
            Safetensors.Contents out = Safetensors.read(path, m);
            assertEquals(java.util.List.copyOf(in.keySet()), java.util.List.copyOf(out.tensors().keySet()));
            for (String name : in.keySet()) {
                NDArray a = in.get(name);
                NDArray b = out.tensors().get(name);
                assertEquals(a.getDataType(), b.getDataType(), name);
                assertEquals(a.getShape(), b.getShape(), name);
                assertEquals(a.toByteBuffer(), b.toByteBuffer(), name);
            }
            assertEquals("pt", out.metadata().get("format"));
        }
    }

    @Test
    void truncatedAndCorruptFilesAreNamed() throws IOException {
        try (NDManager m = NDManager.newBaseManager("Fulgur")) {
            Path path = dir.resolve("w.safetensors");
            Safetensors.write(path, Map.of("w", m.ones(new Shape(4, 4))), Map.of());
            byte[] whole = Files.readAllBytes(path);
            Path truncated = dir.resolve("truncated.safetensors");
            Files.write(truncated, java.util.Arrays.copyOf(whole, whole.length - 5));
            CheckpointException e = assertThrows(CheckpointException.class, () -> Safetensors.read(truncated, m));
            assertTrue(e.getMessage().contains("truncated.safetensors") && e.getMessage().contains("'w'"),
                    e.getMessage());
            Path text = dir.resolve("text.safetensors");
            Files.writeString(text, "hello, this is not a checkpoint");
            e = assertThrows(CheckpointException.class, () -> Safetensors.read(text, m));
            assertTrue(e.getMessage().contains("header length"), e.getMessage());
            Path tiny = dir.resolve("tiny.safetensors");
            Files.write(tiny, new byte[3]);
            e = assertThrows(CheckpointException.class, () -> Safetensors.read(tiny, m));
            assertTrue(e.getMessage().contains("3 bytes"), e.getMessage());
            assertThrows(NoSuchFileException.class, () -> Safetensors.read(dir.resolve("missing.safetensors"), m));
        }
    }

    @Test
    void aFailedWriteLeavesTheOldFile() throws IOException {
        Path path = dir.resolve("keep.bin");
        AtomicFiles.write(path, new byte[] {1, 2, 3});
        assertThrows(IOException.class, () -> AtomicFiles.write(path, out -> {
            out.write(new byte[] {9, 9});
            throw new IOException("disk full (simulated)");
        }));
        assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(path));
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file left behind");
        }
    }
}

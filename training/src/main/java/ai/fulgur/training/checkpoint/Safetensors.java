package ai.fulgur.training.checkpoint;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors format of Hugging Face: an 8-byte little-endian header length, a JSON header mapping each tensor
 * name to {@code {"dtype", "shape", "data_offsets": [begin, end]}} (plus optional string {@code __metadata__}), then
 * the raw little-endian tensor bytes. Written atomically ({@link AtomicFiles}); read with every offset and size
 * checked, so a truncated or corrupt file fails with a message naming the file and what is wrong.
 */
public final class Safetensors {
    private static final String METADATA = "__metadata__";
    private static final long MAX_HEADER = 100L << 20;

    private Safetensors() {
    }

    /** A file's tensors (in file order) and its metadata. */
    public record Contents(Map<String, NDArray> tensors, Map<String, String> metadata) {
    }

    /**
     * Writes {@code tensors} (contiguous copies of each, in map order) and string metadata to {@code file}
     * atomically.
     */
    public static void write(Path file, Map<String, NDArray> tensors, Map<String, String> metadata)
            throws IOException {
        JsonObject header = new JsonObject();
        if (metadata != null && !metadata.isEmpty()) {
            JsonObject meta = new JsonObject();
            metadata.forEach(meta::addProperty);
            header.add(METADATA, meta);
        }
        List<ByteBuffer> payloads = new ArrayList<>();
        long offset = 0;
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            NDArray a = e.getValue();
            ByteBuffer bytes = a.toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            JsonObject info = new JsonObject();
            info.addProperty("dtype", dtypeName(a.getDataType(), e.getKey()));
            com.google.gson.JsonArray shape = new com.google.gson.JsonArray();
            for (long s : a.getShape().getShape()) {
                shape.add(s);
            }
            info.add("shape", shape);
            com.google.gson.JsonArray offsets = new com.google.gson.JsonArray();
            offsets.add(offset);
            offsets.add(offset + bytes.remaining());
            info.add("data_offsets", offsets);
            header.add(e.getKey(), info);
            offset += bytes.remaining();
            payloads.add(bytes);
        }
        byte[] json = new Gson().toJson(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8; // the data starts 8-byte aligned, as Hugging Face's writer does
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        AtomicFiles.write(file, out -> {
            out.write(head.array());
            byte[] chunk = new byte[1 << 16];
            for (ByteBuffer b : payloads) {
                while (b.hasRemaining()) {
                    int n = Math.min(chunk.length, b.remaining());
                    b.get(chunk, 0, n);
                    out.write(chunk, 0, n);
                }
            }
        });
    }

    /** Reads every tensor of {@code file} into arrays of {@code manager}. */
    public static Contents read(Path file, NDManager manager) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size < 8) {
                throw corrupt(file, "it has " + size + " bytes, fewer than the 8-byte header length");
            }
            ByteBuffer lengthBytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(channel, lengthBytes, 0, file);
            long headerLength = lengthBytes.getLong(0);
            if (headerLength <= 0 || headerLength > MAX_HEADER || 8 + headerLength > size) {
                throw corrupt(file, "header length " + headerLength + " does not fit a file of " + size + " bytes");
            }
            ByteBuffer headerBytes = ByteBuffer.allocate((int) headerLength);
            readFully(channel, headerBytes, 8, file);
            JsonObject header;
            try {
                JsonElement parsed = JsonParser.parseString(new String(headerBytes.array(), StandardCharsets.UTF_8));
                if (!parsed.isJsonObject()) {
                    throw corrupt(file, "its header is not a JSON object");
                }
                header = parsed.getAsJsonObject();
            } catch (JsonParseException e) {
                throw corrupt(file, "its header is not valid JSON (" + e.getMessage() + ")");
            }
            long dataStart = 8 + headerLength;
            long dataSize = size - dataStart;
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            for (Map.Entry<String, JsonElement> e : header.entrySet()) {
                String name = e.getKey();
                if (name.equals(METADATA)) {
                    e.getValue().getAsJsonObject().entrySet().forEach(m -> metadata.put(m.getKey(),
                            m.getValue().getAsString()));
                    continue;
                }
                TensorInfo info = TensorInfo.parse(file, name, e.getValue());
                if (info.end > dataSize) {
                    throw corrupt(file, "tensor '" + name + "' ends at byte " + info.end + " of the data but the "
                            + "file holds " + dataSize + " data bytes (truncated?)");
                }
                ByteBuffer data = ByteBuffer.allocateDirect((int) (info.end - info.begin))
                        .order(ByteOrder.LITTLE_ENDIAN);
                readFully(channel, data, dataStart + info.begin, file);
                data.flip();
                NDArray array = manager.create(data, info.shape, info.dtype);
                array.setName(name);
                tensors.put(name, array);
            }
            return new Contents(tensors, metadata);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file.toString(), null, "no safetensors file there");
        }
    }

    private static void readFully(FileChannel channel, ByteBuffer dst, long position, Path file) throws IOException {
        long at = position;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, at);
            if (n < 0) {
                throw corrupt(file, "it ends at byte " + at + " before the data it declares");
            }
            at += n;
        }
    }

    private record TensorInfo(DataType dtype, Shape shape, long begin, long end) {
        static TensorInfo parse(Path file, String name, JsonElement element) throws IOException {
            try {
                JsonObject o = element.getAsJsonObject();
                DataType dtype = dtypeOf(o.get("dtype").getAsString(), file, name);
                List<Long> dims = new ArrayList<>();
                o.getAsJsonArray("shape").forEach(d -> dims.add(d.getAsLong()));
                Shape shape = new Shape(dims.stream().mapToLong(Long::longValue).toArray());
                long begin = o.getAsJsonArray("data_offsets").get(0).getAsLong();
                long end = o.getAsJsonArray("data_offsets").get(1).getAsLong();
                long expected = shape.size() * dtype.getNumOfBytes();
                if (begin < 0 || end - begin != expected) {
                    throw corrupt(file, "tensor '" + name + "' of dtype " + dtype + " and shape " + shape
                            + " needs " + expected + " bytes but its data_offsets are [" + begin + ", " + end + "]");
                }
                return new TensorInfo(dtype, shape, begin, end);
            } catch (RuntimeException e) {
                throw corrupt(file, "the header entry of tensor '" + name + "' is malformed: " + element);
            }
        }
    }

    private static String dtypeName(DataType t, String name) {
        return switch (t) {
            case FLOAT64 -> "F64";
            case FLOAT32 -> "F32";
            case FLOAT16 -> "F16";
            case BFLOAT16 -> "BF16";
            case INT64 -> "I64";
            case INT32 -> "I32";
            case INT8 -> "I8";
            case UINT8 -> "U8";
            case BOOLEAN -> "BOOL";
            default -> throw new IllegalArgumentException("tensor '" + name + "' has dtype " + t
                    + ", which safetensors cannot hold here; expected F64, F32, F16, BF16, I64, I32, I8, U8 or BOOL");
        };
    }

    private static DataType dtypeOf(String name, Path file, String tensor) throws IOException {
        return switch (name) {
            case "F64" -> DataType.FLOAT64;
            case "F32" -> DataType.FLOAT32;
            case "F16" -> DataType.FLOAT16;
            case "BF16" -> DataType.BFLOAT16;
            case "I64" -> DataType.INT64;
            case "I32" -> DataType.INT32;
            case "I8" -> DataType.INT8;
            case "U8" -> DataType.UINT8;
            case "BOOL" -> DataType.BOOLEAN;
            default -> throw corrupt(file, "tensor '" + tensor + "' has dtype '" + name
                    + "'; expected one of F64, F32, F16, BF16, I64, I32, I8, U8, BOOL");
        };
    }

    private static CheckpointException corrupt(Path file, String what) {
        return new CheckpointException(file + " is not a readable safetensors file: " + what);
    }
}

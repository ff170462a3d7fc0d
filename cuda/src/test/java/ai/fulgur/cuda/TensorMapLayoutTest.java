package ai.fulgur.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/**
 * The arguments {@link TensorMap} hands to {@code cuTensorMapEncodeTiled} (no GPU needed): dimensions innermost first,
 * strides in bytes, the 64-element box, the copy engine's alignment rules with messages that name the value, and that
 * a by-value map is never packed into a parameter buffer (the driver places it at its own offset).
 */
class TensorMapLayoutTest {
    private static final long ADDRESS = 0x7f00_0000_0000L;

    @Test
    void contiguousHeadsBf16() {
        Tensor q = Tensor.zeros(Shape.of(3, 1000, 8, 128), DType.BF16, Device.CPU); // (B, N, H, D)
        TensorMapLayout l = TensorMapLayout.of(q, ADDRESS, 128);
        assertEquals(TensorMapLayout.BFLOAT16, l.dataType());
        assertEquals(ADDRESS, l.address());
        assertArrayEquals(new long[] {128, 1000, 8, 3}, l.dims(), "D, N, H, B");
        assertArrayEquals(new long[] {8 * 128 * 2, 128 * 2, 1000L * 8 * 128 * 2}, l.strides(), "row, head, batch bytes");
        assertArrayEquals(new int[] {64, 128, 1, 1}, l.box());
        assertEquals(64 * 128 * 2, l.boxBytes());
        assertNull(l.problem());
    }

    @Test
    void transposedViewF16() {
        // a (B, H, N, D) tensor seen as (B, N, H, D): rows D apart, heads N·D apart
        Tensor k = Tensor.zeros(Shape.of(2, 4, 300, 64), DType.F16, Device.CPU).transpose(1, 2);
        TensorMapLayout l = TensorMapLayout.of(k, ADDRESS, 128);
        assertEquals(TensorMapLayout.FLOAT16, l.dataType());
        assertArrayEquals(new long[] {64, 300, 4, 2}, l.dims());
        assertArrayEquals(new long[] {64 * 2, 300 * 64 * 2, 4L * 300 * 64 * 2}, l.strides());
        assertNull(l.problem());
    }

    @Test
    void extentOneAxesTakeAnyStride() {
        // one head of a (1, 16, 4, 68) buffer: the head axis (136 bytes) is never stepped, so 16 bytes stand in
        Tensor one = Tensor.zeros(Shape.of(1, 16, 4, 68), DType.BF16, Device.CPU).slice(2, 1, 2).slice(3, 0, 64);
        TensorMapLayout l = TensorMapLayout.of(one, ADDRESS, 64);
        assertArrayEquals(new long[] {4 * 68 * 2, 16, 16L * 4 * 68 * 2}, l.strides());
        assertNull(l.problem(), String.valueOf(l.problem()));
    }

    @Test
    void rulesNameTheValue() {
        Tensor q = Tensor.zeros(Shape.of(1, 16, 2, 64), DType.BF16, Device.CPU);
        String address = TensorMapLayout.of(q, ADDRESS + 8, 64).problem();
        assertTrue(address.contains("16-byte aligned") && address.contains("7f0000000008"), address);

        // heads 68 elements apart: 136 bytes, not a multiple of 16
        Tensor narrow = Tensor.zeros(Shape.of(1, 16, 2, 68), DType.BF16, Device.CPU).slice(3, 0, 64);
        String stride = TensorMapLayout.of(narrow, ADDRESS, 64).problem();
        assertTrue(stride.contains("head stride") && stride.contains("136 bytes"), stride);

        Tensor d96 = Tensor.zeros(Shape.of(1, 16, 2, 96), DType.BF16, Device.CPU);
        String dim = TensorMapLayout.of(d96, ADDRESS, 64).problem();
        assertTrue(dim.contains("multiple of 64") && dim.contains("96"), dim);

        String box = TensorMapLayout.of(q, ADDRESS, 512).problem();
        assertTrue(box.contains("1 … 256") && box.contains("512"), box);

        IllegalArgumentException f32 = assertThrows(IllegalArgumentException.class,
                () -> TensorMapLayout.of(Tensor.zeros(Shape.of(1, 4, 2, 64), DType.F32, Device.CPU), ADDRESS, 64));
        assertTrue(f32.getMessage().contains("F32"), f32.getMessage());
        IllegalArgumentException rank = assertThrows(IllegalArgumentException.class,
                () -> TensorMapLayout.of(Tensor.zeros(Shape.of(4, 64), DType.BF16, Device.CPU), ADDRESS, 64));
        assertTrue(rank.getMessage().contains("(B, N, H, D)"), rank.getMessage());
        IllegalArgumentException encode = assertThrows(IllegalArgumentException.class,
                () -> TensorMap.encode(TensorMapLayout.of(q, ADDRESS + 8, 64)));
        assertTrue(encode.getMessage().contains("16-byte aligned"), encode.getMessage());
    }

    /**
     * A launch with a map takes one pointer per argument (the driver places the map: offset 496 after the 472-byte
     * FlashParams, where the C layout says 512), and the packed-buffer writer refuses a map, naming the kernel.
     */
    @Test
    void mapsAreNeverPackedIntoAParameterBuffer() {
        TensorMap map = TensorMap.fromWords(new long[16]);
        long[] params = new long[59]; // FlashParams: 472 bytes
        assertTrue(CudaDevice.hasTensorMap(new Object[] {params, map, map, map}));
        assertFalse(CudaDevice.hasTensorMap(new Object[] {params, 3, 4L}));
        ByteBuffer buf = ByteBuffer.allocateDirect(4096).order(ByteOrder.nativeOrder());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CudaDevice.pack(buf, "flash_fwd_hopper_tma_bf16_d128", new Object[] {params, map}));
        assertTrue(e.getMessage().contains("flash_fwd_hopper_tma_bf16_d128") && e.getMessage().contains("position 1"),
                e.getMessage());
        assertArrayEquals(new long[16], map.words());
        assertThrows(IllegalArgumentException.class, () -> TensorMap.fromWords(1, 2, 3));
    }
}

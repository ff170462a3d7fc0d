package ai.fulgur.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Which views are row-pitched, the (R, N) rows view of each, and pitched allocation. */
class RowPitchedTest {

    @Test
    void contiguousTensorsAreRowsOfTheirOwnLength() {
        Tensor t = Tensor.zeros(Shape.of(2, 3, 5), DType.F32, Device.CPU);
        Tensor rows = RowPitched.rowsView(t);
        assertEquals(Shape.of(6, 5), rows.shape());
        assertArrayEquals(new long[] {5, 1}, rows.strides());
        assertSame(t.storage(), rows.storage());
        assertEquals(5, RowPitched.pitch(rows));
        Tensor vector = Tensor.zeros(Shape.of(7), DType.F32, Device.CPU);
        assertEquals(Shape.of(1, 7), RowPitched.rowsView(vector).shape());
    }

    @Test
    void pitchedAllocationKeepsItsPitchThroughTheRowsView() {
        Tensor t = RowPitched.empty(Shape.of(2, 3, 5), DType.BF16, Device.CPU, 8);
        assertEquals(Shape.of(2, 3, 5), t.shape());
        assertArrayEquals(new long[] {24, 8, 1}, t.strides());
        Tensor rows = RowPitched.rowsView(t);
        assertEquals(Shape.of(6, 5), rows.shape());
        assertArrayEquals(new long[] {8, 1}, rows.strides());
        assertEquals(8, RowPitched.pitch(rows));
        Tensor back = RowPitched.withShape(rows, Shape.of(3, 2, 5));
        assertArrayEquals(new long[] {16, 8, 1}, back.strides());
        assertEquals(t.offset(), back.offset());
        // the pitch equal to the row length is a plain contiguous tensor
        assertEquals(true, RowPitched.empty(Shape.of(4, 5), DType.F32, Device.CPU, 5).isContiguous());
    }

    @Test
    void columnSlicesAreRowPitched() {
        Tensor base = Tensor.zeros(Shape.of(4, 10), DType.F32, Device.CPU);
        Tensor slice = base.slice(1, 2, 9); // (4, 7) at offset 2, rows 10 apart
        Tensor rows = RowPitched.rowsView(slice);
        assertNotNull(rows);
        assertArrayEquals(new long[] {10, 1}, rows.strides());
        assertEquals(2, rows.offset());
        // a leading size-1 axis has any stride
        Tensor lead = new Tensor(base.storage(), Shape.of(1, 4, 7), new long[] {0, 10, 1}, 0);
        assertArrayEquals(new long[] {10, 1}, RowPitched.rowsView(lead).strides());
    }

    @Test
    void otherLayoutsAreNotRows() {
        Tensor t = Tensor.zeros(Shape.of(4, 3, 6), DType.F32, Device.CPU);
        assertNull(RowPitched.rowsView(t.transpose(1, 2)), "transposed");
        assertNull(RowPitched.rowsView(t.slice(1, 0, 2)), "rows that do not flatten to one pitch");
        assertNull(RowPitched.rowsView(t.slice(2, 0, 6, 2)), "a last stride of 2");
        Tensor row = Tensor.zeros(Shape.of(1, 6), DType.F32, Device.CPU);
        assertNull(RowPitched.rowsView(row.expand(Shape.of(3, 6))), "a broadcast (row stride 0)");
        assertNull(RowPitched.rowsView(Tensor.scalar(1, DType.F32, Device.CPU)), "rank 0");
        // rows() falls back to a contiguous copy for those
        Tensor copied = RowPitched.rows(t.transpose(1, 2));
        assertEquals(Shape.of(24, 3), copied.shape());
        assertEquals(true, copied.isContiguous());
    }

    @Test
    void badPitchesAreRejectedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> RowPitched.empty(Shape.of(2, 5), DType.F32, Device.CPU, 4));
        assertEquals("row pitch must be at least the row length 5 (and 1), got 4 for shape " + Shape.of(2, 5),
                e.getMessage());
    }
}

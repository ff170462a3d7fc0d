package ai.fulgur.training.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.norm.Dropout;
import ai.fulgur.ops.attention.AttentionSpec;
import ai.fulgur.ops.attention.BlockSparseLayout;

/**
 * Attention composed from standard NDArray ops, the path {@link FlashMultiHeadAttention} takes on engines other than
 * Fulgur (and on Fulgur for FLOAT64, which the kernels do not take). It computes the same function as the
 * FlashAttention kernels, masks included, but materialises the (B, Hq, Nq, Nk) scores:
 *
 * <pre>
 *   S = q·kᵀ · scale + bias           bias = 0 where key j is visible from query i, a large negative number elsewhere
 *   P = softmax(S, keys) · rowVisible  rowVisible = 0 for a query that sees no key (its output is zero, as the kernels')
 *   o = dropout(P) · v
 * </pre>
 *
 * Visibility is {@link AttentionSpec#visible} (causal bottom-right aligned, sliding window), key padding (key j of
 * sequence b is visible only below {@code keyLengths[b]}) and, if the spec has one, the block-sparse layout expanded
 * to single positions. The masks are computed on the host once per call and enter as constants.
 *
 * <p>Grouped-query attention repeats each key/value head for its group of consecutive query heads (query head h reads
 * key/value head h / (Hq / Hkv)) by a broadcast and a reshape, which every engine implements and differentiates
 * (Fulgur has no {@code repeat}).
 */
public final class ComposedAttention {
    /** Added to the scores of masked keys in FLOAT32/FLOAT64: exp underflows to exactly 0 after the max shift. */
    private static final float MASKED = -1e9f;
    /** The same for FLOAT16/BFLOAT16, where −1e9 would overflow to −∞ (and −∞ − −∞ is NaN in a masked row). */
    private static final float MASKED_HALF = -1e4f;

    private ComposedAttention() {}

    /**
     * Attention of q (B, Nq, Hq, D) over k, v (B, Nk, Hkv, D), the layout of the Fulgur kernels; returns
     * (B, Nq, Hq, D).
     *
     * @param keyLengths valid keys per sequence (B) of a right-padded batch, or null for none
     * @param spec       scale, causal, window, layout and dropout probability (applied when positive); its seed,
     *                   offset, keyLengths and packing are not used (dropout draws from the engine)
     */
    public static NDArray attention(NDArray q, NDArray k, NDArray v, long[] keyLengths, AttentionSpec spec) {
        Shape qs = q.getShape();
        long batch = qs.get(0);
        long nq = qs.get(1);
        int hq = Math.toIntExact(qs.get(2));
        long nk = k.getShape().get(1);
        int hkv = Math.toIntExact(k.getShape().get(2));

        NDArray qt = q.transpose(0, 2, 1, 3);                       // (B, Hq, Nq, D)
        NDArray kt = repeatHeads(k.transpose(0, 2, 1, 3), hq / hkv); // (B, Hq, Nk, D)
        NDArray vt = repeatHeads(v.transpose(0, 2, 1, 3), hq / hkv); // (B, Hq, Nk, D)
        NDArray scores = qt.matMul(kt.transpose(0, 1, 3, 2)).mul(spec.softmaxScale()); // (B, Hq, Nq, Nk)

        Masks masks = Masks.of(q.getManager(), q.getDataType(), spec, keyLengths, batch, hq, nq, nk);
        if (masks.staticBias() != null) {
            scores = scores.add(masks.staticBias().toDevice(q.getDevice(), false));
        }
        if (masks.paddingBias() != null) {
            scores = scores.add(masks.paddingBias().toDevice(q.getDevice(), false));
        }
        NDArray p = scores.softmax(-1);
        if (masks.rowVisible() != null) {
            p = p.mul(masks.rowVisible().toDevice(q.getDevice(), false));
        }
        if (spec.dropoutP() > 0) {
            p = Dropout.dropout(p, (float) spec.dropoutP(), true).head();
        }
        return p.matMul(vt).transpose(0, 2, 1, 3); // (B, Hq, Nq, D) → (B, Nq, Hq, D)
    }

    /** x (B, Hkv, N, D) → (B, Hkv·group, N, D), each head repeated for {@code group} consecutive query heads. */
    static NDArray repeatHeads(NDArray x, int group) {
        if (group == 1) {
            return x;
        }
        Shape s = x.getShape();
        long b = s.get(0);
        long h = s.get(1);
        long n = s.get(2);
        long d = s.get(3);
        return x.expandDims(2).broadcast(new Shape(b, h, group, n, d)).reshape(b, h * group, n, d);
    }

    /**
     * The additive masks and the row factor of one call, null where nothing is masked.
     *
     * @param staticBias  (1, Hl, Nq, Nk) causal, window and layout bias; Hl is the layout's head count (1 if shared)
     * @param paddingBias (B, 1, 1, Nk) key padding bias
     * @param rowVisible  (B or 1, Hl, Nq, 1) 1 where the query sees at least one key, 0 where it sees none
     */
    record Masks(NDArray staticBias, NDArray paddingBias, NDArray rowVisible) {

        static Masks of(NDManager m, DataType type, AttentionSpec spec, long[] keyLengths, long batch, int hq,
                long nq, long nk) {
            float masked = type == DataType.FLOAT16 || type == DataType.BFLOAT16 ? MASKED_HALF : MASKED;
            BlockSparseLayout layout = spec.layout();
            int hl = layout == null || layout.heads() == 1 ? 1 : hq;
            int nqi = Math.toIntExact(nq);
            int nki = Math.toIntExact(nk);
            float[] bias = new float[Math.multiplyExact(hl, Math.multiplyExact(nqi, nki))];
            // the first visible key per (head, query): with padding, a query sees some key iff that one is valid
            long[] firstVisible = new long[hl * nqi];
            boolean anyStatic = false;
            for (int h = 0; h < hl; h++) {
                for (int i = 0; i < nqi; i++) {
                    long first = nk;
                    for (int j = 0; j < nki; j++) {
                        boolean visible = spec.visible(i, j, nq, nk) && (layout == null
                                || layout.isSet(h, i / layout.blockSize(), j / layout.blockSize()));
                        if (visible) {
                            first = Math.min(first, j);
                        } else {
                            bias[(h * nqi + i) * nki + j] = masked;
                            anyStatic = true;
                        }
                    }
                    firstVisible[h * nqi + i] = first;
                }
            }
            boolean anyPadding = false;
            if (keyLengths != null) {
                for (long len : keyLengths) {
                    anyPadding |= len < nk;
                }
            }
            int rows = anyPadding ? Math.toIntExact(batch) : 1;
            float[] rowVisible = new float[rows * hl * nqi];
            boolean anyEmptyRow = false;
            for (int b = 0; b < rows; b++) {
                long valid = anyPadding ? keyLengths[b] : nk;
                for (int r = 0; r < hl * nqi; r++) {
                    boolean sees = firstVisible[r] < valid;
                    rowVisible[b * hl * nqi + r] = sees ? 1 : 0;
                    anyEmptyRow |= !sees;
                }
            }
            NDArray staticBias = anyStatic ? cast(m.create(bias, new Shape(1, hl, nq, nk)), type) : null;
            NDArray paddingBias = null;
            if (anyPadding) {
                float[] pad = new float[Math.toIntExact(batch * nk)];
                for (int b = 0; b < batch; b++) {
                    for (long j = keyLengths[b]; j < nk; j++) {
                        pad[(int) (b * nk + j)] = masked;
                    }
                }
                paddingBias = cast(m.create(pad, new Shape(batch, 1, 1, nk)), type);
            }
            NDArray rowFactor = anyEmptyRow ? cast(m.create(rowVisible, new Shape(rows, hl, nq, 1)), type) : null;
            return new Masks(staticBias, paddingBias, rowFactor);
        }

        private static NDArray cast(NDArray a, DataType type) {
            return a.getDataType() == type ? a : a.toType(type, false);
        }
    }
}

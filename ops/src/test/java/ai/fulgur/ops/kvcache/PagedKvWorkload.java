package ai.fulgur.ops.kvcache;

import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.testing.TestTensors;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;

/**
 * One random paged-attention call for tests: caches full of random values, block tables drawn from a shuffled pool
 * (non-contiguous, in no order), optionally with neighbouring sequences sharing their first blocks (a common
 * prompt prefix), query rows per sequence (1 = decode, more = a chunk of prefill), and the float64 formula the
 * kernels must match. Index arrays stay on the host; {@link #query}, the caches and the index tensors are host
 * tensors that tests move where they need them.
 *
 * @param tables     blockTables as a flat (S, tableWidth) array; unused entries are -1
 * @param starts     queryStarts (S + 1)
 * @param lens       contextLens (S)
 */
public record PagedKvWorkload(Tensor query, Tensor keyCache, Tensor valueCache, int[] tables, int tableWidth,
        int[] starts, int[] lens, PagedAttentionSpec spec) {

    /**
     * A workload of {@code contextLens.length} sequences; sequence s has contextLens[s] cached tokens of which the
     * last queryLens[s] are its query rows. Two spare columns in the block table and a few spare blocks in the pool
     * make sure kernels read only what the lengths cover.
     */
    public static PagedKvWorkload random(DType dtype, int blockSize, int hq, int hkv, int d, int[] contextLens,
            int[] queryLens, boolean shareBlocks, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int seqs = contextLens.length;
        int width = 2;
        int needed = 0;
        for (int len : contextLens) {
            int blocks = (len + blockSize - 1) / blockSize;
            width = Math.max(width, blocks + 2);
            needed += blocks;
        }
        int numBlocks = needed + 5;
        List<Integer> pool = new ArrayList<>();
        for (int b = 0; b < numBlocks; b++) {
            pool.add(b);
        }
        Collections.shuffle(pool, new java.util.Random(seed));
        int[] tables = new int[seqs * width];
        java.util.Arrays.fill(tables, -1);
        int next = 0;
        for (int s = 0; s < seqs; s++) {
            int blocks = (contextLens[s] + blockSize - 1) / blockSize;
            for (int j = 0; j < blocks; j++) {
                boolean share = shareBlocks && s > 0 && j < blocks - 1
                        && (long) (j + 1) * blockSize <= contextLens[s - 1] && j < 2;
                tables[s * width + j] = share ? tables[(s - 1) * width + j] : pool.get(next++);
            }
        }
        int[] starts = new int[seqs + 1];
        int maxQuery = 1;
        int maxContext = 1;
        for (int s = 0; s < seqs; s++) {
            starts[s + 1] = starts[s] + queryLens[s];
            maxQuery = Math.max(maxQuery, queryLens[s]);
            maxContext = Math.max(maxContext, contextLens[s]);
        }
        Tensor query = TestTensors.uniform(rnd, dtype, -1, 1, starts[seqs], hq, d);
        Tensor keyCache = TestTensors.uniform(rnd, dtype, -1, 1, numBlocks, blockSize, hkv, d);
        Tensor valueCache = TestTensors.uniform(rnd, dtype, -1, 1, numBlocks, blockSize, hkv, d);
        // a scale above 1/√D makes the softmax peaked, so a wrong key shows
        PagedAttentionSpec spec = new PagedAttentionSpec(3.0 / Math.sqrt(d), maxQuery, maxContext);
        return new PagedKvWorkload(query, keyCache, valueCache, tables, width, starts, contextLens.clone(), spec);
    }

    public int sequences() {
        return lens.length;
    }

    public Tensor blockTables() {
        // unused entries point at block 0 on the tensor side: valid, never read
        int[] t = tables.clone();
        for (int i = 0; i < t.length; i++) {
            t[i] = Math.max(t[i], 0);
        }
        return Tensor.of(t, sequences(), tableWidth);
    }

    public Tensor queryStarts() {
        return Tensor.of(starts.clone(), sequences() + 1);
    }

    public Tensor contextLens() {
        return Tensor.of(lens.clone(), sequences());
    }

    /** Runs the facade on {@code device} (operands moved there, index tensors passed from the host). */
    public Tensor run(Device device) {
        return PagedKv.pagedAttention(query.to(device), keyCache.to(device), valueCache.to(device), blockTables(),
                queryStarts(), contextLens(), spec);
    }

    /**
     * The float64 formula: gather each sequence's keys and values into dense (ctx, Hkv, D) arrays through its block
     * table, then softmax(q·kᵀ·scale) v over the positions each query row may see (causal, rows at the end).
     */
    public double[] reference() {
        double[] q = query.toDoubleArray();
        double[] kc = keyCache.toDoubleArray();
        double[] vc = valueCache.toDoubleArray();
        int hq = (int) query.shape().dim(1);
        int d = (int) query.shape().dim(2);
        int blockSize = (int) keyCache.shape().dim(1);
        int hkv = (int) keyCache.shape().dim(2);
        double[] out = new double[q.length];
        for (int s = 0; s < sequences(); s++) {
            int ctx = lens[s];
            double[][][] k = new double[ctx][hkv][d];
            double[][][] v = new double[ctx][hkv][d];
            for (int j = 0; j < ctx; j++) {
                int block = tables[s * tableWidth + j / blockSize];
                for (int g = 0; g < hkv; g++) {
                    for (int c = 0; c < d; c++) {
                        int at = ((block * blockSize + j % blockSize) * hkv + g) * d + c;
                        k[j][g][c] = kc[at];
                        v[j][g][c] = vc[at];
                    }
                }
            }
            int nq = starts[s + 1] - starts[s];
            for (int i = 0; i < nq; i++) {
                int t = starts[s] + i;
                int position = ctx - nq + i;
                for (int h = 0; h < hq; h++) {
                    int g = h / (hq / hkv);
                    double[] w = new double[ctx];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < ctx; j++) {
                        if (j > position) {
                            w[j] = Double.NEGATIVE_INFINITY;
                            continue;
                        }
                        double dot = 0;
                        for (int c = 0; c < d; c++) {
                            dot += q[(t * hq + h) * d + c] * k[j][g][c];
                        }
                        w[j] = dot * spec.scale();
                        max = Math.max(max, w[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < ctx; j++) {
                        w[j] = Math.exp(w[j] - max);
                        sum += w[j];
                    }
                    for (int c = 0; c < d; c++) {
                        double o = 0;
                        for (int j = 0; j < ctx; j++) {
                            o += w[j] / sum * v[j][g][c];
                        }
                        out[(t * hq + h) * d + c] = o;
                    }
                }
            }
        }
        return out;
    }

    /** Shape of the output, (T, Hq, D). */
    public Shape outShape() {
        return query.shape();
    }

    /** Tolerance per element for results stored in {@code dtype}: one rounding of a value of magnitude |ref|. */
    public static double tolerance(DType dtype, double ref) {
        double eps = switch (dtype) {
            case F64 -> 1e-10;
            case F32 -> 1e-5;
            case BF16 -> 1.0 / 128;
            case F16 -> 1.0 / 1024;
            default -> throw new IllegalArgumentException("not a floating dtype: " + dtype);
        };
        return eps * (1e-3 + Math.abs(ref));
    }
}

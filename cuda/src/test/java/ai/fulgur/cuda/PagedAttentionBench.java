package ai.fulgur.cuda;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.DType;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Shape;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.kvcache.PagedAttentionSpec;
import ai.fulgur.ops.kvcache.PagedKv;
import ai.fulgur.ops.random.Rng;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Decode paged attention on the GPU, BF16, block size 16: achieved memory bandwidth (bytes of K and V read plus q
 * read and out written, over the time) as a fraction of a device-to-device copy of the same byte count measured in
 * the same run (the copy's bandwidth counts its bytes read plus written, as {@link CudaOpsBench}). Two head shapes,
 * GPT-2 124M's (12 heads of 64) and a larger model's (32 heads of 128); contexts 1k to 32k with batches that keep
 * about the same cache bytes in play (enough to fill the GPU), plus batch 1 at 32k, which only split-K keeps busy.
 * Every sequence has the full context; block tables are a random permutation of the pool (no two neighbouring
 * logical blocks adjacent in memory, in general). Median of event-timed repetitions after warm-up. Run from the
 * bundle like {@link GemmBench}: {@code ... ai.fulgur.cuda.PagedAttentionBench}; prints one JSON object per line.
 */
public final class PagedAttentionBench {
    private static final int BLOCK = 16;

    private PagedAttentionBench() {}

    /** One head shape and the cached tokens (batch × context) it keeps in play. */
    private record Model(String name, int heads, int headDim, long tokens) {}

    public static void main(String[] args) {
        Device gpu = Device.cuda(0);
        CudaDevice device = CudaBackend.device(gpu);
        List<Model> models = List.of(new Model("gpt2-124m", 12, 64, 256L * 1024),
                new Model("32x128", 32, 128, 64L * 1024));
        int[] contexts = {1024, 2048, 4096, 8192, 16384, 32768};
        for (Model m : models) {
            for (int ctx : contexts) {
                run(device, gpu, m, ctx, (int) Math.max(1, m.tokens() / ctx));
            }
            run(device, gpu, m, 32768, 1);
        }
    }

    private static void run(CudaDevice device, Device gpu, Model m, int ctx, int batch) {
        int h = m.heads();
        int d = m.headDim();
        int blocksPerSeq = Math.ceilDiv(ctx, BLOCK);
        int numBlocks = batch * blocksPerSeq;
        List<Integer> pool = new ArrayList<>();
        for (int b = 0; b < numBlocks; b++) {
            pool.add(b);
        }
        Collections.shuffle(pool, new java.util.Random(ctx * 31L + batch));
        int[] tables = new int[numBlocks];
        for (int i = 0; i < numBlocks; i++) {
            tables[i] = pool.get(i);
        }
        int[] starts = new int[batch + 1];
        int[] lens = new int[batch];
        for (int s = 0; s < batch; s++) {
            starts[s + 1] = s + 1;
            lens[s] = ctx;
        }
        Shape cacheShape = Shape.of(numBlocks, BLOCK, h, d);
        Tensor keyCache = Rng.uniform(cacheShape, DType.F32, gpu, 1, 0, -1, 1).cast(DType.BF16);
        Tensor valueCache = Rng.uniform(cacheShape, DType.F32, gpu, 2, 0, -1, 1).cast(DType.BF16);
        Tensor query = Rng.uniform(Shape.of(batch, h, d), DType.F32, gpu, 3, 0, -1, 1).cast(DType.BF16);
        Tensor out = Tensor.empty(query.shape(), DType.BF16, gpu);
        Tensor blockTables = Tensor.of(tables, batch, blocksPerSeq).to(gpu);
        Tensor queryStarts = Tensor.of(starts, batch + 1).to(gpu);
        Tensor contextLens = Tensor.of(lens, batch).to(gpu);
        PagedAttentionSpec spec = new PagedAttentionSpec(1 / Math.sqrt(d), 1, ctx);
        double ms = device.medianMillis(() -> PagedKv.pagedAttention(out, query, keyCache, valueCache, blockTables,
                queryStarts, contextLens, spec), 5, 20);
        long bytes = 2L * batch * ctx * h * d * 2 + 2L * batch * h * d * 2;
        // the baseline: a device-to-device copy of the same number of bytes, bandwidth = bytes read + written
        long copyElements = bytes / 2;
        Tensor copySrc = Rng.uniform(Shape.of(copyElements), DType.F32, gpu, 4, 0, -1, 1).cast(DType.BF16);
        Tensor copyDst = Tensor.empty(Shape.of(copyElements), DType.BF16, gpu);
        double copyMs = device.medianMillis(() -> Backends.of(gpu).elementwise().copy(copyDst, copySrc), 5, 20);
        double gbs = bytes / (ms * 1e-3) / 1e9;
        double copyGbs = 2.0 * copyElements * 2 / (copyMs * 1e-3) / 1e9;
        System.out.printf("{\"name\": \"paged_attention_decode\", \"parameters\": {\"model\": \"%s\", \"heads\": %d, "
                + "\"kv_heads\": %d, \"d\": %d, \"block\": %d, \"context\": %d, \"batch\": %d, \"partitions\": %d, "
                + "\"dtype\": \"bf16\"}, \"value\": %.1f, \"unit\": \"GB/s\", \"ms\": %.4f, \"bytes\": %d, "
                + "\"baseline_name\": \"device-to-device copy\", \"baseline_value\": %.1f, \"baseline_ms\": %.4f, "
                + "\"ratio\": %.3f, \"card\": \"%s\", \"date\": \"%s\"}%n", m.name(), h, h, d, BLOCK, ctx, batch,
                Math.ceilDiv(ctx, CudaPagedKv.PARTITION), gbs, ms, bytes, copyGbs, copyMs, gbs / copyGbs,
                device.name(), LocalDate.now());
        for (Tensor t : new Tensor[] {keyCache, valueCache, query, out, blockTables, queryStarts, contextLens,
            copySrc, copyDst}) {
            t.storage().close();
        }
    }
}

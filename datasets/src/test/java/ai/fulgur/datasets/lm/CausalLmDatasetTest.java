package ai.fulgur.datasets.lm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.Record;
import ai.fulgur.datasets.shard.ShardPreparer;
import ai.fulgur.datasets.shard.TokenShardWriter;
import ai.fulgur.datasets.shard.TokenShards;
import ai.fulgur.datasets.tokenizer.Gpt2Tokenizer;
import ai.fulgur.datasets.tokenizer.TinyShakespeare;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Windows checked against the corpus slice they claim. With the corpus 0, 1, ..., N-1 every token names its own
 * position, so a window's first token tells where it starts and consecutiveness proves it is one slice.
 */
class CausalLmDatasetTest {

    @TempDir
    Path dir;

    private static int[] positions(int n) {
        int[] tokens = new int[n];
        Arrays.setAll(tokens, i -> i);
        return tokens;
    }

    @Test
    void randomWindowsAreSlicesWithLabelsShiftedByOne() throws Exception {
        int n = 1000;
        int blockSize = 16;
        CausalLmDataset dataset = CausalLmDataset.builder().setTokens(positions(n)).setBlockSize(blockSize)
                .optSamplesPerEpoch(200).optSeed(7).setSampling(8, true).build();
        assertEquals(200, dataset.size());
        try (NDManager manager = TorchManagers.cpu()) {
            for (long i = 0; i < dataset.size(); i++) {
                Record record = dataset.get(manager, i);
                NDArray data = record.getData().singletonOrThrow();
                NDArray label = record.getLabels().singletonOrThrow();
                assertEquals(new Shape(blockSize), data.getShape());
                assertEquals(DataType.INT32, data.getDataType());
                assertEquals(DataType.INT32, label.getDataType());
                assertEquals("input_ids", data.getName());
                assertEquals("labels", label.getName());
                int[] x = data.toIntArray();
                int[] y = label.toIntArray();
                long start = dataset.windowStart(i);
                assertTrue(start >= 0 && start <= n - blockSize - 1, "start " + start);
                for (int t = 0; t < blockSize; t++) {
                    assertEquals(start + t, x[t], "sample " + i + " input " + t);
                    assertEquals(start + t + 1, y[t], "sample " + i + " label " + t);
                }
            }
        }
    }

    @Test
    void windowsOverShardsEqualTheConcatenatedCorpus() throws IOException {
        // three shards of 7, 0 and 50 tokens: windows cross the boundaries
        int[] corpus = new int[57];
        for (int i = 0; i < corpus.length; i++) {
            corpus[i] = (i * 7919) % 1000;
        }
        write("a_0.tok", Arrays.copyOfRange(corpus, 0, 7));
        write("a_1.tok", new int[0]);
        write("a_2.tok", Arrays.copyOfRange(corpus, 7, 57));
        try (TokenShards shards = TokenShards.openDirectory(dir)) {
            CausalLmDataset dataset = CausalLmDataset.builder().setTokens(shards).setBlockSize(10)
                    .optSamplesPerEpoch(100).setSampling(1, false).build();
            for (long i = 0; i < dataset.size(); i++) {
                int start = (int) dataset.windowStart(i);
                assertArrayEquals(Arrays.copyOfRange(corpus, start, start + 11), dataset.window(i), "sample " + i);
            }
        }
    }

    @Test
    void tinyShakespeareWindowsAreSlicesOfGpt2sEncoding() throws IOException {
        Path text = TinyShakespeare.find();
        Assumptions.assumeTrue(text != null, "tinyshakespeare.txt not found; " + TinyShakespeare.HINT);
        // the first 200,000 characters keep the test quick; ShardPreparerTest covers the whole file
        String head = Files.readString(text).substring(0, 200_000);
        Path headFile = Files.writeString(dir.resolve("head.txt"), head);
        Gpt2Tokenizer gpt2 = Gpt2Tokenizer.gpt2();
        int[] expected = gpt2.encode(head);
        Path shards = dir.resolve("shakespeare");
        ShardPreparer.builder(gpt2).optMaxTokensPerShard(10_000).build().prepare(headFile, shards);
        try (TokenShards train = TokenShards.openSplit(shards, "train");
                TokenShards val = TokenShards.openSplit(shards, "val")) {
            CausalLmDataset training = CausalLmDataset.builder().setTokens(train).setBlockSize(64)
                    .optSamplesPerEpoch(500).setSampling(8, true).build();
            for (long i = 0; i < training.size(); i++) {
                int start = (int) training.windowStart(i);
                assertArrayEquals(Arrays.copyOfRange(expected, start, start + 65), training.window(i), "sample " + i);
            }
            CausalLmDataset validation = CausalLmDataset.builder().setTokens(val).setBlockSize(64)
                    .optWindows(CausalLmDataset.Windows.SEQUENTIAL).setSampling(8, false).build();
            int offset = (int) train.size(); // validation is the corpus's tail
            assertEquals((val.size() - 1) / 64, validation.size());
            for (long i = 0; i < validation.size(); i += 17) {
                int start = offset + (int) i * 64;
                assertArrayEquals(Arrays.copyOfRange(expected, start, start + 65), validation.window(i), "val " + i);
            }
        }
    }

    private void write(String name, int[] tokens) throws IOException {
        try (TokenShardWriter out = new TokenShardWriter(dir.resolve(name), 1000)) {
            out.write(tokens);
        }
    }

    @Test
    void sampleDependsOnlyOnSeedEpochAndIndex() {
        CausalLmDataset a = random(7);
        CausalLmDataset b = random(7);
        long[] forward = new long[100];
        for (int i = 0; i < 100; i++) {
            forward[i] = a.windowStart(i);
        }
        for (int i = 99; i >= 0; i--) { // another instance, read backwards: same windows
            assertEquals(forward[i], b.windowStart(i));
        }
        long[] otherSeed = new long[100];
        Arrays.setAll(otherSeed, i -> random(8).windowStart(i));
        assertNotEquals(Arrays.toString(forward), Arrays.toString(otherSeed));

        a.setEpoch(1);
        long[] epoch1 = new long[100];
        Arrays.setAll(epoch1, i -> a.windowStart(i));
        assertNotEquals(Arrays.toString(forward), Arrays.toString(epoch1));
        a.setEpoch(0);
        assertEquals(forward[42], a.windowStart(42));
    }

    private static CausalLmDataset random(long seed) {
        return CausalLmDataset.builder().setTokens(positions(10_000)).setBlockSize(32).optSamplesPerEpoch(100)
                .optSeed(seed).setSampling(4, true).build();
    }

    @Test
    void randomStartsReachEveryPositionAndNoFurther() {
        // N = T + 3: the starts are 0, 1 and 2, each about a third of the time
        CausalLmDataset dataset = CausalLmDataset.builder().setTokens(positions(11)).setBlockSize(8)
                .optSamplesPerEpoch(3000).setSampling(1, false).build();
        int[] counts = new int[3];
        for (long i = 0; i < dataset.size(); i++) {
            counts[(int) dataset.windowStart(i)]++;
        }
        for (int count : counts) {
            assertTrue(Math.abs(count - 1000) < 100, Arrays.toString(counts));
        }
    }

    @Test
    void sequentialWindowsTileTheCorpusOnce() throws Exception {
        int n = 103;
        CausalLmDataset dataset = CausalLmDataset.builder().setTokens(positions(n)).setBlockSize(10)
                .optWindows(CausalLmDataset.Windows.SEQUENTIAL).setSampling(3, false).build();
        assertEquals((n - 1) / 10, dataset.size());
        Set<Integer> inputs = new HashSet<>();
        for (long i = 0; i < dataset.size(); i++) {
            assertEquals(i * 10, dataset.windowStart(i));
            for (int t = 0; t < 10; t++) {
                assertTrue(inputs.add(dataset.window(i)[t]), "position covered twice");
            }
        }
        assertEquals(100, inputs.size());

        // through DJL's batching: (B, T) INT32, batches of 3, 3, 3, 1
        try (NDManager manager = TorchManagers.cpu()) {
            int batches = 0;
            long seen = 0;
            for (Batch batch : dataset.getData(manager)) {
                NDArray x = batch.getData().singletonOrThrow();
                NDArray y = batch.getLabels().singletonOrThrow();
                assertEquals(DataType.INT32, x.getDataType());
                assertEquals(x.getShape(), y.getShape());
                assertEquals(10, x.getShape().get(1));
                int[] first = x.toIntArray();
                assertEquals(seen * 10, first[0]);
                assertArrayEquals(x.add(1).toIntArray(), y.toIntArray());
                seen += x.getShape().get(0);
                batches++;
                batch.close();
            }
            assertEquals(4, batches);
            assertEquals(10, seen);
        }
    }

    @Test
    void badSetupsAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CausalLmDataset.builder()
                .setTokens(positions(8)).setBlockSize(8).setSampling(1, false).build());
        assertTrue(e.getMessage().startsWith("a corpus of 8 tokens is shorter than one window of blockSize + 1 = 9 "
                + "tokens"), e.getMessage());
        IllegalStateException s = assertThrows(IllegalStateException.class,
                () -> CausalLmDataset.builder().setTokens(positions(100)).setBlockSize(8).build());
        assertTrue(s.getMessage().contains("setSampling"), s.getMessage());
        assertThrows(IllegalArgumentException.class, () -> CausalLmDataset.builder().setBlockSize(0));
        CausalLmDataset dataset = random(1);
        assertThrows(IndexOutOfBoundsException.class, () -> dataset.windowStart(100));
    }
}

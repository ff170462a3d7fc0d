package ai.fulgur.datasets.tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A byte-level BPE vocabulary and the merge procedure of GPT-2's {@code encoder.py}: a token list
 * ({@code encoder.json}: byte-level string to id) and a ranked merge list ({@code vocab.bpe}: one
 * {@code "left right"} pair per line, best first).
 *
 * <p>{@link #encodePiece(String)} turns one pre-tokenised piece into ids: UTF-8 bytes, one token per byte, then
 * repeatedly the adjacent pair with the lowest merge rank is merged, all its occurrences in one left-to-right pass,
 * until no adjacent pair has a rank. Results are cached per piece. Pre-tokenisation and special tokens belong to
 * {@link Gpt2Tokenizer}.
 *
 * <p>Two implementations of the merge loop sit side by side: {@link #mergeNaive}, GPT-2's loop over token ids
 * (quadratic in the piece length, the reference), and {@link #mergeWithHeap}, a linked list plus a heap of
 * (rank, position) (n log n), used for long pieces. They agree when every pair that a merge can create ranks after
 * that merge, which holds for GPT-2's file and is checked when a vocabulary is built; for a vocabulary where it does
 * not hold (two merges with the same result, ranked around a merge that uses it) the reference loop is always used.
 *
 * <p>Immutable apart from the cache, and thread-safe.
 */
public final class BytePairEncoding {

    /** Name of the token-to-id file, as in GPT-2's release. */
    public static final String ENCODER_FILE = "encoder.json";
    /** Name of the ranked merge file, as in GPT-2's release. */
    public static final String MERGES_FILE = "vocab.bpe";
    /** First line of a merge file. */
    static final String MERGES_HEADER = "#version: 0.2";
    /** Pieces longer than this many bytes use the heap merge when the vocabulary allows it. */
    private static final int HEAP_THRESHOLD = 48;
    /** The cache is dropped when it reaches this many pieces, bounding its memory on large corpora. */
    private static final int CACHE_LIMIT = 1 << 18;

    private final String[] tokens; // id -> byte-level string
    private final byte[][] tokenBytes; // id -> the bytes the token decodes to
    private final Map<String, Integer> ids; // byte-level string -> id
    private final int[] byteToId = new int[256]; // byte value -> id of its one-byte token
    private final int[] mergeLeft; // rank -> left token id
    private final int[] mergeRight; // rank -> right token id
    private final int[] mergeResult; // rank -> id of the merged token
    private final PairRanks ranks; // (left id, right id) -> rank
    private final boolean heapAllowed;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * Builds a vocabulary from its two lists, checking that they fit together.
     *
     * @param tokens the tokens in id order (byte-level strings; a token with characters outside the byte-level
     *     alphabet, such as an added special token, stands for its own UTF-8 bytes)
     * @param merges the merges in rank order
     * @param encoderFile name of the file the tokens came from, for error messages
     * @param mergesFile name of the file the merges came from, for error messages
     * @throws VocabFileException if a byte has no token, a token repeats, or a merge names an unknown token
     */
    BytePairEncoding(List<String> tokens, List<Merge> merges, String encoderFile, String mergesFile)
            throws VocabFileException {
        this.tokens = tokens.toArray(new String[0]);
        this.tokenBytes = new byte[this.tokens.length][];
        this.ids = new HashMap<>(this.tokens.length * 2);
        for (int id = 0; id < this.tokens.length; id++) {
            String token = this.tokens[id];
            Integer previous = ids.put(token, id);
            if (previous != null) {
                throw new VocabFileException(encoderFile, "token " + Json.quote(token) + " has two ids, " + previous
                        + " and " + id);
            }
            byte[] bytes = ByteLevel.toBytes(token);
            tokenBytes[id] = bytes != null ? bytes : token.getBytes(StandardCharsets.UTF_8);
        }
        for (int b = 0; b < 256; b++) {
            Integer id = ids.get(String.valueOf(ByteLevel.charOf(b)));
            if (id == null) {
                throw new VocabFileException(encoderFile, String.format(
                        "no token for byte 0x%02X (byte-level character %s); a byte-level vocabulary needs all 256",
                        b, Json.quote(String.valueOf(ByteLevel.charOf(b)))));
            }
            byteToId[b] = id;
        }
        int n = merges.size();
        mergeLeft = new int[n];
        mergeRight = new int[n];
        mergeResult = new int[n];
        ranks = new PairRanks(n);
        for (int rank = 0; rank < n; rank++) {
            Merge merge = merges.get(rank);
            String where = "merge " + (rank + 1) + " (line " + merge.line() + ") " + Json.quote(merge.left()) + " "
                    + Json.quote(merge.right());
            Integer left = ids.get(merge.left());
            Integer right = ids.get(merge.right());
            Integer result = ids.get(merge.left() + merge.right());
            if (left == null || right == null || result == null) {
                String missing = left == null ? merge.left() : right == null ? merge.right() : merge.left() + merge.right();
                throw new VocabFileException(mergesFile, where + " uses " + Json.quote(missing)
                        + ", which is not a token of " + encoderFile);
            }
            if (!ranks.putIfAbsent(left, right, rank)) {
                throw new VocabFileException(mergesFile, where + " repeats merge " + (ranks.get(left, right) + 1));
            }
            mergeLeft[rank] = left;
            mergeRight[rank] = right;
            mergeResult[rank] = result;
        }
        heapAllowed = createdPairsRankLater();
    }

    /**
     * Reads {@code encoder.json} and {@code vocab.bpe} from a directory (such as one written by {@link #save}).
     *
     * @throws NoSuchFileException naming the missing file
     * @throws VocabFileException naming the file and line of a format error
     */
    public static BytePairEncoding load(Path directory) throws IOException {
        return load(directory.resolve(ENCODER_FILE), directory.resolve(MERGES_FILE));
    }

    /**
     * Reads a vocabulary from its two files.
     *
     * @param encoderJson the JSON object of byte-level token to id, ids 0..n-1 each once
     * @param vocabBpe the ranked merges, {@code #version} line first
     * @throws NoSuchFileException naming the missing file
     * @throws VocabFileException naming the file and line of a format error
     */
    public static BytePairEncoding load(Path encoderJson, Path vocabBpe) throws IOException {
        for (Path file : List.of(encoderJson, vocabBpe)) {
            if (!Files.isRegularFile(file)) {
                throw new NoSuchFileException(file.toString(), null,
                        "BPE vocabulary file not found (a vocabulary is " + ENCODER_FILE + " plus " + MERGES_FILE + ")");
            }
        }
        return read(Files.readAllBytes(encoderJson), encoderJson.toString(), Files.readAllBytes(vocabBpe),
                vocabBpe.toString());
    }

    /** Reads a vocabulary from two class-path resources, named in errors. */
    static BytePairEncoding fromResources(String encoderJson, String vocabBpe) throws IOException {
        return read(resource(encoderJson), encoderJson, resource(vocabBpe), vocabBpe);
    }

    static byte[] resource(String name) throws IOException {
        try (InputStream in = BytePairEncoding.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new NoSuchFileException(name, null, "class-path resource not found");
            }
            return in.readAllBytes();
        }
    }

    private static BytePairEncoding read(byte[] encoderJson, String encoderFile, byte[] vocabBpe, String mergesFile)
            throws VocabFileException {
        return new BytePairEncoding(parseEncoder(utf8(encoderJson, encoderFile), encoderFile),
                parseMerges(utf8(vocabBpe, mergesFile), mergesFile), encoderFile, mergesFile);
    }

    static String utf8(byte[] bytes, String file) throws VocabFileException {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new VocabFileException(file, "not valid UTF-8 (" + e + ")");
        }
    }

    /** Parses encoder.json into the token list in id order. */
    private static List<String> parseEncoder(String text, String file) throws VocabFileException {
        if (!(Json.parse(text, file) instanceof Map<?, ?> map)) {
            throw new VocabFileException(file, "expected a JSON object of token -> id, found another JSON value");
        }
        String[] byId = new String[map.size()];
        for (Map.Entry<?, ?> entry : map.entrySet()) {
            String token = (String) entry.getKey();
            if (!(entry.getValue() instanceof Long id) || id < 0 || id >= byId.length) {
                throw new VocabFileException(file, "token " + Json.quote(token) + " has id " + entry.getValue()
                        + "; ids must be the integers 0.." + (byId.length - 1) + " (the file has " + byId.length
                        + " tokens)");
            }
            int i = (int) (long) id;
            if (byId[i] != null) {
                throw new VocabFileException(file, "id " + i + " is given to both " + Json.quote(byId[i]) + " and "
                        + Json.quote(token));
            }
            byId[i] = token;
        }
        return Arrays.asList(byId);
    }

    /** Parses vocab.bpe: an optional {@code #version} line, then one "left right" merge per non-empty line. */
    private static List<Merge> parseMerges(String text, String file) throws VocabFileException {
        String[] lines = text.split("\n", -1);
        List<Merge> merges = new ArrayList<>(lines.length);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].endsWith("\r") ? lines[i].substring(0, lines[i].length() - 1) : lines[i];
            if (line.isEmpty() || (i == 0 && line.startsWith("#version"))) {
                continue;
            }
            int space = line.indexOf(' ');
            if (space <= 0 || space == line.length() - 1 || line.indexOf(' ', space + 1) >= 0) {
                throw new VocabFileException(file, "line " + (i + 1) + " is " + Json.quote(line)
                        + "; expected two tokens separated by one space");
            }
            merges.add(new Merge(line.substring(0, space), line.substring(space + 1), i + 1));
        }
        return merges;
    }

    /**
     * Writes {@code encoder.json} and {@code vocab.bpe} into a directory (created if needed), in the format of GPT-2's
     * release: saving GPT-2's own vocabulary reproduces its files byte for byte.
     */
    public void save(Path directory) throws IOException {
        Files.createDirectories(directory);
        try (Writer out = Files.newBufferedWriter(directory.resolve(ENCODER_FILE), StandardCharsets.UTF_8)) {
            out.write('{');
            for (int id = 0; id < tokens.length; id++) {
                out.write(id == 0 ? "" : ", ");
                out.write(Json.quote(tokens[id]));
                out.write(": ");
                out.write(Integer.toString(id));
            }
            out.write('}');
        }
        try (Writer out = Files.newBufferedWriter(directory.resolve(MERGES_FILE), StandardCharsets.UTF_8)) {
            out.write(MERGES_HEADER);
            out.write('\n');
            for (int rank = 0; rank < mergeLeft.length; rank++) {
                out.write(tokens[mergeLeft[rank]]);
                out.write(' ');
                out.write(tokens[mergeRight[rank]]);
                out.write('\n');
            }
        }
    }

    /** @return the number of tokens (ids are 0..size()-1) */
    public int size() {
        return tokens.length;
    }

    /** @return the number of merges */
    public int mergeCount() {
        return mergeLeft.length;
    }

    /** @return the byte-level string of token {@code id}, e.g. {@code "Ġthe"} for id 262 in GPT-2 */
    public String token(int id) {
        checkId(id);
        return tokens[id];
    }

    /** @return the id of a byte-level token string, or empty */
    public OptionalInt id(String token) {
        Integer id = ids.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** @return a copy of the bytes token {@code id} stands for */
    public byte[] tokenBytes(int id) {
        checkId(id);
        return tokenBytes[id].clone();
    }

    /** @return the merges in rank order as {left, right} byte-level strings */
    public List<String[]> merges() {
        List<String[]> out = new ArrayList<>(mergeLeft.length);
        for (int rank = 0; rank < mergeLeft.length; rank++) {
            out.add(new String[] {tokens[mergeLeft[rank]], tokens[mergeRight[rank]]});
        }
        return Collections.unmodifiableList(out);
    }

    /** @return the bytes token {@code id} stands for, not copied: callers must not modify them */
    byte[] bytesOf(int id) {
        checkId(id);
        return tokenBytes[id];
    }

    private void checkId(int id) {
        if (id < 0 || id >= tokens.length) {
            throw new IllegalArgumentException("token id must be in [0, " + tokens.length + "), got " + id);
        }
    }

    /**
     * Encodes one pre-tokenised piece (a match of GPT-2's pattern) through the cache.
     *
     * @return the ids; callers must not modify the array, which the cache shares
     */
    int[] encodePiece(String piece) {
        int[] cached = cache.get(piece);
        if (cached != null) {
            return cached;
        }
        int[] result = encodeBytes(ByteLevel.utf8(piece, 0, piece.length()));
        if (cache.size() >= CACHE_LIMIT) {
            cache.clear();
        }
        cache.put(piece, result);
        return result;
    }

    /** BPE-encodes a byte sequence as one piece, without the cache. */
    int[] encodeBytes(byte[] bytes) {
        int[] word = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            word[i] = byteToId[bytes[i] & 0xFF];
        }
        return heapAllowed && word.length > HEAP_THRESHOLD ? mergeWithHeap(word) : mergeNaive(word);
    }

    /**
     * GPT-2's merge loop over ids: find the lowest-ranked adjacent pair, merge every occurrence left to right, repeat.
     *
     * @param word initial token ids (one per byte); overwritten
     */
    int[] mergeNaive(int[] word) {
        int len = word.length;
        while (len > 1) {
            int best = Integer.MAX_VALUE;
            for (int i = 0; i + 1 < len; i++) {
                int rank = ranks.get(word[i], word[i + 1]);
                if (rank >= 0 && rank < best) {
                    best = rank;
                }
            }
            if (best == Integer.MAX_VALUE) {
                break;
            }
            int left = mergeLeft[best];
            int right = mergeRight[best];
            int merged = mergeResult[best];
            int out = 0;
            for (int i = 0; i < len; ) {
                if (i + 1 < len && word[i] == left && word[i + 1] == right) {
                    word[out++] = merged;
                    i += 2;
                } else {
                    word[out++] = word[i++];
                }
            }
            len = out;
        }
        return len == word.length ? word : Arrays.copyOf(word, len);
    }

    /**
     * The same merges in n log n: symbols in a doubly linked list over the initial positions, candidate pairs in a
     * min-heap keyed by (rank, position of the left symbol). Popping in that order merges each rank's occurrences
     * left to right, as {@link #mergeNaive} does, provided a merge never creates a pair that ranks before it.
     *
     * @param word initial token ids (one per byte); overwritten
     */
    int[] mergeWithHeap(int[] word) {
        int n = word.length;
        int[] prev = new int[n];
        int[] next = new int[n];
        LongMinHeap heap = new LongMinHeap(n);
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
            if (i + 1 < n) {
                pushPair(heap, word, i, i + 1);
            }
        }
        int len = n;
        while (!heap.isEmpty()) {
            long entry = heap.pop();
            int rank = (int) (entry >>> 32);
            int at = (int) entry;
            int right = next[at];
            // Stale entries: the left symbol was merged away, or the pair at this position has changed since.
            if (word[at] < 0 || right < 0 || ranks.get(word[at], word[right]) != rank) {
                continue;
            }
            word[at] = mergeResult[rank];
            word[right] = -1;
            next[at] = next[right];
            if (next[at] >= 0) {
                prev[next[at]] = at;
            }
            len--;
            if (prev[at] >= 0) {
                pushPair(heap, word, prev[at], at);
            }
            if (next[at] >= 0) {
                pushPair(heap, word, at, next[at]);
            }
        }
        int[] out = new int[len];
        for (int i = 0, k = 0; i >= 0; i = next[i]) {
            out[k++] = word[i];
        }
        return out;
    }

    private void pushPair(LongMinHeap heap, int[] word, int left, int right) {
        int rank = ranks.get(word[left], word[right]);
        if (rank >= 0) {
            heap.push(((long) rank << 32) | left);
        }
    }

    /**
     * Whether every pair a merge can create ranks after that merge: for each token, every merge that produces it
     * ranks before every merge that uses it. True for GPT-2's vocabulary and for consistent BPE training output.
     */
    private boolean createdPairsRankLater() {
        int[] lastProduced = new int[tokens.length];
        Arrays.fill(lastProduced, -1);
        for (int rank = 0; rank < mergeResult.length; rank++) {
            lastProduced[mergeResult[rank]] = rank;
        }
        for (int rank = 0; rank < mergeLeft.length; rank++) {
            if (lastProduced[mergeLeft[rank]] > rank || lastProduced[mergeRight[rank]] > rank) {
                return false;
            }
        }
        return true;
    }

    /** Whether long pieces use {@link #mergeWithHeap}; for tests. */
    boolean heapAllowed() {
        return heapAllowed;
    }

    /**
     * One line of vocab.bpe.
     *
     * @param left the left token, byte-level
     * @param right the right token, byte-level
     * @param line its line number in the file, from 1, for error messages
     */
    record Merge(String left, String right, int line) {
    }
}

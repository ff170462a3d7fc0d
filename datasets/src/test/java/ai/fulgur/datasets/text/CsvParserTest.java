package ai.fulgur.datasets.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** RFC 4180's own examples and the cases around them. */
class CsvParserTest {

    private static final Path FILE = Path.of("x.csv");

    private static List<List<String>> fields(String text, boolean quoting) throws DataFileException {
        return CsvParser.parse(text, quoting ? ',' : '\t', quoting, FILE).stream().map(CsvParser.Row::fields).toList();
    }

    @Test
    void rfc4180Records() throws DataFileException {
        assertEquals(List.of(List.of("aaa", "bbb", "ccc"), List.of("zzz", "yyy", "xxx")),
                fields("aaa,bbb,ccc\r\nzzz,yyy,xxx\r\n", true));
        assertEquals(List.of(List.of("aaa", "bbb", "ccc"), List.of("zzz", "yyy", "xxx")),
                fields("aaa,bbb,ccc\nzzz,yyy,xxx", true)); // LF and no final line break
        assertEquals(List.of(List.of("aaa", "b\r\nbb", "ccc")), fields("\"aaa\",\"b\r\nbb\",\"ccc\"", true));
        assertEquals(List.of(List.of("aaa", "b\"bb", "ccc")), fields("\"aaa\",\"b\"\"bb\",\"ccc\"", true));
        assertEquals(List.of(List.of("", "", "")), fields(",,", true));
        assertEquals(List.of(List.of(""), List.of("a")), fields("\"\"\n\na\n", true)); // blank line skipped
        assertEquals(List.of(List.of("it's \"fine\"", "1")), fields("it's \"fine\"\t1", false));
    }

    @Test
    void recordsKnowTheirLine() throws DataFileException {
        List<CsvParser.Row> rows = CsvParser.parse("h1,h2\n\"multi\nline\",1\n\nlast,2\n", ',', true, FILE);
        assertEquals(List.of(1, 2, 5), rows.stream().map(CsvParser.Row::line).toList());
    }

    @Test
    void malformedQuotesAreNamed() {
        DataFileException e = assertThrows(DataFileException.class, () -> fields("a,b\nx,\"open\n\n", true));
        assertEquals("x.csv: line 2: quoted field never closed; expected a closing \" (write \"\" for a quote)",
                e.getMessage());
        e = assertThrows(DataFileException.class, () -> fields("a,b\n\"x\"y,1\n", true));
        assertEquals("x.csv: line 2: unexpected 'y' after a closing quote; expected the delimiter or the end of the "
                + "line", e.getMessage());
    }
}

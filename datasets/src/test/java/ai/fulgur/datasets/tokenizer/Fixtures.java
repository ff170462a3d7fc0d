package ai.fulgur.datasets.tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * Reads the JSON fixtures under src/test/resources/ai/fulgur/datasets/tokenizer/, written by the scripts in
 * tools/tokenizer-fixtures/ (see the README there for how each was produced and checked).
 */
final class Fixtures {

    private Fixtures() {
    }

    /** @return the fixture's "cases" array, each case a JSON object */
    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> cases(String name) {
        String resource = "/ai/fulgur/datasets/tokenizer/" + name;
        try (InputStream in = Fixtures.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("test fixture " + resource + " is missing from the class path");
            }
            Map<String, Object> root = (Map<String, Object>) Json.parse(
                    new String(in.readAllBytes(), StandardCharsets.UTF_8), resource);
            return (List<Map<String, Object>>) root.get("cases");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** @return a JSON array of integers as an int[] */
    static int[] ints(Object jsonArray) {
        List<?> list = (List<?>) jsonArray;
        int[] out = new int[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (int) (long) (Long) list.get(i);
        }
        return out;
    }

    /** @return a JSON array of strings */
    @SuppressWarnings("unchecked")
    static List<String> strings(Object jsonArray) {
        return (List<String>) jsonArray;
    }

    /** @return the string with non-ASCII and control characters escaped, for failure messages */
    static String show(String s) {
        return Json.quote(s);
    }
}

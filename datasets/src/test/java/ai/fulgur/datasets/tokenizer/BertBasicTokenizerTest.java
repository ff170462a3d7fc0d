package ai.fulgur.datasets.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BertBasicTokenizerTest {

    private final BertBasicTokenizer uncased = new BertBasicTokenizer(true);

    /** The fixture's "basic" lists were written by hand and checked against a port of BERT's tokenization.py. */
    @Test
    void matchesTheHandVerifiedFixture() {
        List<Map<String, Object>> cases = Fixtures.cases("wordpiece-uncased.json");
        assertEquals(25, cases.size());
        for (Map<String, Object> c : cases) {
            String text = (String) c.get("text");
            assertEquals(Fixtures.strings(c.get("basic")), uncased.tokenize(text), Fixtures.show(text));
        }
    }

    @Test
    void punctuationIsBertsDefinition() {
        for (char c : "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".toCharArray()) {
            assertTrue(BertBasicTokenizer.isPunctuation(c), "ASCII " + c);
        }
        assertTrue(BertBasicTokenizer.isPunctuation('¿'));
        assertTrue(BertBasicTokenizer.isPunctuation('«'));
        assertTrue(BertBasicTokenizer.isPunctuation('\u3002'));
        assertFalse(BertBasicTokenizer.isPunctuation('€')); // Sc, not ASCII
        assertFalse(BertBasicTokenizer.isPunctuation('a'));
    }

    @Test
    void casedKeepsCaseAndAccents() {
        BertBasicTokenizer cased = new BertBasicTokenizer(false);
        assertEquals(List.of("Café", "Ångström", "!", "日", "本"), cased.tokenize("Café Ångström! 日本"));
        assertEquals(List.of("cafe", "angstrom", "!", "日", "本"), uncased.tokenize("Café Ångström! 日本"));
    }

    @Test
    void controlsVanishAndWhitespaceSplits() {
        assertEquals(List.of("ab", "c", "d"), uncased.tokenize("a\u200db\u0000\u000b c\u2029d"));
        assertEquals(List.of(), uncased.tokenize("\u0301 \u200d"));
    }
}

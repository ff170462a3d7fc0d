package ai.fulgur.inference.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.fulgur.datasets.tokenizer.Gpt2Tokenizer;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Token-by-token text with GPT-2's byte-level BPE, where one character's UTF-8 bytes can span several tokens. */
class IncrementalDetokenizerTest {
    private static final Gpt2Tokenizer GPT2 = Gpt2Tokenizer.gpt2();
    private static final String TEXT = "Grüße aus 東京 🚀 und zurück";

    @Test
    void textGrowsWithoutBrokenCharactersAndEndsAsTheFullDecode() {
        int[] ids = GPT2.encode(TEXT);
        // the premise: some token alone decodes to half a character
        assertTrue(Arrays.stream(ids).anyMatch(id -> GPT2.decode(new int[] {id}).contains("\uFFFD")),
                "some character of the text spans tokens");
        IncrementalDetokenizer text = new IncrementalDetokenizer(GPT2, List.of());
        for (int id : ids) {
            assertFalse(text.append(id));
            assertFalse(text.text().contains("\uFFFD"), "a broken character was shown: " + text.text());
            assertTrue(TEXT.startsWith(text.text()), text.text());
        }
        text.flush();
        assertEquals(TEXT, text.text());
    }

    @Test
    void aStopStringCutsTheTextBeforeIt() {
        IncrementalDetokenizer text = new IncrementalDetokenizer(GPT2, List.of("zurück", "京 🚀"));
        boolean stopped = false;
        for (int id : GPT2.encode(TEXT)) {
            stopped = text.append(id);
            if (stopped) {
                break;
            }
        }
        assertTrue(stopped);
        assertEquals("Grüße aus 東", text.text());
    }
}

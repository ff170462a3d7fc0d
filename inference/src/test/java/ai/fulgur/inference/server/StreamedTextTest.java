package ai.fulgur.inference.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class StreamedTextTest {

    @Test
    void withoutStopStringsEverythingGoesAtOnce() {
        StreamedText t = new StreamedText(List.of());
        assertEquals("Hel", t.next("Hel", false));
        assertEquals("", t.next("Hel", false));
        assertEquals("lo", t.next("Hello", false));
        assertEquals("", t.next("Hello", true));
    }

    @Test
    void aPartialStopStringIsHeldBackUntilItCannotBeOne() {
        StreamedText t = new StreamedText(List.of("END"));
        assertEquals("ab", t.next("abcd", false)); // "cd" may start "END"
        assertEquals("cd", t.next("abcdEN", false)); // still hold two
        assertEquals("", t.next("abcd", true)); // the engine hit "END" and cut the text before it
        assertEquals("abcd", t.sent());
        StreamedText u = new StreamedText(List.of("END"));
        assertEquals("ab", u.next("abcd", false));
        assertEquals("cdEF", u.next("abcdEF", true)); // no hit: the held-back tail goes with the finish
    }

    @Test
    void aStopStringCutNeverRetractsSentText() {
        // The engine's text before a hit never contained the whole stop string; what was sent is before the cut.
        StreamedText t = new StreamedText(List.of("STOP"));
        String[] texts = {"one ", "one tw", "one two S", "one two ST"};
        StringBuilder streamed = new StringBuilder();
        for (String s : texts) {
            streamed.append(t.next(s, false));
        }
        streamed.append(t.next("one two ", true)); // generated "STOP": cut before it
        assertEquals("one two ", streamed.toString());
    }

    @Test
    void aSplitCharacterWaitsForItsLastByte() {
        StreamedText t = new StreamedText(List.of());
        assertEquals("caf", t.next("caf\uFFFD", false));
        assertEquals("é!", t.next("café!", false));
        assertEquals("\uFFFD", t.next("café!\uFFFD", true)); // a finished text goes as it is
    }
}

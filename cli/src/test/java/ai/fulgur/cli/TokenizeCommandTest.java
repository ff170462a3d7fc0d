package ai.fulgur.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class TokenizeCommandTest {

    private static String[] run(String input, String... argv) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        TokenizeCommand command = new TokenizeCommand(new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)));
        int code;
        try {
            code = command.run(Args.parse(argv), new PrintStream(out, true, StandardCharsets.UTF_8),
                    new PrintStream(err, true, StandardCharsets.UTF_8));
        } catch (Args.UsageException e) {
            return new String[] {"usage", e.getMessage()};
        }
        return new String[] {Integer.toString(code), out.toString(StandardCharsets.UTF_8)};
    }

    /** GPT-2's well-known ids ("Hello" 15496, " world" 995; BERT uncased: hello 7592, world 2088), one line each. */
    @Test
    void printsTheIdsOfEachLine() throws Exception {
        assertEquals("15496 995\n\n15496\n", run("Hello world\n\nHello\n", "--tokenizer", "gpt2")[1]);
        assertEquals("7592 2088\n", run("Hello World\n", "--tokenizer", "bert")[1]);
    }

    @Test
    void decodesIdsBackToText() throws Exception {
        assertEquals("Hello world\n", run("15496 995\n", "--decode")[1]);
    }

    @Test
    void badIdsAndUnknownTokenizersAreNamed() throws Exception {
        String[] r = run("15496 99999999\n", "--decode");
        assertEquals("usage", r[0]);
        assertTrue(r[1].contains("99999999") && r[1].contains("50257"), r[1]);
        Exception e = org.junit.jupiter.api.Assertions.assertThrows(java.nio.file.NoSuchFileException.class,
                () -> run("x\n", "--tokenizer", "/no/such/dir"));
        assertTrue(e.getMessage().contains("/no/such/dir"), e.getMessage());
    }
}

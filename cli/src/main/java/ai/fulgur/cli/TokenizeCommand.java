package ai.fulgur.cli;

import ai.fulgur.datasets.tokenizer.Tokenizer;
import ai.fulgur.datasets.tokenizer.Tokenizers;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * {@code fulgur tokenize --tokenizer gpt2|bert|DIR}: reads text on standard input and prints each line's token ids,
 * space-separated, one output line per input line (no special tokens added).
 */
final class TokenizeCommand implements Command {
    private final InputStream in;

    TokenizeCommand(InputStream in) {
        this.in = in;
    }

    @Override
    public String summary() {
        return "print the token ids of each line of standard input";
    }

    @Override
    public String usage() {
        return """
                usage: fulgur tokenize [--tokenizer gpt2|bert|DIR] [--decode]  < text
                  --tokenizer T     gpt2 (shipped), bert (BERT base uncased, shipped), or a directory with
                                    encoder.json + vocab.bpe, vocab.json + merges.txt, or vocab.txt     [gpt2]
                  --decode          read lines of space-separated ids and print their text instead
                """;
    }

    @Override
    public int run(Args args, PrintStream out, PrintStream err) throws Exception {
        if (args.help()) {
            out.print(usage());
            return 0;
        }
        Tokenizer tokenizer = Tokenizers.byName(args.string("tokenizer", "gpt2"));
        boolean decode = args.flag("decode");
        args.finish();
        BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        StringBuilder line = new StringBuilder();
        int lineNumber = 0;
        for (String text = reader.readLine(); text != null; text = reader.readLine()) {
            lineNumber++;
            line.setLength(0);
            if (decode) {
                out.println(tokenizer.decode(ids(text, lineNumber, tokenizer.vocabSize())));
                continue;
            }
            for (int id : tokenizer.encode(text)) {
                line.append(line.isEmpty() ? "" : " ").append(id);
            }
            out.println(line);
        }
        out.flush();
        return 0;
    }

    private static int[] ids(String text, int lineNumber, int vocab) {
        String trimmed = text.strip();
        if (trimmed.isEmpty()) {
            return new int[0];
        }
        String[] parts = trimmed.split("\\s+");
        int[] ids = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                ids[i] = Integer.parseInt(parts[i]);
            } catch (NumberFormatException e) {
                throw new Args.UsageException("line " + lineNumber + ": '" + parts[i] + "' is not a token id");
            }
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new Args.UsageException("line " + lineNumber + ": token id " + ids[i] + " is outside the "
                        + "vocabulary [0, " + vocab + ")");
            }
        }
        return ids;
    }
}

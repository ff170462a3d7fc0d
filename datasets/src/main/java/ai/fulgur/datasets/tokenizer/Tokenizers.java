package ai.fulgur.datasets.tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Finds a tokenizer by the name a user types: {@code gpt2} (GPT-2's vocabulary, shipped), {@code bert} (BERT base
 * uncased, shipped), or a directory holding GPT-2-style BPE files ({@code encoder.json} + {@code vocab.bpe}, as
 * {@link BpeTrainer} writes them, or Hugging Face's {@code vocab.json} + {@code merges.txt}, which have the same
 * formats) or a WordPiece {@code vocab.txt} (lower-cased).
 */
public final class Tokenizers {
    private Tokenizers() {
    }

    /** The tokenizer named {@code spec}; fails naming what was looked for. */
    public static Tokenizer byName(String spec) throws IOException {
        if (spec.equals("gpt2")) {
            return Gpt2Tokenizer.gpt2();
        }
        if (spec.equals("bert")) {
            return WordPieceTokenizer.bertBaseUncased();
        }
        Path dir = Path.of(spec);
        if (!Files.isDirectory(dir)) {
            throw new NoSuchFileException(spec, null, "not a tokenizer: expected 'gpt2', 'bert' or a directory "
                    + "holding encoder.json + vocab.bpe, vocab.json + merges.txt, or vocab.txt");
        }
        if (Files.isRegularFile(dir.resolve(BytePairEncoding.ENCODER_FILE))) {
            return Gpt2Tokenizer.load(dir);
        }
        if (Files.isRegularFile(dir.resolve("vocab.json")) && Files.isRegularFile(dir.resolve("merges.txt"))) {
            return Gpt2Tokenizer.load(dir.resolve("vocab.json"), dir.resolve("merges.txt"));
        }
        if (Files.isRegularFile(dir.resolve("vocab.txt"))) {
            return WordPieceTokenizer.fromVocabTxt(dir.resolve("vocab.txt"), true);
        }
        throw new NoSuchFileException(dir.toString(), null, "no tokenizer files in this directory: expected "
                + "encoder.json + vocab.bpe, vocab.json + merges.txt, or vocab.txt");
    }
}

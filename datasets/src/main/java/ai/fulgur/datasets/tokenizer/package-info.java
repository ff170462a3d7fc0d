/**
 * Tokenizers: GPT-2 byte-level BPE ({@link ai.fulgur.datasets.tokenizer.Gpt2Tokenizer}, bit-exact with GPT-2's
 * vocabulary, which ships as a resource), a trainer for new byte-level vocabularies
 * ({@link ai.fulgur.datasets.tokenizer.BpeTrainer}) in the same two-file format, and BERT's WordPiece
 * ({@link ai.fulgur.datasets.tokenizer.WordPieceTokenizer}, with the uncased vocabulary as a resource).
 *
 * <p>All tokenizers are thread-safe and read only local files or class-path resources; nothing is downloaded.
 */
package ai.fulgur.datasets.tokenizer;

package ai.fulgur.datasets.tokenizer;

import java.util.Map;
import java.util.OptionalInt;

/**
 * Text to token ids and back.
 *
 * <p>{@link #encode(String)} turns text into the model's ids without adding any special token (no end-of-text for
 * GPT-2, no [CLS]/[SEP] for BERT); the implementations offer the model-specific framing as separate methods.
 * Implementations are thread-safe.
 */
public interface Tokenizer {

    /**
     * Encodes text into token ids. Special tokens are not added; text that spells a special token is encoded as
     * ordinary text unless the implementation documents otherwise.
     *
     * @param text the text, any Java string
     * @return the token ids, each in {@code [0, vocabSize())}
     */
    int[] encode(String text);

    /**
     * Decodes token ids back into text. For GPT-2 this is the exact inverse of {@link #encode(String)}; for
     * WordPiece it is lossy (lower-cased, accents stripped, spacing normalised).
     *
     * @param ids token ids, each in {@code [0, vocabSize())}
     * @return the text
     * @throws IllegalArgumentException if an id is out of range
     */
    String decode(int[] ids);

    /** @return the number of token ids, one more than the largest id */
    int vocabSize();

    /** @return the special tokens of this vocabulary by their text, e.g. {@code <|endoftext|> -> 50256} */
    Map<String, Integer> specialTokens();

    /**
     * @param token a special token's text, e.g. {@code "[CLS]"}
     * @return its id, or empty when this vocabulary has no such special token
     */
    default OptionalInt specialTokenId(String token) {
        Integer id = specialTokens().get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }
}

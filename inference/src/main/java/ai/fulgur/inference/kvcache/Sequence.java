package ai.fulgur.inference.kvcache;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One token stream being generated: the prompt followed by the tokens sampled so far, how many of them have keys and
 * values in the cache ({@code numComputedTokens}), and its status. Each step computes tokens
 * [numComputedTokens, tokenCount); once all are computed the last position's logits give the next token. A prompt
 * is the first such stretch (prefill), a sampled token the next one (decode), and a sequence preempted for
 * recomputation simply starts again from 0 computed tokens.
 */
public final class Sequence {
    private static final AtomicLong NEXT_ID = new AtomicLong();

    private final long id;
    private final int promptLength;
    private int[] tokens;
    private int tokenCount;
    private int numComputedTokens;
    private SequenceStatus status = SequenceStatus.WAITING;

    /** A waiting sequence holding {@code prompt} (at least one token). */
    public Sequence(int[] prompt) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt is empty; give at least one token");
        }
        this.id = NEXT_ID.incrementAndGet();
        this.promptLength = prompt.length;
        this.tokens = Arrays.copyOf(prompt, Math.max(16, prompt.length * 2));
        this.tokenCount = prompt.length;
    }

    private Sequence(Sequence parent) {
        this.id = NEXT_ID.incrementAndGet();
        this.promptLength = parent.promptLength;
        this.tokens = parent.tokens.clone();
        this.tokenCount = parent.tokenCount;
        this.numComputedTokens = parent.numComputedTokens;
        this.status = parent.status;
    }

    /** A new sequence with a fresh id and the same tokens, computed count and status (for n samples, beams). */
    public Sequence fork() {
        return new Sequence(this);
    }

    /** A JVM-unique id. */
    public long id() {
        return id;
    }

    /** Prompt tokens. */
    public int promptLength() {
        return promptLength;
    }

    /** Prompt plus generated tokens. */
    public int tokenCount() {
        return tokenCount;
    }

    /** Generated tokens. */
    public int outputLength() {
        return tokenCount - promptLength;
    }

    /** The token at {@code position}. */
    public int token(int position) {
        if (position < 0 || position >= tokenCount) {
            throw new IndexOutOfBoundsException("position " + position + " outside [0, " + tokenCount + ")");
        }
        return tokens[position];
    }

    /** Tokens [from, to). */
    public int[] tokens(int from, int to) {
        if (from < 0 || to > tokenCount || from > to) {
            throw new IndexOutOfBoundsException("range [" + from + ", " + to + ") outside [0, " + tokenCount + ")");
        }
        return Arrays.copyOfRange(tokens, from, to);
    }

    /** All tokens, prompt first. */
    public int[] tokens() {
        return tokens(0, tokenCount);
    }

    /** Tokens whose keys and values are in the cache. */
    public int numComputedTokens() {
        return numComputedTokens;
    }

    /** Tokens still to compute before the next sample. */
    public int numUncomputedTokens() {
        return tokenCount - numComputedTokens;
    }

    /** The status. */
    public SequenceStatus status() {
        return status;
    }

    /** Sets the status (the scheduler's job). */
    public void setStatus(SequenceStatus status) {
        this.status = status;
    }

    /** Appends a sampled token; every earlier token must be computed. */
    public void appendToken(int token) {
        if (numComputedTokens != tokenCount) {
            throw new IllegalStateException("sequence " + id + " has " + (tokenCount - numComputedTokens)
                    + " uncomputed tokens; a token is sampled only after all are computed");
        }
        if (tokenCount == tokens.length) {
            tokens = Arrays.copyOf(tokens, tokens.length * 2);
        }
        tokens[tokenCount++] = token;
    }

    /** Records that {@code n} more tokens have keys and values in the cache. */
    public void advanceComputed(int n) {
        if (n < 0 || numComputedTokens + n > tokenCount) {
            throw new IllegalArgumentException("sequence " + id + " cannot advance by " + n + " computed tokens: "
                    + numComputedTokens + " of " + tokenCount + " are computed");
        }
        numComputedTokens += n;
    }

    /** Forgets every computed token: its blocks were freed and it will be recomputed from the start. */
    public void resetComputed() {
        numComputedTokens = 0;
    }

    /** Sets the computed count (the block manager's, after prefix-cache hits, or 0 for recomputation). */
    void setNumComputedTokens(int n) {
        this.numComputedTokens = n;
    }

    @Override
    public String toString() {
        return "Sequence[" + id + ", " + status + ", " + numComputedTokens + "/" + tokenCount + " computed]";
    }
}

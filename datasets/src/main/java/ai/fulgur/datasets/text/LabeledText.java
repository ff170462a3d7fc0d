package ai.fulgur.datasets.text;

import java.util.Objects;

/**
 * One classification example.
 *
 * @param text the text
 * @param label the class id, in {@code [0, numClasses)}
 */
public record LabeledText(String text, int label) {

    /** Checks the fields. */
    public LabeledText {
        Objects.requireNonNull(text, "text");
        if (label < 0) {
            throw new IllegalArgumentException("label must be at least 0, got " + label);
        }
    }
}

package ai.fulgur.autograd;

/**
 * Whether ops record a graph for backward, per thread, on by default (as in PyTorch). Scopes restore the previous
 * state when closed:
 * <pre>{@code
 * try (var scope = GradMode.disable()) {
 *     // evaluation: nothing recorded, nothing saved for backward
 * }
 * }</pre>
 */
public final class GradMode {
    private static final ThreadLocal<Boolean> ENABLED = ThreadLocal.withInitial(() -> Boolean.TRUE);

    private GradMode() {}

    /** True if ops on this thread record the graph. */
    public static boolean isEnabled() {
        return ENABLED.get();
    }

    /** A scope in which nothing is recorded (PyTorch's {@code torch.no_grad()}). */
    public static Scope disable() {
        return set(false);
    }

    /** A scope with recording on or off. */
    public static Scope set(boolean enabled) {
        boolean previous = ENABLED.get();
        ENABLED.set(enabled);
        return new Scope(previous);
    }

    /** Restores the previous mode on close. */
    public static final class Scope implements AutoCloseable {
        private final boolean previous;
        private boolean closed;

        private Scope(boolean previous) {
            this.previous = previous;
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                ENABLED.set(previous);
            }
        }
    }
}

package ai.fulgur.ops;

/**
 * Where a tensor's storage lives: the host ({@link #CPU}) or one CUDA device by ordinal.
 *
 * @param kind  the kind of memory
 * @param index the device ordinal; always 0 for the CPU
 */
public record Device(Kind kind, int index) {

    /** The kinds of memory Fulgur has kernels for. */
    public enum Kind {
        CPU,
        CUDA
    }

    /** The host. */
    public static final Device CPU = new Device(Kind.CPU, 0);

    public Device {
        if (kind == null) {
            throw new IllegalArgumentException("device kind must not be null");
        }
        if (index < 0 || (kind == Kind.CPU && index != 0)) {
            throw new IllegalArgumentException("device index must be >= 0 (and 0 for the CPU), got " + kind + ":" + index);
        }
    }

    /** CUDA device number {@code index}. */
    public static Device cuda(int index) {
        return new Device(Kind.CUDA, index);
    }

    /** Parses {@code cpu}, {@code cuda}, {@code cuda:N} or {@code gpu:N}, the spellings users type. */
    public static Device parse(String text) {
        String s = text.trim().toLowerCase(java.util.Locale.ROOT);
        if (s.equals("cpu")) {
            return CPU;
        }
        for (String prefix : new String[] {"cuda", "gpu"}) {
            if (s.equals(prefix)) {
                return cuda(0);
            }
            if (s.startsWith(prefix + ":")) {
                try {
                    return cuda(Integer.parseInt(s.substring(prefix.length() + 1)));
                } catch (NumberFormatException e) {
                    break;
                }
            }
        }
        throw new IllegalArgumentException("unknown device '" + text + "', expected cpu, cuda, cuda:N or gpu:N");
    }

    public boolean isCpu() {
        return kind == Kind.CPU;
    }

    @Override
    public String toString() {
        return kind == Kind.CPU ? "cpu" : "cuda:" + index;
    }
}

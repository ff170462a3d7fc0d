package ai.fulgur.ops;

/**
 * Argument checks shared by the kernel facades. Every message names the op and describes each operand as
 * {@code name (shape) dtype device}, so a user sees what was passed and what was expected.
 */
public final class Checks {
    private Checks() {}

    /** {@code "a (2, 3) F32 cpu"}. */
    public static String describe(String name, Tensor t) {
        return name + " " + t.shape() + " " + t.dtype() + " " + t.device();
    }

    /** Fails unless both tensors are on the same device. */
    public static void sameDevice(String op, String nameA, Tensor a, String nameB, Tensor b) {
        if (!a.device().equals(b.device())) {
            throw new IllegalArgumentException(op + ": operands are on different devices: " + describe(nameA, a) + ", "
                    + describe(nameB, b) + "; move one with to(device)");
        }
    }

    /** Fails unless both tensors have the same dtype. */
    public static void sameDtype(String op, String nameA, Tensor a, String nameB, Tensor b) {
        if (a.dtype() != b.dtype()) {
            throw new IllegalArgumentException(op + ": dtype mismatch: " + describe(nameA, a) + ", " + describe(nameB, b)
                    + "; cast one operand first");
        }
    }

    /** Fails unless both tensors have the same shape. */
    public static void sameShape(String op, String nameA, Tensor a, String nameB, Tensor b) {
        if (!a.shape().equals(b.shape())) {
            throw new IllegalArgumentException(op + ": shape mismatch: " + describe(nameA, a) + ", " + describe(nameB, b));
        }
    }

    /** Fails unless {@code t} is floating. */
    public static void floating(String op, String name, Tensor t) {
        if (!t.dtype().isFloating()) {
            throw new IllegalArgumentException(op + ": " + describe(name, t) + " must be floating (F32, F64, BF16 or F16)");
        }
    }

    /** Fails unless {@code t} is I32 or I64. */
    public static void index(String op, String name, Tensor t) {
        if (t.dtype() != DType.I64 && t.dtype() != DType.I32) {
            throw new IllegalArgumentException(op + ": " + describe(name, t) + " must hold integer indices (I64 or I32)"
                    + (t.dtype().isFloating() ? "; cast float labels with cast(DType.I64)" : ""));
        }
    }

    /** Fails unless {@code t} has rank {@code rank}. */
    public static void rank(String op, String name, Tensor t, int rank) {
        if (t.rank() != rank) {
            throw new IllegalArgumentException(op + ": " + describe(name, t) + " must have rank " + rank);
        }
    }

    /** Fails unless {@code t} has rank at least {@code rank}. */
    public static void rankAtLeast(String op, String name, Tensor t, int rank) {
        if (t.rank() < rank) {
            throw new IllegalArgumentException(op + ": " + describe(name, t) + " must have rank >= " + rank);
        }
    }

    /** Fails unless {@code t} has shape {@code expected}. */
    public static void shape(String op, String name, Tensor t, Shape expected) {
        if (!t.shape().equals(expected)) {
            throw new IllegalArgumentException(op + ": " + describe(name, t) + " must have shape " + expected);
        }
    }

    /**
     * Fails unless every index in {@code index} lies in [0, size). Host tensors only: reading device indices back
     * would stall the stream, so CUDA kernels check bounds themselves and report through an error flag.
     */
    public static void indicesInRange(String op, String name, Tensor index, long size) {
        if (!index.device().isCpu()) {
            return;
        }
        long[] ids = index.toLongArray();
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= size) {
                throw new IndexOutOfBoundsException(op + ": " + name + "[" + i + "] = " + ids[i] + " is out of range [0, "
                        + size + ")");
            }
        }
    }
}

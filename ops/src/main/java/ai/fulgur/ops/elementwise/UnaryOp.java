package ai.fulgur.ops.elementwise;

/**
 * Element-wise functions of one input. The {@code *_SCALAR} members take a scalar parameter {@code s}, so that
 * {@code x + 2} needs no broadcast tensor. Comparisons with a scalar produce BOOL.
 */
public enum UnaryOp {
    NEG, ABS, SIGN, EXP, LOG, LOG1P, EXPM1, SQRT, RSQRT, SQUARE, RECIPROCAL,
    TANH, SIGMOID, RELU, ERF, SIN, COS, FLOOR, CEIL, ROUND, LOGICAL_NOT,
    /** x + s */ ADD_SCALAR,
    /** x * s */ MUL_SCALAR,
    /** s - x */ RSUB_SCALAR,
    /** s / x */ RDIV_SCALAR,
    /** x ^ s */ POW_SCALAR,
    /** s ^ x */ RPOW_SCALAR,
    /** max(x, s) */ MAX_SCALAR,
    /** min(x, s) */ MIN_SCALAR,
    EQ_SCALAR, NE_SCALAR, LT_SCALAR, LE_SCALAR, GT_SCALAR, GE_SCALAR;

    /** True if the result is BOOL whatever the input dtype. */
    public boolean isComparison() {
        return this == LOGICAL_NOT || ordinal() >= EQ_SCALAR.ordinal();
    }

    /** True if the op needs a floating result (exp of an integer gives a float, as in PyTorch). */
    public boolean needsFloat() {
        return switch (this) {
            case EXP, LOG, LOG1P, EXPM1, SQRT, RSQRT, RECIPROCAL, TANH, SIGMOID, ERF, SIN, COS, RDIV_SCALAR -> true;
            default -> false;
        };
    }
}

package ai.fulgur.ops.elementwise;

/** Element-wise functions of two (broadcast) inputs. Comparisons and logical ops produce BOOL. */
public enum BinaryOp {
    ADD, SUB, MUL, DIV, POW, MAX, MIN, MOD,
    EQ, NE, LT, LE, GT, GE, LOGICAL_AND, LOGICAL_OR, LOGICAL_XOR;

    /** True if the result is BOOL whatever the input dtypes. */
    public boolean isComparison() {
        return ordinal() >= EQ.ordinal();
    }
}

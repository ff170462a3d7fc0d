package ai.fulgur.ops.reduce;

/** Reductions over one or more axes. */
public enum ReduceOp {
    SUM, MEAN, MAX, MIN, PROD
}

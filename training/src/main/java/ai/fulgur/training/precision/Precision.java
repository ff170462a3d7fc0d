package ai.fulgur.training.precision;

import ai.djl.Device;
import ai.fulgur.autograd.Autocast;
import ai.fulgur.ops.DType;
import java.util.Locale;

/**
 * The numeric precision of a training run. Parameters, their gradients and the optimizer's moments are F32 in every
 * mode; the modes differ in what the forward and backward passes compute in:
 *
 * <pre>
 *   FP32   everything in F32
 *   BF16   GEMMs and attention in BF16 under {@link Autocast} (F32 accumulation), norms, softmax and loss in F32;
 *          BF16 has F32's exponent range, so no loss scaling is needed
 *   FP16   the same in F16, whose range ends at 65504: gradients underflow without a {@link LossScaler}, which
 *          this mode always uses
 * </pre>
 *
 * {@link #defaultFor} picks BF16 on a GPU (its tensor cores, and the FlashAttention kernels, which on the GPU exist
 * for BF16 and F16 only) and FP32 on the CPU (where half types are storage formats that only add conversions).
 */
public enum Precision {
    FP32(null),
    BF16(DType.BF16),
    FP16(DType.F16);

    private final DType computeType;

    Precision(DType computeType) {
        this.computeType = computeType;
    }

    /** The type the GEMMs and attention compute in: null for FP32 (no autocast). */
    public DType computeType() {
        return computeType;
    }

    /** True for FP16, whose gradients need a loss scaler. */
    public boolean needsLossScaling() {
        return this == FP16;
    }

    /** An autocast scope for the forward pass, or null for FP32 (try-with-resources accepts a null resource). */
    public Autocast.Scope autocast() {
        return computeType == null ? null : Autocast.enable(computeType);
    }

    /** The command-line spelling: fp32, bf16 or fp16. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** BF16 on a GPU, FP32 elsewhere. */
    public static Precision defaultFor(Device device) {
        return device != null && device.isGpu() ? BF16 : FP32;
    }

    /**
     * Parses fp32, bf16 or fp16 (case-insensitive).
     *
     * @throws IllegalArgumentException for anything else, naming the value and the choices
     */
    public static Precision parse(String s) {
        if (s != null) {
            for (Precision p : values()) {
                if (p.label().equals(s.toLowerCase(Locale.ROOT))) {
                    return p;
                }
            }
        }
        throw new IllegalArgumentException("precision must be fp32, bf16 or fp16, got '" + s + "'");
    }
}

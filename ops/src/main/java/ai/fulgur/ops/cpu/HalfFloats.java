package ai.fulgur.ops.cpu;

/** Conversions between float and the two 16-bit floating formats, rounding to nearest even as the GPUs do. */
public final class HalfFloats {
    private HalfFloats() {}

    /** bfloat16 bits to float: bf16 is the top half of an IEEE float. */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** Float to bfloat16 bits, round to nearest even; NaN stays NaN. */
    public static short floatToBf16(float f) {
        int x = Float.floatToRawIntBits(f);
        if ((x & 0x7fffffff) > 0x7f800000) {
            return (short) ((x >>> 16) | 0x0040); // quiet NaN, keep the sign
        }
        x += 0x7fff + ((x >>> 16) & 1);
        return (short) (x >>> 16);
    }

    /** IEEE binary16 bits to float. */
    public static float f16ToFloat(short bits) {
        return Float.float16ToFloat(bits);
    }

    /** Float to IEEE binary16 bits, round to nearest even. */
    public static short floatToF16(float f) {
        return Float.floatToFloat16(f);
    }

    /** Rounds a float to the nearest bfloat16 value, as storing and reloading it would. */
    public static float roundToBf16(float f) {
        return bf16ToFloat(floatToBf16(f));
    }

    /** Rounds a float to the nearest binary16 value, as storing and reloading it would. */
    public static float roundToF16(float f) {
        return f16ToFloat(floatToF16(f));
    }
}

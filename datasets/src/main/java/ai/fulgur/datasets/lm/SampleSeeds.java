package ai.fulgur.datasets.lm;

import java.util.SplittableRandom;

/**
 * The random stream of one sample, a pure function of (seed, sample number): a sample can be drawn again alone, in
 * any order, on any thread, which makes training resumable exactly and DJL's parallel prefetching deterministic.
 */
final class SampleSeeds {

    private SampleSeeds() {
    }

    /** @return the generator of sample {@code sample} under {@code seed} */
    static SplittableRandom random(long seed, long sample) {
        return new SplittableRandom(mix(seed, sample));
    }

    /** SplitMix64's finaliser over the seed and the sample number, so that neighbouring samples are unrelated. */
    static long mix(long seed, long sample) {
        long z = seed * 0xBF58476D1CE4E5B9L + (sample + 1) * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}

package ai.fulgur.inference.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.fulgur.training.gpt2.Gpt2Model;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * An unpaged beam search for tests: every step runs the plain forward over each beam's whole sequence (no cache at
 * all) and accumulates float64 log-probabilities; the rules are Hugging Face's with length_penalty 1.0 and
 * early_stopping=True, as {@link BeamSearch} documents them.
 */
final class ReferenceBeamSearch {
    /** A finished hypothesis: generated tokens, sum of log-probabilities, score = sum / length. */
    record Result(int[] tokens, double cumulative, double score) {
    }

    private record Beam(int[] tokens, double cumulative) {
    }

    private record Candidate(int beam, int token, double score) {
    }

    private ReferenceBeamSearch() {
    }

    static List<Result> search(Gpt2Model model, int[] prompt, int width, int maxTokens, int[] stops) {
        int context = model.getConfig().nPositions();
        List<Beam> beams = new ArrayList<>(List.of(new Beam(new int[0], 0)));
        List<Result> results = new ArrayList<>();
        while (true) {
            List<Candidate> candidates = new ArrayList<>();
            List<double[]> logprobs = new ArrayList<>();
            for (int b = 0; b < beams.size(); b++) {
                double[] lp = logSoftmax(lastLogits(model, concat(prompt, beams.get(b).tokens())));
                logprobs.add(lp);
                for (int v = 0; v < lp.length; v++) {
                    candidates.add(new Candidate(b, v, beams.get(b).cumulative() + lp[v]));
                }
            }
            candidates.sort(Comparator.comparingDouble(Candidate::score).reversed()
                    .thenComparingInt(Candidate::beam).thenComparingInt(Candidate::token));
            List<Beam> next = new ArrayList<>();
            for (int rank = 0; rank < 2 * width && next.size() < width; rank++) {
                Candidate c = candidates.get(rank);
                int[] tokens = append(beams.get(c.beam()).tokens(), c.token());
                if (Arrays.stream(stops).anyMatch(s -> s == c.token())) {
                    if (rank < width) {
                        add(results, new Result(tokens, c.score(), c.score() / tokens.length), width);
                    }
                } else {
                    next.add(new Beam(tokens, c.score()));
                }
            }
            int length = beams.getFirst().tokens().length + 1;
            boolean full = length >= maxTokens || prompt.length + length >= context;
            if (results.size() < width && full) {
                for (Beam b : next) {
                    add(results, new Result(b.tokens(), b.cumulative(), b.cumulative() / b.tokens().length), width);
                }
            }
            if (results.size() >= width || full || next.isEmpty()) {
                return results;
            }
            beams = next;
        }
    }

    private static void add(List<Result> results, Result r, int width) {
        results.add(r);
        results.sort(Comparator.comparingDouble(Result::score).reversed());
        if (results.size() > width) {
            results.removeLast();
        }
    }

    static float[] lastLogits(Gpt2Model model, int[] tokens) {
        try (NDManager m = model.getManager().newSubManager()) {
            NDArray logits = model.forward(m.create(tokens, new Shape(1, tokens.length)));
            return logits.get(new NDIndex("0, -1, :")).toFloatArray();
        }
    }

    static double[] logSoftmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float z : logits) {
            max = Math.max(max, z);
        }
        double sum = 0;
        for (float z : logits) {
            sum += Math.exp(z - max);
        }
        double[] lp = new double[logits.length];
        for (int i = 0; i < lp.length; i++) {
            lp[i] = logits[i] - max - Math.log(sum);
        }
        return lp;
    }

    static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    private static int[] append(int[] a, int token) {
        int[] c = Arrays.copyOf(a, a.length + 1);
        c[a.length] = token;
        return c;
    }
}

package ai.fulgur.cuda;

import ai.fulgur.ops.Backends;
import ai.fulgur.ops.Device;
import ai.fulgur.ops.Tensor;
import ai.fulgur.ops.attention.AttentionKernels;
import ai.fulgur.ops.attention.AttentionSpec;
import java.time.LocalDate;

/**
 * The Hopper (wgmma) FlashAttention forward against the mma.sync forward on the same inputs in the same run, BF16,
 * on {@link FlashAttentionBench}'s shapes (n = 512 … 16384, head dims 64 and 128, b·n = 16384 tokens, h·d = 2048,
 * causal and not) and with its counting (4·b·h·n²·d, halved when causal), median of event-timed repetitions after
 * warm-up. The mma.sync rows are timed with {@code fulgur.flash.hopper=false}, the cp.async Hopper rows with
 * {@code fulgur.flash.tma=false}, the TMA warp-specialised rows ({@link HopperTmaForward}) with
 * {@code fulgur.flash.tma=true}. Each row names the kernel that ran.
 * PyTorch's FLASH and cuDNN rows come from tools/bench/torch_attention.py. Run from the bundle:
 * {@code ... ai.fulgur.cuda.HopperFlashForwardBench [lengths...]}; prints one JSON object per line.
 */
public final class HopperFlashForwardBench {
    private HopperFlashForwardBench() {}

    public static void main(String[] args) {
        Device gpu = Device.cuda(0);
        CudaDevice device = CudaBackend.device(gpu);
        AttentionKernels attention = Backends.of(gpu).attention();
        for (FlashAttentionBench.Problem p : FlashAttentionBench.Problem.all(args)) {
            FlashAttentionBench.Operands x = FlashAttentionBench.Operands.random(p.b(), p.n(), p.h(), p.d(), gpu);
            Tensor q = x.q(), k = x.k(), v = x.v(), o = x.o(), lse = x.lse();
            AttentionSpec spec = p.spec();
            // mma.sync (hopper off), the cp.async Hopper forward (TMA off), the TMA warp-specialised forward
            String[][] variants = {{"flash_attention_fwd", "false", "false"},
                {"flash_attention_fwd_hopper", "true", "false"}, {"flash_attention_fwd_hopper_tma", "true", "true"}};
            for (String[] variant : variants) {
                System.setProperty("fulgur.flash.hopper", variant[1]);
                System.setProperty("fulgur.flash.tma", variant[2]);
                String kernel = CudaAttention.forwardKernel(q, k, v, spec);
                double ms = device.medianMillis(() -> attention.flashForward(o, lse, q, k, v, spec), 5, 20);
                System.out.printf("{\"name\": \"%s\", \"kernel\": \"%s\", \"parameters\": {\"n\": %d, \"d\": %d, "
                        + "\"b\": %d, \"h\": %d, \"causal\": %b, \"dtype\": \"bf16\"}, \"value\": %.1f, "
                        + "\"unit\": \"TFLOP/s\", \"ms\": %.4f, \"card\": \"%s\", \"date\": \"%s\"}%n",
                        variant[0], kernel, p.n(), p.d(), p.b(), p.h(), p.causal(),
                        p.forwardFlops() / (ms * 1e-3) / 1e12, ms, device.name(), LocalDate.now());
            }
            System.clearProperty("fulgur.flash.tma");
            System.clearProperty("fulgur.flash.hopper");
        }
    }
}

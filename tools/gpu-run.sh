#!/usr/bin/env bash
# One GPU-machine session's work, run from the repository root there (see the device notes in docs/PERF.md):
# unpack the bundle carried in .bundle/, run the gpu-tagged tests, the GEMM benchmark and its PyTorch baseline.
# Logs go to $OUT (or ./gpu-out). Usage: tools/gpu-run.sh [tests|bench|attention|train|serve|hopper|launch|all]
set -uo pipefail
what="${1:-all}"
out="${OUT:-$PWD/gpu-out}"
mkdir -p "$out" /tmp/fulgur-run
tar -C /tmp/fulgur-run -xJf .bundle/fulgur-*-linux-x86_64.tar.xz
tar -C /tmp/fulgur-run -xJf .bundle/fulgur-tests.tar.xz
f=/tmp/fulgur-run/fulgur
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$out/card.txt"
if [ "$what" = tests ] || [ "$what" = all ]; then
  "$f/bin/fulgur-gpu-tests" 2>&1 | tee "$out/gpu-tests.log" | grep -E "✘|tests (found|successful|failed|aborted)|MethodSource|=>" | head -80
fi
if [ "$what" = bench ] || [ "$what" = all ]; then
  "$f/runtime/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector \
    -cp "$f/lib/*:$f/tests/*" ai.fulgur.cuda.GemmBench 2>&1 | tee "$out/gemm-fulgur.jsonl"
  PYTHONUNBUFFERED=1 python3 tools/bench/torch_gemm.py 2>&1 | tee "$out/gemm-torch.jsonl"
  "$f/runtime/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector \
    -cp "$f/lib/*:$f/tests/*" ai.fulgur.cuda.LaunchBench 2>&1 | tee "$out/launch.jsonl"
  for mode in foreign jcuda; do
    "$f/runtime/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xmx32g \
      -Dfulgur.cuda.launch=$mode -cp "$f/lib/*:$f/tests/*" ai.fulgur.cuda.CudaOpsBench 2>&1 | tee "$out/ops-$mode.jsonl"
  done
fi
if [ "$what" = attention ] || [ "$what" = all ]; then
  # FlashAttention forward/backward TFLOP/s, then PyTorch SDPA (FLASH and cuDNN backends) on the same shapes
  "$f/runtime/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector \
    -cp "$f/lib/*:$f/tests/*" ai.fulgur.cuda.FlashAttentionBench 2>&1 | tee "$out/attention-fulgur.jsonl"
  PYTHONUNBUFFERED=1 python3 tools/bench/torch_attention.py 2>&1 | tee "$out/attention-torch.jsonl"
  # block-sparse against dense at n = 8192 (densities 100%, 50%, 25%, 10%)
  "$f/runtime/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector \
    -cp "$f/lib/*:$f/tests/*" ai.fulgur.cuda.BlockSparseAttentionBench 2>&1 | tee "$out/block-sparse.jsonl"
  # peak memory of one forward + backward: FlashAttention against naive attention, then PyTorch's math and FLASH
  "$f/runtime/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector \
    -cp "$f/lib/*:$f/tests/*" ai.fulgur.cuda.AttentionMemoryBench 2>&1 | tee "$out/attention-memory-fulgur.jsonl"
  PYTHONUNBUFFERED=1 python3 tools/bench/torch_attention_memory.py 2>&1 | tee "$out/attention-memory-torch.jsonl"
fi
if [ "$what" = train ] || [ "$what" = all ]; then
  # the default job (addition transformer, FlashAttention on CUDA) and the DJL MLP example, on the GPU
  "$f/bin/fulgur" train --device gpu --quiet 2>&1 | tee "$out/train-gpu.log" | tail -4
  "$f/bin/fulgur" train mlp --device gpu --quiet 2>&1 | tee "$out/train-mlp-gpu.log" | tail -2
fi
if [ "$what" = serve ]; then
  # serving on the GPU: a GPT-2 124M checkpoint (one training step from random weights, so both sides load the same
  # file), the load test (continuous vs static batching), then Hugging Face generate on the same checkpoint and
  # request distribution
  ckpt=/tmp/fulgur-run/ckpt-124m
  data="$(ls .bundle/tinyshakespeare.txt 2>/dev/null || ls ../shared/data/tinyshakespeare.txt)"
  "$f/bin/fulgur" train gpt2 --data "$data" --tokenizer gpt2 --preset 124m --steps 1 --batch 1 --block 64 \
    --precision fp32 --device gpu --save "$ckpt" > "$out/serve-ckpt.log" 2>&1 || tail -20 "$out/serve-ckpt.log"
  "$f/bin/fulgur" bench serve --checkpoint "$ckpt" --device gpu --rates 4,16,64 --requests 64 --prompt-min 32 \
    --prompt-max 256 --output-min 64 --output-max 128 --static-batch 8 --kv-memory-gib 8 --time-limit 120 \
    --dtype bf16 --json "$out/serve-fulgur.json" 2>&1 | tee "$out/serve-fulgur.log" | tail -12
  PYTHONUNBUFFERED=1 python3 tools/bench/hf_generate.py --checkpoint "$ckpt" --requests 64 --batch 8 \
    --prompt-min 32 --prompt-max 256 --output-min 64 --output-max 128 \
    --dtype bfloat16 2>&1 | tee "$out/serve-hf.jsonl" | tail -3
fi
if [ "$what" = hopper ]; then
  # the Hopper (wgmma) forward and backward: their tests and CudaAttentionTest, then the forward's benchmark against
  # the mma.sync forward (same run) and PyTorch SDPA (FLASH and cuDNN backends) on the same shapes; the backward's
  # figures come from `attention` (FlashAttentionBench times it beside the mma.sync backward)
  "$f/bin/fulgur-gpu-tests" --select-class ai.fulgur.cuda.HopperFlashForwardSelectionTest \
    --select-class ai.fulgur.cuda.HopperFlashForwardTest --select-class ai.fulgur.cuda.HopperFlashBackwardSelectionTest \
    --select-class ai.fulgur.cuda.HopperFlashBackwardTest --select-class ai.fulgur.cuda.CudaAttentionTest 2>&1 \
    | tee "$out/gpu-tests-hopper.log" | grep -E "✘|tests (found|successful|failed|aborted)|=>" | head -40
  "$f/runtime/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector \
    -cp "$f/lib/*:$f/tests/*" ai.fulgur.cuda.HopperFlashForwardBench 2>&1 | tee "$out/hopper-fwd.jsonl"
  PYTHONUNBUFFERED=1 python3 tools/bench/torch_attention.py 2>&1 | tee "$out/attention-torch.jsonl"
fi
if [ "$what" = launch ]; then
  # the launch paths (java.lang.foreign against JCuda): the memory-bound kernels' tests, the launch cost and whether a
  # short layer norm is host- or device-bound, then the memory-bound kernels against a copy, on each path
  "$f/bin/fulgur-gpu-tests" --select-class ai.fulgur.cuda.CudaNormTest --select-class ai.fulgur.cuda.CudaElementwiseTest \
    --select-class ai.fulgur.cuda.CudaLinalgTest 2>&1 | tee "$out/gpu-tests-launch.log" \
    | grep -E "✘|tests (found|successful|failed|aborted)|=>" | head -40
  "$f/runtime/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector \
    -cp "$f/lib/*:$f/tests/*" ai.fulgur.cuda.LaunchBench 2>&1 | tee "$out/launch.jsonl"
  for mode in foreign jcuda; do
    "$f/runtime/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xmx32g \
      -Dfulgur.cuda.launch=$mode -cp "$f/lib/*:$f/tests/*" ai.fulgur.cuda.CudaOpsBench 2>&1 | tee "$out/ops-$mode.jsonl"
  done
fi

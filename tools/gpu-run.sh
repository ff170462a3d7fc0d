#!/usr/bin/env bash
# One GPU-machine session's work, run from the repository root there (see the device notes in docs/PERF.md):
# unpack the bundle carried in .bundle/, run the gpu-tagged tests, the GEMM benchmark and its PyTorch baseline.
# Logs go to $OUT (or ./gpu-out). Usage: tools/gpu-run.sh [tests|bench|attention|train|all]
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
  for mode in packed params; do
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

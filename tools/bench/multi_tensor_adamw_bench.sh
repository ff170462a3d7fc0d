#!/usr/bin/env bash
# The multi-tensor AdamW work's device call (branch wip/adamw), in one command: the gpu tests of the multi-tensor AdamW
# and graph capture, GPT-2 124M bf16 B8 T1024 --cuda-graph with main's optimizer path (flags off) and this work, then the
# AdamW bandwidth rows (CudaOpsBench adamw); PyTorch torch.compile (mostly CPU) runs beside the tests, and the Fulgur
# benchmarks alone afterwards. Run from a folder holding the two bundle tars (tools/make-bundle.sh --with-tests) and
# torch_gpt2.py:  OUT=/tmp/out bash <folder>/multi_tensor_adamw_bench.sh
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${OUT:-/tmp/out}"
mkdir -p "$out" /tmp/fulgur-run
t0=$(date +%s)
stamp() { echo "$(( $(date +%s) - t0 ))s $*" >> "$out/times.txt"; }
tar -C /tmp/fulgur-run -xJf "$here"/fulgur-0.1.0-linux-x86_64.tar.xz
tar -C /tmp/fulgur-run -xJf "$here"/fulgur-tests.tar.xz
f=/tmp/fulgur-run/fulgur
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv >> "$out/times.txt"
card="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
stamp untarred
( stamp torch-start; PYTHONUNBUFFERED=1 timeout 90 python3 "$here"/torch_gpt2.py --seq 1024 --batch 8 --steps 20 \
    --warmup 10 > "$out/torch.log" 2>&1; stamp "torch-end rc=$?" ) &
tp=$!
JAVA_TOOL_OPTIONS=-Dfulgur.cuda.poisonUninitialized=true timeout 70 "$f/bin/fulgur-gpu-tests" \
  --select-class ai.fulgur.cuda.CudaMultiTensorAdamTest --select-class ai.fulgur.cuda.CudaOptimTest \
  --select-class ai.fulgur.cuda.CudaGraphTest --select-class ai.fulgur.cuda.AdamTensorTableTest \
  --select-class ai.fulgur.training.gpt2.Gpt2CudaGraphTest > "$out/tests.log" 2>&1
stamp "tests-end rc=$?"
grep -E "✘|tests (found|successful|failed|aborted)" "$out/tests.log" | head -30
wait $tp
jvm=("$f/runtime/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xmx48g
  -Dai.djl.offline=true -cp "$f/lib/*:$f/tests/*")
args=(--seq 1024 --batch 8 --steps 20 --warmup 10 --precision bf16 --cuda-graph --profile 3 --profile-shapes
  --profile-rows 40 --card "$card")
timeout 45 "${jvm[@]}" -Dfulgur.optim.multiTensor=false -Dfulgur.autograd.deferredZeroGrad=false \
  ai.fulgur.training.gpt2.Gpt2TrainingBench "${args[@]}" 2> "$out/profile-before.txt" | grep '^{' >> "$out/bench.jsonl"
stamp "gpt2-before-end"
timeout 45 "${jvm[@]}" ai.fulgur.training.gpt2.Gpt2TrainingBench "${args[@]}" 2> "$out/profile-after.txt" \
  | grep '^{' >> "$out/bench.jsonl"
stamp "gpt2-after-end"
grep '^{' "$out/torch.log" | tail -1 >> "$out/bench.jsonl"
timeout 35 "${jvm[@]}" -Xmx40g ai.fulgur.cuda.CudaOpsBench adamw > "$out/ops.jsonl" 2>&1
stamp "ops-end rc=$?"
cat "$out/times.txt"
cut -c1-400 "$out/bench.jsonl"
grep '^{' "$out/ops.jsonl" | cut -c1-330
grep -E "adam|fill|memcpy|ADD f32<-f32,f32 n=(768|2359296|38597376)|all profiled|window" "$out/profile-before.txt" "$out/profile-after.txt" | cut -c1-150

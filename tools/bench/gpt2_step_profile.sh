#!/usr/bin/env bash
# GPT-2 124M bf16 training step (B 8, T 1024) on one GPU, in one call: main's code path (this branch's GPU-time changes
# turned off by flags), the current code, and PyTorch torch.compile; each Fulgur run also profiles 3 more steps per
# kernel (KernelProfiler, element-wise rows split by shape) into profile-main.txt / profile-mine.txt. With TESTS=1 the
# gpu tests of the touched kernels run first with uninitialised outputs poisoned (NaN). Run from the directory holding
# the two bundle tars in $BUNDLE (tools/make-bundle.sh --with-tests); results go to $OUT (or ./gpu-out).
#   BUNDLE=.bundle OUT=/tmp/out TESTS=1 bash tools/bench/gpt2_step_profile.sh
set -uo pipefail
bundle="${BUNDLE:-.bundle}"
out="${OUT:-$PWD/gpu-out}"
mkdir -p "$out" /tmp/fulgur-run
tar -C /tmp/fulgur-run -xJf "$bundle"/fulgur-*-linux-x86_64.tar.xz
tar -C /tmp/fulgur-run -xJf "$bundle"/fulgur-tests.tar.xz
f=/tmp/fulgur-run/fulgur
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$out/card.txt"
card="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
if [ -n "${TESTS:-}" ]; then
  sel=""
  for t in cuda.KernelProfilerTest cuda.CudaPaddedMatmulTest cuda.UninitializedAllocationTest \
    cuda.CudaContiguousElementwiseTest 'cuda.PitchedCopyTest$OnTheGpu' cuda.CudaElementwiseTest cuda.CudaLinalgTest \
    cuda.CudaLinearTest cuda.CudaNormTest cuda.CudaLossTest cuda.CudaReduceTest cuda.CudaIndexingTest \
    cuda.CudaActivationTest cuda.CudaAttentionTest cuda.CudaOptimTest cuda.CudaRandomTest \
    training.gpt2.Gpt2GpuMixedPrecisionTest training.gpt2.Gpt2GpuTrainingTest; do
    sel="$sel --select-class ai.fulgur.$t"; done
  JAVA_TOOL_OPTIONS=-Dfulgur.cuda.poisonUninitialized=true "$f/bin/fulgur-gpu-tests" $sel > "$out/gpu-tests.log" 2>&1
  grep -E "✘|tests (found|successful|failed|aborted)" "$out/gpu-tests.log" | head -40
fi
java() {
  "$f/runtime/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xmx48g \
    -Dai.djl.offline=true -cp "$f/lib/*:$f/tests/*" "$@"
}
args="--seq 1024 --batch 8 --steps 20 --warmup 10 --precision bf16 --profile 3 --profile-shapes --profile-rows 60"
# main's path: zero-filled outputs, the unpadded vocabulary head, the generic element-wise kernels
java -Dfulgur.cuda.zeroUninitialized=true -Dfulgur.cuda.padMisalignedMacs=9223372036854775807 \
  -Dfulgur.cuda.contiguousFastPaths=false \
  ai.fulgur.training.gpt2.Gpt2TrainingBench $args --card "$card" > "$out/bench.jsonl" 2> "$out/profile-main.txt"
java ${MINE_FLAGS:-} ai.fulgur.training.gpt2.Gpt2TrainingBench $args --card "$card" >> "$out/bench.jsonl" \
  2> "$out/profile-mine.txt"
PYTHONUNBUFFERED=1 python3 tools/bench/torch_gpt2.py --seq 1024 --batch 8 --steps 20 --warmup 10 >> "$out/bench.jsonl" \
  2> "$out/torch.err"
cat "$out/bench.jsonl"
grep -v '^WARN' "$out/profile-mine.txt" | tail -64

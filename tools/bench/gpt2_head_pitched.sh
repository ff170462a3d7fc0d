#!/usr/bin/env bash
# (Kept as it ran in the device call of docs/PERF.md "Vocabulary head without padding copies": copied with the two
# bundle tars and shared/data/tinyshakespeare.txt into a carried folder two levels below the repository root, e.g.
# .gpu/lmhead, and run as `cd .gpu/lmhead && bash gpt2_head_pitched.sh`; torch_gpt2.py is read from tools/bench.)
# lmhead call 2: the head GEMM layouts with this work's split (PitchedGemmBench), the gpu tests of the touched kernels
# (outputs poisoned), the GPT-2 GPU tests (default threshold, then every misaligned product pitched), the replayed
# GPT-2 124M bf16 B8 step with the change off (-Dfulgur.cuda.pitchedOperands=false: main's padded copies) and on,
# PyTorch torch.compile, then a profiled run (on) and the tinyshakespeare GPU test if time is left.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${OUT:-/tmp/out}"
mkdir -p "$out" /tmp/fulgur-run
tar -C /tmp/fulgur-run -xJf "$here"/fulgur-0.1.0-linux-x86_64.tar.xz
tar -C /tmp/fulgur-run -xJf "$here"/fulgur-tests.tar.xz
f=/tmp/fulgur-run/fulgur
card="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$out/card.txt"
jvm=("$f/runtime/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xmx48g
  -Dai.djl.offline=true -cp "$f/lib/*:$f/tests/*")
torchpy="$here/../../tools/bench/torch_gpt2.py"
cd "$here"
t0=$SECONDS
echo "== PitchedGemmBench"
timeout 40 "${jvm[@]}" ai.fulgur.cuda.PitchedGemmBench 2>&1 | tee "$out/gemm.jsonl" | grep gpt2_head_gemm \
  | python3 -c "import sys,json
for l in sys.stdin:
  r=json.loads(l); print(f\"{r['gemm']:11s} {r['layout']:26s} {r['m']}x{r['n']}x{r['k']} {r['ms']:.3f} ms {r['tflops']:.0f} TFLOP/s\")"
echo "gemm done at $((SECONDS-t0)) s"
sel=""
for t in cuda.CudaPitchedMatmulTest cuda.CudaPitchedLossTest cuda.CudaPaddedMatmulTest cuda.CudaLossTest \
  cuda.CudaLinalgTest cuda.CudaLinearTest training.gpt2.Gpt2GpuMixedPrecisionTest; do sel="$sel --select-class ai.fulgur.$t"; done
JAVA_TOOL_OPTIONS=-Dfulgur.cuda.poisonUninitialized=true timeout 45 "$f/bin/fulgur-gpu-tests" $sel > "$out/gpu-tests.log" 2>&1
grep -E "✘|tests (successful|failed|aborted)|=>" "$out/gpu-tests.log" | head -30
JAVA_TOOL_OPTIONS="-Dfulgur.cuda.poisonUninitialized=true -Dfulgur.cuda.padMisalignedMacs=1" timeout 25 \
  "$f/bin/fulgur-gpu-tests" --select-class ai.fulgur.training.gpt2.Gpt2GpuMixedPrecisionTest > "$out/gpu-tests-pitched.log" 2>&1
grep -E "✘|tests (successful|failed|aborted)|=>" "$out/gpu-tests-pitched.log" | head -10
echo "tests done at $((SECONDS-t0)) s"
args="--seq 1024 --batch 8 --steps 20 --warmup 10 --precision bf16 --cuda-graph --card"
timeout 35 "${jvm[@]}" -Dfulgur.cuda.pitchedOperands=false ai.fulgur.training.gpt2.Gpt2TrainingBench $args "$card" \
  > "$out/graph-off.log" 2>&1
grep '^{' "$out/graph-off.log" | tail -1 | tee "$out/rows.jsonl"
timeout 35 "${jvm[@]}" ai.fulgur.training.gpt2.Gpt2TrainingBench $args "$card" > "$out/graph-on.log" 2>&1
grep '^{' "$out/graph-on.log" | tail -1 | tee -a "$out/rows.jsonl"
echo "graph runs done at $((SECONDS-t0)) s"
PYTHONUNBUFFERED=1 timeout 75 python3 "$torchpy" --seq 1024 --batch 8 --steps 20 --warmup 10 > "$out/torch.log" 2>&1
grep '^{' "$out/torch.log" | tail -1 | tee -a "$out/rows.jsonl"
echo "torch done at $((SECONDS-t0)) s"
left=$((190 - (SECONDS - t0)))
if [ $left -gt 15 ]; then
  timeout $left "${jvm[@]}" ai.fulgur.training.gpt2.Gpt2TrainingBench --seq 1024 --batch 8 --steps 10 --warmup 5 \
    --precision bf16 --profile 2 --profile-shapes --profile-rows 40 --card "$card" > "$out/bench.jsonl" 2> "$out/profile.txt"
  grep -v '^WARN' "$out/profile.txt" | grep -E "cublasLt bf16 .*50|copy_f32 .*n=41|crossentropy|all profiled" | head -20
fi
left=$((192 - (SECONDS - t0)))
if [ $left -gt 20 ]; then
  timeout $left "$f/bin/fulgur-gpu-tests" --select-class ai.fulgur.training.gpt2.Gpt2GpuTrainingTest > "$out/gpu-tests-tiny.log" 2>&1
  grep -E "✘|tests (successful|failed|aborted)|=>" "$out/gpu-tests-tiny.log" | head -10
fi
echo "all done at $((SECONDS-t0)) s"

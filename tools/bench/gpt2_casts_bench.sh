#!/usr/bin/env bash
# The casts work (fewer F32<->BF16 casts and copies in the GPT-2 bf16 step) on one GPU, in one call. Parts, in order:
#   tests    the gpu tests of the changed paths and the GPT-2 GPU training tests, uninitialised outputs poisoned (NaN)
#   profile  GPT-2 124M bf16 B 8 T 1024: per-kernel profile (3 steps) with every change off (BEFORE flags), with the
#            defaults (after), and with the defaults plus the half-output layer norm (after-ln, off by default)
#   graph    the same step, --cuda-graph replay, in the same three variants, then PyTorch torch.compile (torch_gpt2.py)
# Run from a folder holding the two bundle tars (tools/make-bundle.sh --with-tests), torch_gpt2.py and, for
# Gpt2GpuTrainingTest, tinyshakespeare.txt:  OUT=/tmp/out bash <folder>/gpt2_casts_bench.sh tests profile graph
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${OUT:-/tmp/out}"
mkdir -p "$out" /tmp/fulgur-run
tar -C /tmp/fulgur-run -xJf "$here"/fulgur-*-linux-x86_64.tar.xz
tar -C /tmp/fulgur-run -xJf "$here"/fulgur-tests.tar.xz
f=/tmp/fulgur-run/fulgur
card="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$out/card.txt"
# every change of this work turned off: the step as on main
BEFORE="-Dfulgur.attention.packed=false -Dfulgur.autograd.deferredZeroGrad=false -Dfulgur.grad.castIntoLeaf=false
  -Dfulgur.autocast.wideningAdd=false -Dfulgur.djl.duplicateGradients=true -Dfulgur.autocast.halfReaderOutput=false
  ${EXTRA_BEFORE:-}"
LN="-Dfulgur.autocast.halfReaderOutput=true"
VARIANTS="${VARIANTS:-before after after-ln}"
flags_of() { case "$1" in before) echo "$BEFORE" ;; after-ln) echo "$LN" ;; *) echo "" ;; esac; }
jvm=("$f/runtime/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xmx48g
  -Dai.djl.offline=true -cp "$f/lib/*:$f/tests/*")
args=(--seq 1024 --batch 8 --steps 20 --warmup 10 --precision bf16 --card "$card")
for part in "$@"; do
  case "$part" in
    tests)
      sel=""
      for t in 'training.nn.PackedAttentionTest$OnTheGpu' cuda.CudaWideningAddTest training.nn.FlashAttentionGpuTest \
        cuda.CudaLayerNormHalfTypesTest \
        ${EXTRA_TESTS:-} training.gpt2.Gpt2GpuMixedPrecisionTest training.gpt2.Gpt2GpuTrainingTest \
        training.gpt2.Gpt2CudaGraphTest; do
        sel="$sel --select-class ai.fulgur.$t"; done
      JAVA_TOOL_OPTIONS="-Dfulgur.cuda.poisonUninitialized=true $LN -Dfulgur.tinyshakespeare=$here/tinyshakespeare.txt" \
        timeout "${TESTS_S:-150}" "$f/bin/fulgur-gpu-tests" $sel > "$out/gpu-tests.log" 2>&1
      grep -E "✘|tests (found|successful|failed|aborted)|vs CPU|vs eager|expected:|Error" "$out/gpu-tests.log" \
        | head -40 ;;
    profile)
      for mode in $VARIANTS; do
        flags="$(flags_of "$mode")"
        echo "== profile $mode"
        timeout "${PROFILE_S:-90}" "${jvm[@]}" $flags ai.fulgur.training.gpt2.Gpt2TrainingBench "${args[@]}" \
          --profile 3 --profile-shapes --profile-rows 80 > "$out/profile-$mode.jsonl" 2> "$out/profile-$mode.txt"
        grep '^{' "$out/profile-$mode.jsonl" | tail -1
        grep -E "all profiled work|^window" "$out/profile-$mode.txt"
      done ;;
    graph)
      for mode in $VARIANTS; do
        flags="$(flags_of "$mode")"
        echo "== --cuda-graph $mode"
        timeout "${GRAPH_S:-90}" "${jvm[@]}" $flags ai.fulgur.training.gpt2.Gpt2TrainingBench "${args[@]}" \
          --cuda-graph 2>&1 | tee "$out/graph-$mode.log" | grep '^{' | tail -1 | tee -a "$out/rows.jsonl"
      done
      echo "== PyTorch torch.compile"
      PYTHONUNBUFFERED=1 timeout "${TORCH_S:-150}" python3 "$here"/torch_gpt2.py --seq 1024 --batch 8 --steps 20 \
        --warmup 10 2>&1 | tee "$out/torch.log" | grep '^{' | tail -1 | tee -a "$out/rows.jsonl" ;;
    *) echo "unknown part $part (tests, profile, graph)" ;;
  esac
done

#!/usr/bin/env bash
# GPT-2 124M training on one GPU, Fulgur against PyTorch in one call, plus peak memory of FlashAttention against the
# composed (naive) attention at sequence 1k, 4k, 8k. Run from the directory holding the two bundle tars in $BUNDLE
# (default .bundle): tools/make-bundle.sh --with-tests. Rows go to $OUT (or ./gpu-out).
#   BUNDLE=.bundle OUT=/tmp/out bash tools/bench/gpt2_training_bench.sh [tests] [throughput] [bert] [memory] [parity]
# MEMORY_SEQS picks the memory runs' sequence lengths (default 1024 4096 8192 16384); parity trains GPT-2 124M on
# tinyshakespeare ($DATA, default ../shared/data/tinyshakespeare.txt) in fp32 and bf16 and compares validation losses.
set -uo pipefail
bundle="${BUNDLE:-.bundle}"
out="${OUT:-$PWD/gpu-out}"
what="${*:-tests throughput memory}"
batch="${BATCH:-8}"
steps="${STEPS:-20}"
warmup="${WARMUP:-10}" # the JIT compiles the step's Java code over the first steps
home="${FULGUR_RUN:-/tmp/fulgur-run}" # UNPACKED=1: the bundle is already unpacked there (several calls, one unpack)
mkdir -p "$out" "$home"
if [ "${UNPACKED:-0}" != 1 ]; then
  tar -C "$home" -xJf "$bundle"/fulgur-*-linux-x86_64.tar.xz
  tar -C "$home" -xJf "$bundle"/fulgur-tests.tar.xz
fi
f="$home/fulgur"
card="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$out/card.txt"
java() {
  "$f/runtime/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xmx48g \
    -Dai.djl.offline=true -cp "$f/lib/*:$f/tests/*" "$@"
}
if [[ " $what " == *" tests "* ]]; then
  # Gpt2GpuTrainingTest reads tinyshakespeare from shared/data/ above the working directory (else it is skipped)
  if [ -n "${DATA:-}" ] && [ -f "$DATA" ] && [ ! -f shared/data/tinyshakespeare.txt ]; then
    mkdir -p shared/data && cp "$DATA" shared/data/tinyshakespeare.txt
  fi
  "$f/bin/fulgur-gpu-tests" --select-class ai.fulgur.training.gpt2.Gpt2GpuMixedPrecisionTest \
    --select-class ai.fulgur.training.gpt2.Gpt2GpuTrainingTest --select-class 'ai.fulgur.cuda.CachingAllocatorTest$OnTheGpu' \
    --select-class ai.fulgur.training.optim.GradientClippingGpuTest 2>&1 | tee "$out/gpu-tests.log" \
    | grep -E "✘|✔|tests (found|successful|failed|aborted)|follow|skipped|=>" | head -40
fi
if [[ " $what " == *" throughput "* ]]; then
  # the allocator's collection policy: default (0.8 of the card), and adaptive from 0 with a headroom of 1
  for gc in "-Dfulgur.cuda.gcThreshold=0.8" "-Dfulgur.cuda.gcThreshold=0 -Dfulgur.cuda.gcHeadroom=1"; do
    echo "== Fulgur GPT-2 124M, bf16, T=1024, B=$batch, $gc"
    java $gc ai.fulgur.training.gpt2.Gpt2TrainingBench --seq 1024 --batch "$batch" \
      --steps "$steps" --warmup "$warmup" --precision bf16 --card "$card" --phases 2>&1 | tee -a "$out/rows.jsonl" \
      | grep -v '^WARN' | tail -3
  done
  echo "== PyTorch GPT-2 124M, bf16, T=1024, B=$batch, torch.compile"
  PYTHONUNBUFFERED=1 python3 tools/bench/torch_gpt2.py --seq 1024 --batch "$batch" --steps "$steps" --warmup "$warmup" \
    2>&1 | tee -a "$out/rows.jsonl" | tail -3
fi
if [[ " $what " == *" bert "* ]]; then
  echo "== Fulgur BERT-base MLM, bf16, T=512, B=${BERT_BATCH:-16}: eager, then the step replayed as a CUDA graph"
  for graph in "" --cuda-graph; do
    java ai.fulgur.training.bert.BertTrainingBench --seq 512 --batch "${BERT_BATCH:-16}" --steps "$steps" \
      --warmup "$warmup" --precision bf16 --card "$card" $graph 2>&1 | tee -a "$out/bert.jsonl" | grep '^{' | tail -1
  done
  echo "== PyTorch BERT-base MLM, bf16, T=512, B=${BERT_BATCH:-16}, torch.compile"
  PYTHONUNBUFFERED=1 python3 tools/bench/torch_bert.py --seq 512 --batch "${BERT_BATCH:-16}" --steps "$steps" \
    --warmup "$warmup" 2>&1 | tee -a "$out/bert.jsonl" | tail -1
fi
if [[ " $what " == *" memory "* ]]; then
  for seq in ${MEMORY_SEQS:-1024 4096 8192 16384}; do
    echo "== memory T=$seq B=1: flash, then composed"
    # gcThreshold 0: the allocator collects garbage as it grows, so the peak stays within ~25% of the live peak
    java -Dfulgur.cuda.gcThreshold=0 ai.fulgur.training.gpt2.Gpt2TrainingBench --seq "$seq" --batch 1 --steps 2 \
      --warmup 1 --precision bf16 --card "$card" 2>&1 | tee -a "$out/memory.jsonl" | grep '^{' | tail -1
    # the composed attention runs out of memory from 8k on; a time limit keeps a slow failure from holding the card
    timeout "${COMPOSED_TIMEOUT:-180}" "$f/runtime/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xmx48g \
      -Dai.djl.offline=true -cp "$f/lib/*:$f/tests/*" \
      -Dfulgur.cuda.gcThreshold=0 -Dfulgur.attention=composed ai.fulgur.training.gpt2.Gpt2TrainingBench \
      --seq "$seq" --batch 1 --steps 2 --warmup 1 --precision bf16 --card "$card" 2>&1 | tee -a "$out/memory.jsonl" \
      | grep '^{' | tail -1
    PYTHONUNBUFFERED=1 python3 tools/bench/torch_gpt2.py --seq "$seq" --batch 1 --steps 2 --warmup 1 --no-compile \
      2>&1 | tee -a "$out/memory.jsonl" | tail -1
  done
fi
if [[ " $what " == *" parity "* ]]; then
  echo "== GPT-2 124M on tinyshakespeare, fp32 then bf16: validation loss"
  java ai.fulgur.training.gpt2.Gpt2PrecisionParityBench --data "${DATA:-../shared/data/tinyshakespeare.txt}" \
    --steps "${PARITY_STEPS:-300}" --batch 8 --seq 256 --card "$card" 2>&1 | tee -a "$out/parity.jsonl" \
    | grep -E '^\{|validation loss' | tail -8
fi

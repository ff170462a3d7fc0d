#!/usr/bin/env bash
# Data parallelism on a GPU machine with two (or more) GPUs: the NCCL gpu tests, GPT-2 124M training throughput on one
# GPU against two GPUs with the all-reduce after the backward and overlapped with it, the loss of two ranks against one
# with the same global batch, and the tiny GPT-2 run through `fulgur train --gpus N`. Run from the directory holding
# the two bundle tars in $BUNDLE (tools/make-bundle.sh --with-tests); $DATA is a text corpus for the tiny run.
#   BUNDLE=.bundle OUT=/tmp/out DATA=tinyshakespeare.txt bash tools/bench/gpt2_data_parallel_bench.sh \
#     [tests] [tiny] [throughput] [equality] [repeat]
# (repeat: the after-backward run's first losses once more, with NCCL's INFO log: how far two identical GPU runs
# differ, since the embedding and attention backward kernels add with atomics in no fixed order)
set -uo pipefail
bundle="${BUNDLE:-.bundle}"
out="${OUT:-$PWD/gpu-out}"
what="${*:-tests tiny throughput equality repeat}"
batch="${BATCH:-8}"     # per GPU
steps="${STEPS:-20}"
warmup="${WARMUP:-10}"  # the JIT compiles the step's Java code over the first steps
mkdir -p "$out" /tmp/fulgur-run
tar -C /tmp/fulgur-run -xJf "$bundle"/fulgur-*-linux-x86_64.tar.xz
tar -C /tmp/fulgur-run -xJf "$bundle"/fulgur-tests.tar.xz
f=/tmp/fulgur-run/fulgur
card="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$out/card.txt"
nvidia-smi topo -m > "$out/topo.txt" 2>&1
java() {
  "$f/runtime/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -Xmx48g \
    -Dai.djl.offline=true -cp "$f/lib/*:$f/tests/*" "$@"
}
# one process per rank: dp TAG RANKS MODE BATCH_PER_GPU WARMUP STEPS CHECK [more bench options]
dp() {
  local tag=$1 ranks=$2 mode=$3 b=$4 w=$5 s=$6 check=$7
  shift 7
  local rdv; rdv="$(mktemp -d)/rendezvous"
  echo "== $tag: $ranks GPU(s), mode $mode, B=$b per GPU, T=1024, bf16"
  for ((r = 0; r < ranks; r++)); do
    java ai.fulgur.training.gpt2.Gpt2DataParallelBench --rank "$r" --ranks "$ranks" --rendezvous "$rdv" \
      --mode "$mode" --seq 1024 --batch "$b" --warmup "$w" --steps "$s" --check "$check" --card "$card" "$@" \
      > "$out/dp-$tag-rank$r.log" 2>&1 &
  done
  wait
  # the row may follow NCCL's log on the same line
  grep -ho '{"bench".*}' "$out/dp-$tag-rank0.log" | sed "s/^{/{\"run\": \"$tag\", /" | tee -a "$out/dp.jsonl" \
    || tail -20 "$out/dp-$tag-rank0.log"
}
if [[ " $what " == *" tests "* ]]; then
  "$f/bin/fulgur-gpu-tests" --select-class ai.fulgur.cuda.NcclCommunicatorTest 2>&1 | tee "$out/gpu-tests.log" \
    | grep -E "✘|✔|tests (found|successful|failed|aborted)|\[nccl\]|=>" | head -30
fi
if [[ " $what " == *" tiny "* ]]; then
  data="${DATA:-tinyshakespeare.txt}"
  # fp32: the tiny preset's head dimension (32) has no bf16 FlashAttention kernel (built: 64 and 128)
  for g in "--gpus 1" "--gpus 2" "--gpus 2 --no-overlap"; do
    echo "== fulgur train gpt2 --preset tiny $g"
    "$f/bin/fulgur" train gpt2 --data "$data" --tokenizer gpt2 --preset tiny --block 64 --steps 60 --batch 16 \
      --eval-every 30 --lr 3e-3 --seed 1 --precision fp32 $g 2>&1 | tee "$out/tiny-${g// /_}.log" \
      | grep -E "data parallel|step +(30|60)|validation|eval|Error|rror|Exception|at ai" | head -30
  done
fi
if [[ " $what " == *" throughput "* ]]; then
  dp single 1 overlap "$batch" "$warmup" "$steps" 4 --phases
  dp after 2 after "$batch" "$warmup" "$steps" 4 --phases
  dp overlap 2 overlap "$batch" "$warmup" "$steps" 4 --phases
fi
if [[ " $what " == *" equality "* ]]; then
  # the global batch of the one-GPU run above (B rows), split over two ranks: its first losses must match
  dp equal-overlap 2 overlap $((batch / 2)) 4 0 4
fi
if [[ " $what " == *" repeat "* ]]; then
  NCCL_DEBUG=INFO dp after-again 2 after "$batch" 4 0 4
fi

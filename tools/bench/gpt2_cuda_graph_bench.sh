#!/usr/bin/env bash
# CUDA graph replay of the training step on one GPU: the gpu tests of the capture (CudaGraphTest, Gpt2CudaGraphTest),
# then GPT-2 124M bf16 T=1024 at B=4 and 8, eager against --cuda-graph, then PyTorch (torch.compile) at the same B.
# Run from a folder holding the two bundle tars (tools/make-bundle.sh --with-tests) and torch_gpt2.py, e.g. copied
# together into a carried folder:  OUT=/tmp/out bash <folder>/gpt2_cuda_graph_bench.sh tests|bench|all
set -uo pipefail
what="${1:-all}"
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
if [[ "$what" == tests || "$what" == all ]]; then
  timeout 200 "$f/bin/fulgur-gpu-tests" ${TESTS:---select-class ai.fulgur.cuda.CudaGraphTest \
    --select-class ai.fulgur.training.gpt2.Gpt2CudaGraphTest} 2>&1 | tee "$out/gpu-tests.log" \
    | grep -E "✘|✔|tests (found|successful|failed|aborted)|CUDA graph vs|=>|Exception|expected" | head -60
fi
if [[ "$what" == cli ]]; then
  # fulgur train gpt2 end to end, eager then --cuda-graph: GPT-2 small preset (head dim 64), bf16, a generated text
  python3 -c "import random; r=random.Random(1); w='to be or not that is the question whether tis nobler in mind suffer slings arrows outrageous fortune'.split(); print('\n'.join(' '.join(r.choice(w) for _ in range(12)) for _ in range(20000)))" > /tmp/corpus.txt
  for g in "" "--cuda-graph"; do
    echo "== fulgur train gpt2 --preset small --block 128 --batch 16 --steps 60 --precision bf16 --device gpu $g"
    timeout 150 "$f/bin/fulgur" train gpt2 --data /tmp/corpus.txt --preset small --block 128 --batch 16 --steps 60 \
      --eval-every 30 --precision bf16 --device gpu $g 2>&1 | tee -a "$out/cli.log" | grep -v "^WARN" | tail -12
  done
fi
if [[ "$what" == bench || "$what" == all ]]; then
  for b in ${BATCHES:-4 8}; do
    for g in "" "--cuda-graph"; do
      echo "== Fulgur GPT-2 124M bf16 T=1024 B=$b $g"
      timeout 150 "${jvm[@]}" ai.fulgur.training.gpt2.Gpt2TrainingBench --seq 1024 --batch "$b" --steps 20 --warmup 10 \
        --precision bf16 --card "$card" $g 2>&1 | tee -a "$out/bench.log" | grep '^{' | tail -1 | tee -a "$out/rows.jsonl"
    done
  done
  if [[ -z "${NO_TORCH:-}" ]]; then
    for b in ${BATCHES:-4 8}; do
      echo "== PyTorch GPT-2 124M bf16 T=1024 B=$b torch.compile"
      PYTHONUNBUFFERED=1 timeout 200 python3 "$here"/torch_gpt2.py --seq 1024 --batch "$b" --steps 20 --warmup 10 \
        2>&1 | tee -a "$out/torch.log" | grep '^{' | tail -1 | tee -a "$out/rows.jsonl"
    done
  fi
fi

#!/usr/bin/env bash
# One GPU-machine call for the TMA Hopper forward (docs/PERF.md, "Hopper forward with TMA"): unpack the bundle found
# beside this script (or in DIR), run the Hopper forward tests, HopperFlashForwardBench (mma.sync, cp.async Hopper and
# TMA Hopper forwards on the same inputs) and PyTorch SDPA's forward on the same shapes, then print the table.
# Usage: bash hopper_tma_run.sh [tests|bench|memcheck|all] [DIR]; logs go to $OUT (or ./gpu-out). "all" runs the three,
# memcheck (compute-sanitizer on HopperTmaForwardTest's forward cases) last.
set -uo pipefail
what="${1:-all}"
here="${2:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
out="${OUT:-$PWD/gpu-out}"
mkdir -p "$out" /tmp/fulgur-run
tar -C /tmp/fulgur-run -xJf "$here"/fulgur-*-linux-x86_64.tar.xz
tar -C /tmp/fulgur-run -xJf "$here"/fulgur-tests.tar.xz
f=/tmp/fulgur-run/fulgur
# newer cuda jars beside the bundle (a rebuilt module, without repacking the whole bundle) replace the packed ones
[ -f "$here/fulgur-cuda-0.1.0-SNAPSHOT.jar" ] && cp "$here/fulgur-cuda-0.1.0-SNAPSHOT.jar" "$f/lib/"
[ -f "$here/fulgur-cuda-tests.jar" ] && cp "$here/fulgur-cuda-tests.jar" "$f/tests/"
java=("$f/runtime/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector)
classes=(--select-class ai.fulgur.cuda.HopperTmaForwardTest --select-class ai.fulgur.cuda.HopperTmaForwardSelectionTest
  --select-class ai.fulgur.cuda.TensorMapLayoutTest --select-class ai.fulgur.cuda.HopperFlashForwardTest
  --select-class ai.fulgur.cuda.HopperFlashForwardSelectionTest --select-class ai.fulgur.cuda.CudaAttentionTest)
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$out/card.txt"
if [ "$what" = tests ] || [ "$what" = all ]; then
  timeout 90 "$f/bin/fulgur-gpu-tests" "${classes[@]}" 2>&1 | tee "$out/tests.log" \
    | grep -E "✘|✔|tests (found|successful|failed|aborted)|=>|Exception" | head -60
fi
if [ "$what" = bench ] || [ "$what" = all ]; then
  timeout 70 "${java[@]}" -cp "$f/lib/*:$f/tests/*" ai.fulgur.cuda.HopperFlashForwardBench 2>&1 | tee "$out/bench.jsonl" \
    | grep -v '^{' | head -20
  PYTHONUNBUFFERED=1 timeout 60 python3 "$here/torch_attention.py" --forward-only > "$out/torch.jsonl" 2>&1
  python3 "$here/hopper_forward_table.py" "$out/bench.jsonl" "$out/torch.jsonl" | tee "$out/table.md"
fi
if [ "$what" = memcheck ] || [ "$what" = all ]; then
  cs="$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)"
  cp="$(ls "$f"/lib/*.jar "$f"/tests/fulgur-*-tests.jar | tr '\n' ':')"
  timeout "${MEMCHECK_SECONDS:-100}" "$cs" --tool memcheck --target-processes all "${java[@]}" -Dai.djl.offline=true -Xmx16g \
    -jar "$f"/tests/junit-platform-console-standalone-*.jar execute --class-path "$cp" --disable-banner \
    --details=summary --select-method 'ai.fulgur.cuda.HopperTmaForwardTest#forwardMatchesCpu' 2>&1 | tee "$out/memcheck.log" | tail -25
fi

#!/usr/bin/env bash
# Fulgur's cuBLASLt GEMM against torch.matmul, alternating the two in one device call (J P J P J P ...) so that
# clock, thermal and neighbour drift hit both alike; both use the methodology in GemmBench's and torch_gemm.py's
# headers (20 warm-up calls, samples of 10 back-to-back calls, median of >= 30 samples, no L2 flush).
# Then a summary per (dtype, n): the median of each engine's per-round medians, its spread, and the ratio.
#
# Run from the repository root on the GPU machine, with the bundle carried in .bundle/ (as tools/gpu-run.sh), or
# with FULGUR_HOME pointing at an unpacked bundle whose tests are unpacked over it.
# Settings (environment): ROUNDS (3), SIZES ("4096 8192"), DTYPES (bf16), SAMPLES (50), JAVA_OPTS (e.g.
# -Dfulgur.cublaslt.autotune=false), TORCH_ARGS (e.g. "--blas cublaslt"), CUBLASLT_WORKSPACE_SIZE in KiB (32768:
# both engines read it), OUT (./gpu-out).
# Output: $OUT/gemm-compare.jsonl (every row), $OUT/gemm-compare-summary.txt and .json.
set -euo pipefail
rounds="${ROUNDS:-3}"
sizes="${SIZES:-4096 8192}"
dtypes="${DTYPES:-bf16}"
samples="${SAMPLES:-50}"
out="${OUT:-$PWD/gpu-out}"
export CUBLASLT_WORKSPACE_SIZE="${CUBLASLT_WORKSPACE_SIZE:-32768}"
mkdir -p "$out"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

f="${FULGUR_HOME:-/tmp/fulgur-run/fulgur}"
if [ ! -x "$f/runtime/bin/java" ]; then
  mkdir -p /tmp/fulgur-run
  tar -C /tmp/fulgur-run -xJf .bundle/fulgur-*-linux-x86_64.tar.xz
  tar -C /tmp/fulgur-run -xJf .bundle/fulgur-tests.tar.xz
  f=/tmp/fulgur-run/fulgur
fi

rows="$out/gemm-compare.jsonl"
: > "$rows"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv \
  | tee "$out/gemm-compare-card.txt"
# shellcheck disable=SC2086  # JAVA_OPTS, TORCH_ARGS and sizes are word lists
for r in $(seq 1 "$rounds"); do
  echo "== round $r: Fulgur" >&2
  "$f/runtime/bin/java" --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector ${JAVA_OPTS:-} \
    -cp "$f/lib/*:$f/tests/*" ai.fulgur.cuda.GemmBench --dtypes "$dtypes" --samples "$samples" --round "$r" $sizes \
    | tee -a "$rows"
  echo "== round $r: PyTorch" >&2
  PYTHONUNBUFFERED=1 python3 "$here/torch_gemm.py" --dtypes "$dtypes" --samples "$samples" --round "$r" \
    ${TORCH_ARGS:-} $sizes | tee -a "$rows"
done

python3 - "$rows" "$out/gemm-compare-summary.json" <<'PY' | tee "$out/gemm-compare-summary.txt"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
rows = [r for r in rows if "ms" in r and "engine" in r]
keys = sorted({(r["dtype"], r["n"]) for r in rows})
summary = []
print(f"{'dtype':<6}{'n':>6}  {'Fulgur TFLOP/s':>15}{'(ms, spread)':>28}  {'PyTorch TFLOP/s':>16}{'(ms, spread)':>28}"
      f"  {'ratio':>6}  within 5%")
for dtype, n in keys:
    line = {"dtype": dtype, "n": n}
    for engine in ("fulgur", "torch"):
        ms = [r["ms"] for r in rows if r["engine"] == engine and r["dtype"] == dtype and r["n"] == n]
        if ms:
            med = statistics.median(ms)
            line[engine] = {"ms": med, "tflops": 2 * n ** 3 / (med * 1e-3) / 1e12, "rounds": len(ms),
                            "ms_min": min(ms), "ms_max": max(ms)}
    f, t = line.get("fulgur"), line.get("torch")
    if f and t:
        line["ratio"] = t["ms"] / f["ms"]  # Fulgur's throughput over PyTorch's
    summary.append(line)
    def cell(e):
        if not e:
            return f"{'-':>15}{'':>28}"
        spread = 100 * (e["ms_max"] - e["ms_min"]) / e["ms"]
        return f"{e['tflops']:>15.1f}{'(' + format(e['ms'], '.4f') + ' ms, ' + format(spread, '.1f') + '%)':>28}"
    ratio = line.get("ratio")
    verdict = "-" if ratio is None else ("yes" if ratio >= 0.95 else "no")
    print(f"{dtype:<6}{n:>6}  {cell(f)}  {cell(t):>44}  {ratio if ratio is None else format(ratio, '.3f'):>6}  {verdict}")
json.dump(summary, open(sys.argv[2], "w"), indent=1)
print("ratio = Fulgur TFLOP/s / PyTorch TFLOP/s, each the median over rounds of the per-round median;"
      " spread = (slowest - fastest round median) / median")
PY

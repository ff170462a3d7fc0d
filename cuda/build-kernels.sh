#!/usr/bin/env bash
# Compiles every src/main/cuda/*.cu into a fatbin (sm_80 and sm_90a machine code plus compute_90 PTX) for the jar.
# Without nvcc it writes UNAVAILABLE with the reason, which the CUDA backend reports at run time; the build goes on.
# Usage: build-kernels.sh SOURCE_DIR OUTPUT_DIR. Set FULGUR_NVCC to choose the compiler.
set -euo pipefail
src="$1"
out="$2"
mkdir -p "$out"
nvcc="${FULGUR_NVCC:-}"
if [ -z "$nvcc" ]; then
  if command -v nvcc >/dev/null 2>&1; then nvcc="$(command -v nvcc)";
  elif [ -x /usr/local/bin/nvcc ]; then nvcc=/usr/local/bin/nvcc;
  elif [ -x /usr/local/cuda/bin/nvcc ]; then nvcc=/usr/local/cuda/bin/nvcc;
  fi
fi
if [ -z "$nvcc" ]; then
  echo "nvcc was not found when Fulgur was built (looked on PATH, /usr/local/bin, /usr/local/cuda/bin); rebuild with a CUDA toolkit to use the GPU" > "$out/UNAVAILABLE"
  echo "build-kernels: nvcc not found, CUDA kernels not built" >&2
  exit 0
fi
rm -f "$out/UNAVAILABLE"
flags=(-fatbin -O3 -std=c++17 --expt-relaxed-constexpr
  -gencode=arch=compute_80,code=sm_80
  -gencode=arch=compute_90a,code=sm_90a
  -gencode=arch=compute_90,code=compute_90)
compile() {
  local cu="$1"
  local name; name="$(basename "$cu" .cu)"
  local target="$out/$name.fatbin"
  # rebuild when the source or any shared header is newer than the fatbin
  if [ -f "$target" ] && [ "$target" -nt "$cu" ] && [ -z "$(find "$src" -name '*.cuh' -newer "$target" -print -quit)" ]; then
    return 0
  fi
  "$nvcc" "${flags[@]}" -I"$src" -o "$target.tmp" "$cu"
  mv "$target.tmp" "$target"
  echo "build-kernels: $name.fatbin" >&2
}
status=0
for cu in "$src"/*.cu; do
  [ -e "$cu" ] || continue
  compile "$cu" &
  # at most as many nvcc jobs as cores
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n || status=1; done
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || status=1; done
exit $status

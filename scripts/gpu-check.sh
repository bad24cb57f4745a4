#!/usr/bin/env bash
# Builds the C++ core and its tests without Node against the LibTorch of the machine's Python torch
# (the CUDA one on a GPU machine), runs ctest, and on a machine with CUDA times the training step of
# s/m/l at batch 32 on the GPU (fp32 and bf16). Without a GPU it is the CPU half: the same build and
# ctest (the CUDA tests skip themselves), fit for CI.
#
#   scripts/gpu-check.sh [BUILD_DIR]      default build-gpu; an existing build folder is reused
#   PYTHON=python3 JOBS=2 scripts/gpu-check.sh
#
# Prints one summary block at the end; exit status is ctest's (or the build's).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${BUILD_DIR:-$root/build-gpu}}
jobs=${JOBS:-$(nproc)}
python=${PYTHON:-python3}
command -v "$python" >/dev/null || python=/usr/bin/python3

# torch.utils.cmake_prefix_path holds Torch/TorchConfig.cmake for pip wheels; Debian's python3-torch
# has none there, and CMake then finds the system LibTorch (cmake/FindLibTorch.cmake).
torch_args=()
prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)
if [[ -n $prefix && -f $prefix/Torch/TorchConfig.cmake ]]; then
  torch_args+=("-DTorch_DIR=$prefix/Torch")
  echo "gpu-check: LibTorch of $python: $prefix/Torch"
else
  echo "gpu-check: $python has no LibTorch CMake config; using the system LibTorch"
fi

cuda=$("$python" -c 'import torch; print(int(torch.cuda.is_available()))' 2>/dev/null || echo 0)
started=$(date +%s)
if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DASR_BUILD_ADDON=OFF -DASR_BUILD_TESTS=ON "${torch_args[@]}"
fi
cmake --build "$build" -j "$jobs"
cmake --build "$build" -j "$jobs" --target asr_bench_step  # not part of the default build
built=$(date +%s)

status=0
ctest --test-dir "$build" --output-on-failure -j 1 || status=$?
tested=$(date +%s)

timing=""
if [[ $cuda == 1 ]]; then
  "$python" -c 'import torch; print("gpu-check:", torch.cuda.get_device_name(0), "torch", torch.__version__, "CUDA", torch.version.cuda)'
  for preset in s m l; do
    for precision in fp32 bf16; do
      line=$("$build/native/tests/asr_bench_step" --device cuda --preset "$preset" --batch 32 --frames 400 --chars 50 \
        --steps 10 --warmup 3 --precision "$precision" | tail -n 1)
      timing+="  $preset batch 32 × 4 s, $precision: $line"$'\n'
    done
  done
else
  # The CPU half still proves the step binary runs (xs, small batch, a few steps).
  line=$("$build/native/tests/asr_bench_step" --device cpu --preset xs --batch 4 --frames 200 --steps 2 --warmup 1 --threads "$jobs" | tail -n 1)
  timing="  (no CUDA) xs batch 4 × 2 s on CPU: $line"$'\n'
fi

echo
echo "== gpu-check summary =="
echo "  build folder: $build (build $((built - started)) s, ctest $((tested - built)) s, ctest exit $status)"
echo "  CUDA available: $cuda"
printf '%s' "$timing"
exit $status

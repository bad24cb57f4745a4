#!/usr/bin/env bash
# Builds the C++ core and its tests without Node against the LibTorch of the machine's Python torch
# (the CUDA one on a GPU machine), runs ctest (the CUDA tests among them), and on a machine with CUDA
# times the training step of s/m/l at batch 32 × 4 s on the GPU, fp32 and bf16, beside the Python
# reference (bench/reference/conformer_ref.py) on the same GPU and torch. Without a GPU it is the CPU
# half: the same build and ctest (the CUDA tests skip themselves), fit for CI.
#
#   scripts/gpu-check.sh [BUILD_DIR]      default build-gpu; an existing build folder is reused
#   PYTHON=python3 JOBS=2 scripts/gpu-check.sh
#   ASR_GTEST_SOURCE_DIR=/usr/src/googletest ...   GoogleTest built from source (no libgtest-dev there)
#
# A machine without libsndfile/libsoxr builds the model side alone (ASR_BUILD_DATA=OFF, said below).
# Prints one summary block at the end; exit status is the build's, else ctest's.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${BUILD_DIR:-$root/build-gpu}}
jobs=${JOBS:-$(nproc)}
python=${PYTHON:-python3}
command -v "$python" >/dev/null || python=/usr/bin/python3
[[ -d /usr/local/cuda/bin ]] && PATH=$PATH:/usr/local/cuda/bin

cmake_args=(-DCMAKE_BUILD_TYPE=Release -DASR_BUILD_ADDON=OFF -DASR_BUILD_TESTS=ON)
# Ninja, as cmake-js uses: the same generator compiles from the same folder depth with the same command
# lines, so ccache serves this build from the addon build's objects (CMakeLists.txt).
keep_going=(-k)
command -v ninja >/dev/null && cmake_args+=(-G Ninja) && keep_going=(-k 0)
# torch.utils.cmake_prefix_path holds Torch/TorchConfig.cmake for pip wheels; Debian's python3-torch
# has none there, and CMake then finds the system LibTorch (cmake/FindLibTorch.cmake).
torch_version=$("$python" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo none)
prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)
if [[ -n $prefix && -f $prefix/Torch/TorchConfig.cmake ]]; then
  cmake_args+=("-DTorch_DIR=$prefix/Torch")
  echo "gpu-check: LibTorch of $python (torch $torch_version): $prefix/Torch"
  # The C++ standard that torch's own extension builder uses for this torch (newer ones may need 20).
  std=$("$python" - <<'PY' 2>/dev/null
import inspect, re
import torch.utils.cpp_extension as ext
found = [int(v) for v in re.findall(r"-std=c\+\+(\d+)", inspect.getsource(ext))]
print(max(found) if found else 17)
PY
)
  [[ -n ${std:-} && ${std} != 17 ]] && cmake_args+=("-DCMAKE_CXX_STANDARD=$std") && echo "gpu-check: C++$std (torch's extension standard)"
else
  echo "gpu-check: $python has no LibTorch CMake config; using the system LibTorch"
fi
if ! pkg-config --exists sndfile soxr 2>/dev/null; then
  cmake_args+=(-DASR_BUILD_DATA=OFF)
  echo "gpu-check: no libsndfile/libsoxr here: building the model side only (no data tests)"
fi
[[ -n ${ASR_GTEST_SOURCE_DIR:-} ]] && cmake_args+=("-DASR_GTEST_SOURCE_DIR=$ASR_GTEST_SOURCE_DIR")

cuda=$("$python" -c 'import torch; print(int(torch.cuda.is_available()))' 2>/dev/null || echo 0)
if [[ $cuda == 1 && -z ${TORCH_CUDA_ARCH_LIST:-} ]]; then
  # Saves TorchConfig probing the GPU with nvcc at configure time.
  export TORCH_CUDA_ARCH_LIST=$("$python" -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability(0))')
fi

started=$(date +%s)
status=0
if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S "$root" -B "$build" "${cmake_args[@]}" || status=$?
fi
# -k: one file that fails to compile against this LibTorch should not hide the others' errors.
[[ $status == 0 ]] && { cmake --build "$build" -j "$jobs" -- "${keep_going[@]}" || status=$?; }
[[ $status == 0 ]] && { cmake --build "$build" -j "$jobs" --target asr_bench_step || status=$?; }
[[ $status == 0 && $cuda == 1 ]] && { cmake --build "$build" -j "$jobs" --target asr_bench_optimizer || status=$?; }
built=$(date +%s)

ctest_status=skipped
if [[ $status == 0 ]]; then
  ctest --test-dir "$build" --output-on-failure -j "$(( jobs >= 8 ? 4 : 1 ))" --timeout 300
  ctest_status=$?
  status=$ctest_status
fi
tested=$(date +%s)

# The multi-tensor AdamW and clip against LibTorch's on CUDA (ctest ran it above; its verdict, and the
# tolerance it held to, are repeated here so the summary shows them).
optimizer_cuda=""
if [[ $cuda == 1 && $ctest_status != skipped ]]; then
  log=$build/optimizer-cuda.log
  if ! ctest --test-dir "$build" -R 'optimizer\..*cuda' -V --no-tests=error >"$log" 2>&1; then
    optimizer_cuda="  multi-tensor AdamW on CUDA: FAILED (see $log)"
  elif grep -q 'SKIPPED \]' "$log"; then
    optimizer_cuda="  multi-tensor AdamW on CUDA: skipped, the test saw no CUDA device (see $log)"
  else
    optimizer_cuda="  multi-tensor AdamW on CUDA: equals AdamW::step + clip_grad_norm_ within rtol 1e-5, atol 1e-7"
  fi
  optimizer_cuda+=$'\n'
fi

timing=""
bench=$build/native/tests/asr_bench_step
if [[ $cuda == 1 && -x $bench ]]; then
  "$python" -c 'import torch; print("gpu-check:", torch.cuda.get_device_name(0), "torch", torch.__version__, "CUDA", torch.version.cuda)'
  for preset in s m l; do
    for precision in fp32 bf16; do
      # Both sides: batch 32 × 400 frames (4 s), 50 target characters, SpecAugment on, median of 10 steps.
      ours=$(timeout 120 "$bench" --device cuda --preset "$preset" --batch 32 --frames 400 --chars 50 \
        --steps 10 --warmup 3 --precision "$precision" 2>&1 | tail -n 1)
      ref=$(timeout 120 "$python" "$root/bench/reference/conformer_ref.py" --device cuda --preset "$preset" \
        --batch 32 --frames 400 --chars 50 --steps 10 --warmup 3 --precision "$precision" 2>&1 | tail -n 1)
      timing+="  $preset batch 32 × 4 s, $precision:"$'\n'"    project:   $ours"$'\n'"    reference: $ref"$'\n'
    done
    # One optimizer update (clip + AdamW), LibTorch's per-tensor ops against the multi-tensor step.
    line=$(timeout 60 "$build/native/tests/asr_bench_optimizer" --device cuda --preset "$preset" --rounds 20 2>&1 | tail -n 1)
    timing+="  $preset $line"$'\n'
  done
elif [[ -x $bench ]]; then
  # The CPU half still proves the step binary runs (xs, small batch, a few steps).
  line=$("$bench" --device cpu --preset xs --batch 4 --frames 200 --steps 2 --warmup 1 --threads "$jobs" | tail -n 1)
  timing="  (no CUDA) xs batch 4 × 2 s on CPU: $line"$'\n'
fi

echo
echo "== gpu-check summary =="
echo "  torch $torch_version; cmake ${cmake_args[*]}"
echo "  build folder: $build (build $((built - started)) s, ctest $((tested - built)) s, ctest exit $ctest_status)"
echo "  CUDA available: $cuda"
printf '%s' "$optimizer_cuda"
printf '%s' "$timing"
exit $status

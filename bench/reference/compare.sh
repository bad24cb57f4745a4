#!/usr/bin/env bash
# One xs training step, C++ (asr_bench_step) against the Python torchaudio reference, alternating so
# both see the same machine load. usage: bench/reference/compare.sh [BUILD_DIR] [ROUNDS] [THREADS]
set -euo pipefail
build=${1:-build-model}
rounds=${2:-3}
threads=${3:-2}
root=$(cd "$(dirname "$0")/../.." && pwd)
bench="$root/$build/native/tests/asr_bench_step"
[[ -x $bench ]] || { echo "no $bench: cmake --build $build --target asr_bench_step" >&2; exit 1; }
export OMP_NUM_THREADS=$threads
for ((i = 1; i <= rounds; i++)); do
  "$bench" --threads "$threads" --steps 10 --warmup 2 | tail -n 1
  /usr/bin/python3 "$root/bench/reference/conformer_ref.py" --threads "$threads" --steps 10 --warmup 2 | tail -n 1
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

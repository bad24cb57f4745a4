#!/usr/bin/env bash
# `npm test`: the C++ tests (ctest), then the TypeScript tests with the real addon (vitest).
set -euo pipefail
cd "$(dirname "$0")/.."
# Two torch threads on two cores; OpenBLAS shares torch's OpenMP pool.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
ctest --test-dir build --output-on-failure
npx tsc -p tsconfig.json --noEmit
npx vitest run

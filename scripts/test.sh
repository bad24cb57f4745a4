#!/usr/bin/env bash
# `npm test`: the C++ tests (ctest), then the TypeScript tests with the real addon (vitest).
set -euo pipefail
cd "$(dirname "$0")/.."
# Two torch threads on two cores; OpenBLAS shares torch's OpenMP pool.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
# Tests run trainers beside servers and browsers: spinning OpenMP waiters would steal the other core
# (measured 5-7x slower steps); libgomp reads this only when it loads.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
ctest --test-dir build --output-on-failure
npx tsc -p tsconfig.test.json   # the sources and the tests
npx vitest run

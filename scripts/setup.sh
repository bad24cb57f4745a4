#!/usr/bin/env bash
# Set-up for a fresh Debian 12 machine, run by `npm test` and `npm run demo` through their pre-scripts.
# Idempotent and quiet when everything is already present; prints what it does otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp -t asr-setup.XXXXXX.log)
trap 'rm -f "$log"' EXIT

say() { echo "setup: $*"; }
fail() { echo "setup: $*" >&2; cat "$log" >&2 || true; exit 1; }

# --- system packages -------------------------------------------------------------------------------
# libopenblas0-openmp: OpenBLAS sharing torch's OpenMP pool (measured fastest on 2 cores; the pthread
# variant oversubscribes the cores and Debian's reference BLAS is ~10x slower).
APT_PACKAGES=(
  g++ make cmake pkg-config
  libtorch-dev libopenblas0-openmp libgtest-dev
  libgloo-dev  # ProcessGroupGloo.hpp includes the Gloo headers (data-parallel training, native/core/src/distributed)
  libsndfile1-dev libsoxr-dev
  libdeflate-dev  # the checkpoint zip's CRC-32 (native/core/src/crc32.cpp; optional, the built-in CRC-32 is slower)
  python3-torch python3-torchaudio
  python3-venv  # .venv for LibTorch 2.x (ASR_LIBTORCH=venv, below)
  espeak-ng
  flac lame vorbis-tools opus-tools  # the corpus-format tests encode espeak-ng clips (test/helpers/corpora.ts)
  zip unzip  # scripts/fetch-libtorch.sh unpacks with unzip; its test packs a libtorch-shaped zip
  chromium   # the dashboard's browser test (playwright-core drives Debian's chromium, nothing downloaded)
  clang-format  # npm run lint checks the C++ layout (.clang-format)
  ccache  # one compiler cache for the cmake-js, plain CMake and node-gyp builds of the same sources (CMakeLists.txt)
)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
  if [[ $(id -u) -eq 0 ]]; then
    sudo=()
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo)
  else
    echo "setup: these Debian packages are missing: ${missing[*]}" >&2
    echo "setup: install them, then run this again:" >&2
    echo "  sudo apt-get update && sudo ${cmd[*]}" >&2
    exit 1
  fi
  say "installing ${missing[*]} (apt)"
  "${sudo[@]}" apt-get update >>"$log" 2>&1 || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" "${cmd[@]}" >>"$log" 2>&1 || fail "apt-get install failed"
fi

# --- npm packages ----------------------------------------------------------------------------------
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund >>"$log" 2>&1 || fail "npm ci failed"
fi

# --- LibTorch --------------------------------------------------------------------------------------
# ASR_LIBTORCH=system (the default): Debian's libtorch-dev 1.13. ASR_LIBTORCH=venv: the torch 2.x wheel
# pinned with hashes in requirements/libtorch-cpu.txt, installed into .venv (~1.3 GB, ~90 s on a fresh
# machine); cmake/FindLibTorch.cmake takes it from there.
libtorch=${ASR_LIBTORCH:-system}
[[ $libtorch == system || $libtorch == venv ]] || fail "ASR_LIBTORCH=$libtorch is not one of system, venv"
if [[ $libtorch == venv ]] && ! cmp -s requirements/libtorch-cpu.txt .venv/libtorch-cpu.txt; then
  say "installing LibTorch 2.x into .venv (pip, requirements/libtorch-cpu.txt)"
  [[ -x .venv/bin/python ]] || python3 -m venv .venv >>"$log" 2>&1 || fail "python3 -m venv .venv failed"
  .venv/bin/pip install --no-deps --require-hashes --progress-bar off -r requirements/libtorch-cpu.txt >>"$log" 2>&1 ||
    fail "pip install -r requirements/libtorch-cpu.txt failed"
  cp requirements/libtorch-cpu.txt .venv/libtorch-cpu.txt
fi

# --- native build ----------------------------------------------------------------------------------
addon=build/Release/asr_trainer.node
# A build configured for the other LibTorch keeps that one's paths in its cache: configure afresh.
if [[ -f build/CMakeCache.txt ]] && ! grep -qx "ASR_LIBTORCH:STRING=$libtorch" build/CMakeCache.txt; then
  rm -f build/CMakeCache.txt "$addon"
fi
if [[ ! -f $addon ]] || [[ -n $(find native cmake CMakeLists.txt -newer "$addon" -type f 2>/dev/null | head -1) ]] ||
  [[ $libtorch == venv && .venv/libtorch-cpu.txt -nt $addon ]]; then
  say "building the native core, its tests and the addon (cmake-js, LibTorch: $libtorch)"
  npx cmake-js compile --CDASR_BUILD_TESTS=ON "--CDASR_LIBTORCH=$libtorch" >>"$log" 2>&1 || fail "native build failed"
  touch "$addon"
fi

# --- dashboard client ------------------------------------------------------------------------------
if [[ ! -f dist/web/app.js ]] || [[ -n $(find src/web/client src/web/tsconfig.json src/contract -newer dist/web/app.js -type f 2>/dev/null | head -1) ]]; then
  say "building the dashboard client (dist/web)"
  npm run --silent build:web >>"$log" 2>&1 || fail "dashboard build failed"
fi

# --- bundled mini corpus ---------------------------------------------------------------------------
# Run every time: the generator keeps a complete corpus of its version and regenerates an older one.
if [[ -f scripts/make-mini-corpus.ts ]]; then
  [[ -f data/mini-ljspeech/metadata.csv ]] || say "generating the mini corpus (espeak-ng) in data/mini-ljspeech"
  npx tsx scripts/make-mini-corpus.ts >>"$log" 2>&1 || fail "mini corpus generation failed"
fi
exit 0

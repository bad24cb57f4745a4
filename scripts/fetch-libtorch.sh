#!/usr/bin/env bash
# Downloads and unpacks a prebuilt LibTorch (the path for machines with internet, e.g. a CUDA build for a
# GPU), then prints the line to export. Only that line goes to stdout, so this works:
#   eval "$(bash scripts/fetch-libtorch.sh)" && npm run build:native
#
# Usage: scripts/fetch-libtorch.sh [DEST]        DEST defaults to third_party/libtorch
# Environment:
#   LIBTORCH_VARIANT  cpu (default) | cu116 | cu117 — picks the default URL (LibTorch 1.13.1, cxx11 ABI)
#   LIBTORCH_URL      the zip to fetch (overrides the variant)
#   LIBTORCH_SHA256   expected sha256 of the zip; a mismatch fails and leaves nothing behind
#   LIBTORCH_FORCE=1  replace an existing DEST
set -euo pipefail

say() { echo "fetch-libtorch: $*" >&2; }
die() { say "$*"; exit 1; }

version=1.13.1
variant=${LIBTORCH_VARIANT:-cpu}
case $variant in
  cpu | cu116 | cu117) ;;
  *) die "LIBTORCH_VARIANT must be cpu, cu116 or cu117 (got '$variant'); or set LIBTORCH_URL" ;;
esac
url=${LIBTORCH_URL:-https://download.pytorch.org/libtorch/$variant/libtorch-cxx11-abi-shared-with-deps-$version%2B$variant.zip}

repo=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$repo/third_party/libtorch}
created_parent=
if [[ ! -d $(dirname "$dest") ]]; then
  mkdir -p "$(dirname "$dest")" 2>/dev/null || die "cannot create the parent folder of $dest"
  created_parent=1
fi
dest=$(cd "$(dirname "$dest")" && pwd)/$(basename "$dest")
parent=$(dirname "$dest")

if [[ -f $dest/share/cmake/Torch/TorchConfig.cmake && ${LIBTORCH_FORCE:-0} != 1 ]]; then
  say "$dest already holds a libtorch (LIBTORCH_FORCE=1 replaces it)"
  echo "export LIBTORCH=$dest"
  exit 0
fi
[[ -e $dest && ${LIBTORCH_FORCE:-0} != 1 ]] && die "$dest exists but is not a libtorch; remove it or set LIBTORCH_FORCE=1"

command -v unzip >/dev/null || die "unzip is needed: sudo apt-get install unzip"

# Everything is staged next to DEST and moved into place only when complete, so a failed or interrupted
# run leaves no half-unpacked folder that a later build would pick up.
stage=$(mktemp -d "$parent/.libtorch-fetch.XXXXXX")
cleanup() {
  local rc=$?
  rm -rf "$stage"
  [[ $rc -ne 0 && -n $created_parent ]] && rmdir "$parent" 2>/dev/null
  return $rc
}
trap cleanup EXIT

say "downloading $url"
if command -v curl >/dev/null; then
  curl -fL --retry 2 --silent --show-error -o "$stage/libtorch.zip" "$url" || die "download failed: $url"
elif command -v wget >/dev/null; then
  wget -q -O "$stage/libtorch.zip" "$url" || die "download failed: $url"
else
  die "curl or wget is needed: sudo apt-get install curl"
fi

actual=$(sha256sum "$stage/libtorch.zip" | cut -d' ' -f1)
if [[ -n ${LIBTORCH_SHA256:-} ]]; then
  [[ ${LIBTORCH_SHA256,,} == "$actual" ]] ||
    die "sha256 mismatch for $url: expected $LIBTORCH_SHA256, got $actual (nothing was unpacked)"
  say "sha256 verified ($actual)"
else
  say "sha256 $actual (not verified: set LIBTORCH_SHA256 to check it)"
fi

unzip -q "$stage/libtorch.zip" -d "$stage/unpacked" || die "the download is not a valid zip: $url"
[[ -f $stage/unpacked/libtorch/share/cmake/Torch/TorchConfig.cmake ]] ||
  die "the zip holds no libtorch/share/cmake/Torch/TorchConfig.cmake; is $url a LibTorch download?"

rm -rf "$dest"
mv "$stage/unpacked/libtorch" "$dest"
say "unpacked into $dest; rebuild with: LIBTORCH=$dest npm run build:native"
echo "export LIBTORCH=$dest"

#!/usr/bin/env bash
# CI: binding.gyp must build the same addon with node-gyp, and it must load. cmake-js owns build/, so the
# gyp build runs in a copy of the sources (binding.gyp, native/, package.json) in a temporary folder.
# Keep it with KEEP_GYP_BUILD=1 (its path is printed).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d -t asr-gyp.XXXXXX)
if [[ ${KEEP_GYP_BUILD:-0} != 1 ]]; then trap 'rm -rf "$work"' EXIT; fi
say() { echo "check-gyp: $*"; }

cp "$repo/binding.gyp" "$repo/package.json" "$work/"
mkdir -p "$work/native"
cp -r "$repo/native/core" "$repo/native/addon" "$work/native/"
ln -s "$repo/node_modules" "$work/node_modules"

# Node's headers: node-gyp downloads them unless they are already here. A Debian/NodeSource node ships
# them under <prefix>/include/node, which works offline.
args=()
node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
if [[ -z ${npm_config_nodedir:-} && ! -d ${HOME}/.cache/node-gyp/$(node -p process.versions.node) &&
  -f $node_prefix/include/node/node_api.h && -f $node_prefix/include/node/common.gypi ]]; then
  args+=(--nodedir="$node_prefix")
fi

# The compiler cache the CMake builds use (CMakeLists.txt); the copy's folder is the base, so a second
# check of the same sources hits although each copy lives in a new temporary folder.
if command -v ccache >/dev/null && [[ ${ASR_CCACHE:-ON} != OFF ]]; then
  export CXX="ccache ${CXX:-g++}" CCACHE_BASEDIR=$work
  export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
fi

say "building with node-gyp in $work (LibTorch: ${LIBTORCH:-system})"
start=$SECONDS
(cd "$work" && "$repo/node_modules/.bin/node-gyp" rebuild --jobs "${GYP_JOBS:-2}" "${args[@]}") >"$work/build.log" 2>&1 || {
  tail -60 "$work/build.log" >&2
  say "node-gyp build failed (full log: $work/build.log)" >&2
  trap - EXIT
  exit 1
}
say "built in $((SECONDS - start)) s"

ASR_GYP_ADDON="$work/build/Release/asr_trainer.node" node -e '
const addon = require(process.env.ASR_GYP_ADDON);
const v = addon.versions;
const trainer = new addon.Trainer({ ...addon.modelPreset("xs"), num_layers: 1 }, { threads: 1 });
if (!(trainer.parameterCount > 0)) throw new Error("the gyp-built addon built no model");
console.log(`check-gyp: loaded; libtorch ${v.libtorch}, cuda ${v.cuda}, openmp ${v.openmp}, ` +
  `a 1-layer model has ${trainer.parameterCount} parameters on ${trainer.device}`);
'

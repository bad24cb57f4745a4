// Prints the core's and the addon's .cpp files (from native/core/sources-*.cmake and native/addon/CMakeLists.txt,
// the lists CMake builds from), relative to the repository root, for binding.gyp's `<!@(...)` expansion.
// The distributed layer (sources-distributed.cmake) joins when c10d's Gloo headers are found, as in
// native/core/distributed.cmake. `--defines` prints the defines that go with it instead: c10d's, which CMake
// takes from Torch's targets, and the addon's ASR_WITH_DISTRIBUTED (nothing without Gloo), and
// ASR_HAVE_LIBDEFLATE where libdeflate is installed; `--libraries` prints -ldeflate then.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const includeDirs = [
  process.env.LIBTORCH ? join(process.env.LIBTORCH, 'include') : '',
  '/usr/include',
  '/usr/local/include',
];
const withDistributed = includeDirs.some((dir) => dir !== '' && existsSync(join(dir, 'gloo', 'algorithm.h')));

// libdeflate's CRC-32 for checkpoints where it is installed, as native/core/CMakeLists.txt decides.
const withLibdeflate = includeDirs.some((dir) => dir !== '' && existsSync(join(dir, 'libdeflate.h')));

if (process.argv.includes('--defines')) {
  const defines = [];
  if (withDistributed) defines.push('USE_C10D_GLOO', 'USE_DISTRIBUTED', 'ASR_WITH_DISTRIBUTED');
  if (withLibdeflate) defines.push('ASR_HAVE_LIBDEFLATE');
  console.log(defines.join('\n'));
} else if (process.argv.includes('--libraries')) {
  if (withLibdeflate) console.log('-ldeflate');
} else {
  const sources = [];
  const lists = ['sources-model.cmake', 'sources-data.cmake', 'sources-training.cmake'];
  if (withDistributed) lists.push('sources-distributed.cmake');
  for (const list of lists) {
    const text = readFileSync(join(root, 'native/core', list), 'utf8');
    for (const match of text.matchAll(/\$\{CMAKE_CURRENT_LIST_DIR\}\/(\S+\.cpp)/g)) {
      sources.push(join('native/core', match[1]));
    }
  }
  const addon = readFileSync(join(root, 'native/addon/CMakeLists.txt'), 'utf8');
  for (const match of addon.matchAll(/\$\{CMAKE_CURRENT_SOURCE_DIR\}\/(\S+\.cpp)/g)) {
    sources.push(join('native/addon', match[1]));
  }
  console.log(sources.join('\n'));
}

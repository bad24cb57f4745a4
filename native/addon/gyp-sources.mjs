// Prints the core's and the addon's .cpp files (from native/core/sources-*.cmake and native/addon/CMakeLists.txt,
// the lists CMake builds from), relative to the repository root, for binding.gyp's `<!@(...)` expansion.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const sources = [];
// The distributed layer (sources-distributed.cmake) joins once the addon links it, as CMake's asr_addon does not
// yet; it needs the c10d defines (USE_C10D_GLOO, USE_DISTRIBUTED) that CMake takes from Torch's targets.
for (const list of ['sources-model.cmake', 'sources-data.cmake']) {
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

/**
 * Loads the native addon (build/Release/asr_trainer.node, or $ASR_TRAINER_ADDON) once, hands it the
 * error class so native failures arrive as AsrTrainerError and the allocator choice (allocator.ts), and
 * returns it typed. When the binary cannot load, one AsrTrainerError('E_NATIVE_LOAD') says what was tried
 * and the likely fix.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

import { AsrTrainerError } from '../errors.js';
import { packageRoot } from '../package-root.js';
import { allocatorTuningWanted } from './allocator.js';
import type { NativeAddon, RawNativeAddon } from './types.js';

const ADDON_FILE = 'build/Release/asr_trainer.node';

let loaded: NativeAddon | undefined;

/** The addon, loaded on first use. Throws AsrTrainerError('E_NATIVE_LOAD') when it cannot load. */
export function loadNative(): NativeAddon {
  if (!loaded) loaded = loadFrom(addonCandidates());
  return loaded;
}

/** Where the addon is looked for, in order: $ASR_TRAINER_ADDON alone when set, else the repository's build. */
export function addonCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const override = env.ASR_TRAINER_ADDON;
  if (override) return [resolve(override)];
  return [resolve(packageRoot() ?? process.cwd(), ADDON_FILE)];
}

function loadFrom(candidates: string[]): NativeAddon {
  const require = createRequire(import.meta.url);
  const failures: Array<{ path: string; message: string }> = [];
  for (const path of candidates) {
    if (!existsSync(path)) {
      failures.push({ path, message: 'no such file' });
      continue;
    }
    try {
      const raw = require(path) as RawNativeAddon;
      raw.setErrorClass(AsrTrainerError);
      raw.allowAllocatorTuning(allocatorTuningWanted(process.env));
      return raw;
    } catch (error) {
      failures.push({ path, message: error instanceof Error ? error.message : String(error) });
    }
  }
  throw nativeLoadError(failures);
}

/** One error naming every path tried, why each failed, and the fix the first real failure points to. */
export function nativeLoadError(failures: Array<{ path: string; message: string }>): AsrTrainerError {
  const tried = failures.map((f) => `  - ${f.path}: ${f.message}`).join('\n');
  const cause = failures.find((f) => f.message !== 'no such file') ?? failures[0];
  const fix = likelyFix(cause?.message ?? '');
  return new AsrTrainerError(
    'E_NATIVE_LOAD',
    `The native addon (asr_trainer.node) could not be loaded. Tried:\n${tried}\nLikely fix: ${fix}`,
    { tried: failures, fix },
  );
}

/** The fix a loader message points to (the order matters: a missing libtorch also mentions ".so"). */
export function likelyFix(message: string): string {
  if (/lib(torch\w*|c10\w*)\.so/.test(message)) {
    return (
      'LibTorch was not found at run time. Install it (sudo apt-get install libtorch-dev, or bash ' +
      'scripts/setup.sh); for a downloaded libtorch export LIBTORCH=/path/to/libtorch and rebuild ' +
      '(npm run build:native), or add its lib folder to LD_LIBRARY_PATH.'
    );
  }
  if (/GLIBCXX|CXXABI|GLIBC_/.test(message)) {
    return (
      'compiler/runtime mismatch: the addon (or LibTorch) was built against a newer C++ runtime than ' +
      'the libstdc++ this process loads. Rebuild on this machine (npm run build:native) with the ' +
      "system's g++, or put the matching libstdc++ first in LD_LIBRARY_PATH."
    );
  }
  if (/lib(sndfile|soxr)\S*\.so/.test(message)) {
    return 'install the audio libraries: sudo apt-get install libsndfile1 libsoxr0 (or bash scripts/setup.sh).';
  }
  if (/cannot open shared object file/.test(message)) {
    return 'a shared library the addon needs is missing (named above); run bash scripts/setup.sh.';
  }
  if (
    /undefined symbol|NODE_MODULE_VERSION|did not self-register|invalid ELF header|file too short|wrong ELF class/.test(
      message,
    )
  ) {
    return 'the binary is damaged or was built for another LibTorch, Node or machine; rebuild it: npm run build:native.';
  }
  return 'the addon is not built: run npm run build:native (or bash scripts/setup.sh for the full set-up).';
}

/**
 * Where a forked process's entry file is: NAME.js beside the compiled caller, or NAME.ts run through
 * tsx's loader when the caller itself runs from source (npm start, vitest), which has no .js beside it.
 */

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { allocatorTuningWanted } from '../native/allocator.js';

export interface ForkEntry {
  entry: string;
  execArgv: string[];
}

/** `callerUrl` is the caller's `import.meta.url`; `name` is the entry's file name without extension. */
export function forkEntry(callerUrl: string, name: string): ForkEntry {
  const js = new URL(`./${name}.js`, callerUrl);
  if (fileURLToPath(callerUrl).endsWith('.js') && existsSync(js)) return { entry: fileURLToPath(js), execArgv: [] };
  const tsxLoader = pathToFileURL(createRequire(callerUrl).resolve('tsx')).href;
  return { entry: fileURLToPath(new URL(`./${name}.ts`, callerUrl)), execArgv: ['--import', tsxLoader] };
}

/**
 * The environment for a child process that runs the addon (trainer, transcribe, averaging): `env` plus
 * MALLOC_ARENA_MAX=1. glibc gives every thread that allocates an arena of its own, and a thread's arena
 * honours neither the 1 GiB mmap/trim thresholds the trainer sets (keep_freed_memory) for blocks over its
 * 64 MiB heap size nor keeps its freed pages (it returns them in 8 MiB pieces), so the addon's worker threads
 * page-faulted their memory in again on every checkpoint load and every few steps (AMD VM: loading an m
 * checkpoint 4.2 s → 0.35 s with one arena, s 1.05 s → 0.08 s). With one arena every thread allocates from
 * the main one, where the thresholds hold. glibc reads it once at start, so it must be in the environment the
 * child starts with. Allocator tuning of the user's own (MALLOC_ARENA_MAX, GLIBC_TUNABLES, or
 * ASR_TRAINER_MALLOC=default for glibc's defaults: native/allocator.ts) is left as it is.
 */
export function addonProcessEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const ownTuning = env.MALLOC_ARENA_MAX !== undefined || env.GLIBC_TUNABLES !== undefined;
  if (ownTuning || !allocatorTuningWanted(env)) return env;
  return { ...env, MALLOC_ARENA_MAX: '1' };
}

/**
 * For a script that runs the addon in its own process (the bench, the demo): glibc reads
 * MALLOC_ARENA_MAX only when a process starts, so when this process lacks addonProcessEnv's settings it
 * runs itself again with them, waits, and exits with that run's status; in the process that has them it
 * returns at once. Ctrl-C reaches both (one process group) and ends both.
 */
export function restartWithAddonEnv(): void {
  const env = addonProcessEnv(process.env);
  if (env.MALLOC_ARENA_MAX === process.env.MALLOC_ARENA_MAX) return;
  const again = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env });
  process.exit(again.status ?? 1);
}

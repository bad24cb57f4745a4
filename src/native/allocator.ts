/**
 * asr-trainer tunes glibc's allocator for the processes that run the addon: one malloc arena
 * (MALLOC_ARENA_MAX=1, set in the environment a child starts with: child-process/fork-entry.ts) and 1 GiB
 * mmap/trim thresholds (set in-process by the core: keep_freed_memory, native/core/include/asr/runtime.h).
 * ASR_TRAINER_MALLOC=default turns both off; this is the one place that reads it. The bin's shell line
 * (bin/asr-trainer.js) runs before Node and repeats the arena rule in sh; test/cli/usage.test.ts holds it to
 * addonProcessEnv case by case.
 */

/** False when the user asked for glibc's allocator as it comes (ASR_TRAINER_MALLOC=default). */
export function allocatorTuningWanted(env: NodeJS.ProcessEnv): boolean {
  return env.ASR_TRAINER_MALLOC !== 'default';
}

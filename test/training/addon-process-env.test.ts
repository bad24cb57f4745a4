import { describe, expect, it } from 'vitest';

import { addonProcessEnv } from '../../src/child-process/fork-entry.js';

describe('the environment of a process that runs the addon', () => {
  it('asks glibc for one malloc arena, keeping everything else', () => {
    expect(addonProcessEnv({ PATH: '/usr/bin', OMP_NUM_THREADS: '2' })).toEqual({
      PATH: '/usr/bin',
      OMP_NUM_THREADS: '2',
      MALLOC_ARENA_MAX: '1',
    });
  });

  it("leaves a user's own allocator tuning alone", () => {
    for (const own of [
      { MALLOC_ARENA_MAX: '4' },
      { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' },
      { ASR_TRAINER_MALLOC: 'default' },
    ]) {
      expect(addonProcessEnv({ PATH: '/usr/bin', ...own })).toEqual({ PATH: '/usr/bin', ...own });
    }
  });
});

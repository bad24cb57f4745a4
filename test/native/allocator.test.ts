import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

import { allocatorTuningWanted } from '../../src/native/index.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

/**
 * Whether the core tuned glibc's thresholds in a fresh process (they are set once per process): warmHeap
 * pages memory in only where keep_freed_memory applied, and says so.
 */
async function coreTunedAllocator(env: NodeJS.ProcessEnv): Promise<boolean> {
  const script = `
    import('${ROOT}/src/native/load.ts').then((m) => console.log(JSON.stringify(m.loadNative().warmHeap(1 << 20))));
  `;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, env });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? 'null') as boolean;
}

describe('ASR_TRAINER_MALLOC, read by the TypeScript layer alone', () => {
  it('=default reaches the core through the loader: glibc keeps its own thresholds', async () => {
    const plain = { ...process.env, ASR_TRAINER_MALLOC: undefined, GLIBC_TUNABLES: undefined };
    expect(allocatorTuningWanted(plain)).toBe(true);
    expect(await coreTunedAllocator(plain)).toBe(true);
    const optedOut = { ...plain, ASR_TRAINER_MALLOC: 'default' };
    expect(allocatorTuningWanted(optedOut)).toBe(false);
    expect(await coreTunedAllocator(optedOut)).toBe(false);
  });
});

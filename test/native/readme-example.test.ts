import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

import { expect, it } from 'vitest';

import { native } from './helpers.js';

const run = promisify(execFile);

it('the README example trains three steps and saves a checkpoint that loads', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'asr-readme-'));
  try {
    const checkpoint = join(dir, 'tiny.pt');
    const example = resolve(import.meta.dirname, 'readme-example.ts');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', example, checkpoint], {
      cwd: resolve(import.meta.dirname, '../..'),
    });
    expect(stdout).toMatch(/^step 1: loss \d+\.\d{3}\nstep 2: loss .*\nstep 3: loss .*\nsaved /);
    expect((await stat(checkpoint)).size).toBeGreaterThan(0);
    expect(await native.readCheckpointMeta(checkpoint)).toMatchObject({ epoch: 1, global_step: 3 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

import { expect, it } from 'vitest';

import { native } from './helpers.js';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');

/** The README's "From a Node script" block: the first ```ts block that imports 'asr-trainer'. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(join(repo, 'README.md'), 'utf8');
  const block = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)]
    .map((m) => m[1])
    .find((code) => code.includes("from 'asr-trainer'"));
  if (!block) throw new Error("README.md has no ```ts block importing 'asr-trainer' (section 'From a Node script')");
  return block;
}

it('the README example, as README.md shows it, trains three steps and saves a checkpoint that loads', async () => {
  // Inside the repository, so 'asr-trainer' resolves to this package by self-reference; the
  // asr-trainer-source condition (package.json exports) picks src/index.ts, so no build of dist is needed.
  await mkdir(join(repo, 'test-artifacts'), { recursive: true });
  const dir = await mkdtemp(join(repo, 'test-artifacts', 'readme-'));
  try {
    const example = join(dir, 'example.ts');
    await writeFile(example, await readmeExample());
    const { stdout } = await run(process.execPath, ['--conditions=asr-trainer-source', '--import', 'tsx', example], {
      cwd: dir,
    });
    expect(stdout).toMatch(/^step 1: loss \d+\.\d{3}\nstep 2: loss \d+\.\d{3}\nstep 3: loss \d+\.\d{3}\n$/);
    const checkpoint = join(dir, 'tiny.pt');
    expect((await stat(checkpoint)).size).toBeGreaterThan(0);
    expect(await native.readCheckpointMeta(checkpoint)).toMatchObject({ epoch: 1, global_step: 3 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

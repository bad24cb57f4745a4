/** `asr-trainer make-mini-corpus`: runs the data side's generator (scripts/make-mini-corpus.ts) as it is. */

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AsrTrainerError } from '../../errors.js';
import { EXIT_INTERRUPTED } from '../exit.js';

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new AsrTrainerError('E_INTERNAL', 'cannot find the asr-trainer package root');
    dir = parent;
  }
  return dir;
}

export async function makeMiniCorpusCommand(args: string[]): Promise<number> {
  const script = join(packageRoot(), 'scripts', 'make-mini-corpus.ts');
  if (!existsSync(script)) {
    throw new AsrTrainerError('E_INTERNAL', `the mini corpus generator is missing: ${script}`);
  }
  // A child process with tsx's loader: the generator is a script with its own argument handling.
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(signal ? EXIT_INTERRUPTED : (code ?? 1)));
  });
}

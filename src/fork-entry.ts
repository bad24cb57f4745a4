/**
 * Where a forked process's entry file is: NAME.js beside the compiled caller, or NAME.ts run through
 * tsx's loader when the caller itself runs from source (npm start, vitest), which has no .js beside it.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

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

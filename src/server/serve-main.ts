/**
 * Minimal server entry: `tsx src/server/serve-main.ts [--config PATH]`. The CLI's `serve` command is
 * the usual way in; this one needs nothing but the config.
 */
import { loadConfig } from '../config/load.js';
import { serve } from './serve.js';

function configArgument(argv: string[]): string | undefined {
  const index = argv.indexOf('--config');
  if (index >= 0) return argv[index + 1];
  const inline = argv.find((a) => a.startsWith('--config='));
  return inline?.slice('--config='.length);
}

try {
  await serve(loadConfig({ path: configArgument(process.argv.slice(2)) }));
} catch (err) {
  console.error(`asr-trainer: ${(err as Error).message}`);
  process.exit(1);
}

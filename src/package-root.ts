/**
 * The folder of this package: the nearest one up from this file whose package.json is asr-trainer's. This
 * file runs from src/ (tsx) or dist/src/ (compiled), and the package may sit inside another project's
 * tree, so the walk checks the name rather than stopping at the first package.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'asr-trainer';

/** Null when no folder up the tree holds asr-trainer's package.json (a bundled copy without it). */
export function packageRoot(): string | null {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === PACKAGE_NAME) return dir;
      } catch {
        // an unreadable package.json is not ours; keep walking up
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

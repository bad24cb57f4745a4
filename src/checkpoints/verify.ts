/**
 * Whether a checkpoint's bytes are still the ones its sidecar vouches for: the file's sha256 against
 * the sidecar's, and a cache of verdicts so a listing hashes only files that changed.
 */
import path from 'node:path';
import { lstatOrNull, sha256File } from './files.js';
import type { Scanned } from './scan.js';

/** Cleared when full: a long-running server lists the folder many times; stale keys are simply dropped. */
const MAX_CACHED_VERDICTS = 4096;

/** Streams the file and compares with the sidecar; the problem in words, or null when it matches. */
export async function hashProblem(dir: string, s: Scanned): Promise<string | null> {
  if (s.sidecar === null) return s.entry.problem ?? 'no valid sidecar';
  let actual: { sha256: string; size: number };
  try {
    actual = await sha256File(path.join(dir, s.entry.name));
  } catch (error) {
    return `cannot be read (${(error as Error).message})`;
  }
  if (actual.size !== s.sidecar.size) return `file is ${actual.size} bytes but its sidecar recorded ${s.sidecar.size}`;
  if (actual.sha256 !== s.sidecar.sha256)
    return 'sha256 differs from its sidecar (the file changed or was damaged after saving)';
  return null;
}

/** hashProblem() remembered per file version (one cache per store). */
export class HashVerdicts {
  /** File version → the hash verdict (null: matches). */
  private readonly verdicts = new Map<string, string | null>();

  /**
   * Marks every listed checkpoint whose bytes no longer match its sidecar's sha256 (flipped or zeroed
   * in place, same size) invalid, with the problem in words.
   */
  async flagDamaged(dir: string, scanned: Scanned[]): Promise<void> {
    for (const s of scanned) {
      if (!s.entry.valid) continue;
      const problem = await this.problemOf(dir, s);
      if (problem !== null) {
        s.entry.valid = false;
        s.entry.problem = problem;
        s.sidecar = null;
      }
    }
  }

  /**
   * The key holds the inode, size, mtime and ctime, so any write or replacement (which moves ctime)
   * is hashed again; the sidecar's sha256 is part of the key.
   */
  private async problemOf(dir: string, s: Scanned): Promise<string | null> {
    const stats = await lstatOrNull(path.join(dir, s.entry.name));
    if (stats === null) return 'the file disappeared while listing';
    const key = [s.entry.name, stats.ino, stats.size, stats.mtimeMs, stats.ctimeMs, s.sidecar?.sha256 ?? ''].join(
      '\u0000',
    );
    const known = this.verdicts.get(key);
    if (known !== undefined) return known;
    const problem = await hashProblem(dir, s);
    if (this.verdicts.size >= MAX_CACHED_VERDICTS) this.verdicts.clear();
    this.verdicts.set(key, problem);
    return problem;
  }
}

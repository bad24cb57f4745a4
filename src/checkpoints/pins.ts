/**
 * Pinning: a `NAME.pt.pin` marker beside a checkpoint keeps it out of retention for good.
 *
 * A marker file rather than a field in the sidecar: the sidecar is the commit record, written once by
 * the commit, copied byte for byte to the backup folder and read by a running trainer's retention; a
 * pin is a person's later decision, and creating or removing one file is a single atomic step that
 * never puts the sidecar (and so the checkpoint's validity and its sha256) at risk.
 */
import { readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { AsrTrainerError } from '../errors.js';
import { errno, fsyncDir, lstatOrNull, writeFileAtomic } from './files.js';
import { parseCheckpointName, pinName, validatePlainFileName } from './names.js';

/** Whether the checkpoint carries a pin marker. */
export async function isPinned(dir: string, name: string): Promise<boolean> {
  return (await lstatOrNull(path.join(dir, pinName(name)))) !== null;
}

/** Pins (`pinned: true`) or unpins a checkpoint of the folder; unknown names are E_CHECKPOINT_NOT_FOUND. */
export async function setPinned(
  dir: string,
  requested: string,
  pinned: boolean,
): Promise<{ name: string; pinned: boolean }> {
  const name = validatePlainFileName(requested);
  const stats = await lstatOrNull(path.join(dir, name));
  if (stats === null || !stats.isFile() || parseCheckpointName(name) === null) {
    throw new AsrTrainerError(
      'E_CHECKPOINT_NOT_FOUND',
      `Specified checkpoint '${name}' not found; pin a checkpoint file name from GET /api/checkpoints`,
      { checkpoint: name },
    );
  }
  const marker = path.join(dir, pinName(name));
  if (pinned) {
    if ((await readFile(marker, 'utf8').catch(() => null)) === null) {
      await writeFileAtomic(marker, `${JSON.stringify({ pinned_at: new Date().toISOString() })}\n`);
    }
  } else {
    try {
      await unlink(marker);
      await fsyncDir(dir);
    } catch (error) {
      if (errno(error) !== 'ENOENT') throw error;
    }
  }
  return { name, pinned };
}

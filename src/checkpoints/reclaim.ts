/**
 * Reclaiming the temp files of writers killed mid-save: each is up to a checkpoint's size, and nothing
 * else ever removes one of another pair (retention clears only its own pair's, and only after a commit),
 * so on a preemptible cluster they fill the disk. Every writer of the folder (the addon's `.pt` writer,
 * writeFileAtomic()) holds a kernel lock on its temp file until it is renamed into place, and the kernel
 * drops that lock with the writer's last descriptor, however it died: a free lock is a gone writer. A pid
 * in the name could not say as much: PID 1 reaps zombies late here, and a pid is reused.
 */
import path from 'node:path';
import type { Log } from '../log.js';
import { loadNative } from '../native/index.js';
import { fsyncDir, readNames } from './files.js';
import { isTempName } from './names.js';

export interface ReclaimedTemp {
  name: string;
  bytes: number;
}

/**
 * Removes the temp files of `dir`, of any pair, that no live writer holds, and logs each with its size.
 * Never a committed file (only temp names are looked at), a live writer's temp file (its lock), or a
 * symlink's temp (it cannot be locked; retention removes its pair's). Call it holding a pair's lock.
 */
export async function reclaimAbandonedTemps(dir: string, log: Log): Promise<ReclaimedTemp[]> {
  const native = loadNative();
  const reclaimed: ReclaimedTemp[] = [];
  for (const name of await readNames(dir)) {
    if (!isTempName(name)) continue;
    const bytes = native.removeAbandonedFile(path.join(dir, name));
    if (bytes === null) continue;
    reclaimed.push({ name, bytes });
    log('info', `Removed '${name}' (${bytes} bytes) from '${dir}': temp file of a save whose writer is gone`);
  }
  if (reclaimed.length > 0) await fsyncDir(dir);
  if (reclaimed.length > 1) {
    const total = reclaimed.reduce((sum, r) => sum + r.bytes, 0);
    log('info', `Reclaimed ${total} bytes in ${reclaimed.length} temp files of writers that are gone`);
  }
  return reclaimed;
}

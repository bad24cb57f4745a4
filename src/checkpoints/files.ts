/**
 * File primitives of the checkpoint folder: crash-safe writes, and reads that take a missing entry as
 * null. Written here rather than with `write-file-atomic` because the sidecar and the links also need
 * the folder itself fsynced after the rename (that library does not), the links are symlinks, which it
 * does not write, and a temp file here is locked while it is written (./reclaim.ts tells a killed
 * writer's leftover by that).
 */
import { createHash } from 'node:crypto';
import { fsync, writeFile, type Stats } from 'node:fs';
import { copyFile, lstat, open, readdir, readlink, rename, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { AsrTrainerError } from '../errors.js';
import { loadNative } from '../native/index.js';
import { tempNameFor } from './names.js';

const writeToDescriptor = promisify(writeFile);
const fsyncDescriptor = promisify(fsync);

export function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

export async function lstatOrNull(filePath: string): Promise<Stats | null> {
  try {
    return await lstat(filePath);
  } catch (error) {
    if (errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR') return null;
    throw error;
  }
}

/** A symlink's target as written; null when there is no entry or it is not a link. */
export async function readlinkOrNull(filePath: string): Promise<string | null> {
  try {
    return await readlink(filePath);
  } catch (error) {
    if (errno(error) === 'ENOENT' || errno(error) === 'EINVAL') return null;
    throw error;
  }
}

/** The folder's entries; none while it does not exist yet (it is made on the first write). */
export async function readNames(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (errno(error) === 'ENOENT') return [];
    throw error;
  }
}

/** Makes a rename or unlink in `dir` durable: without it a power cut can bring back the old entry. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * A new temp file beside `filePath`, created and locked by the addon (as its own `.pt` writer does): a run's
 * start removes only the temp files nobody holds locked (./reclaim.ts), so this one is safe until unlocked.
 */
function createLockedTemp(filePath: string): { temp: string; fd: number } {
  const native = loadNative();
  // null: a reclaim caught the new file in the instant before its lock, and removes it; the next name is new.
  for (;;) {
    const temp = path.join(path.dirname(filePath), tempNameFor(path.basename(filePath)));
    const fd = native.createLockedFile(temp);
    if (fd !== null) return { temp, fd };
  }
}

/** temp (exclusive create, locked) + write + fsync + rename + folder fsync: readers see the old file or the new one. */
export async function writeFileAtomic(filePath: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(filePath);
  const { temp, fd } = createLockedTemp(filePath);
  try {
    await writeToDescriptor(fd, data);
    await fsyncDescriptor(fd);
    await rename(temp, filePath);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  } finally {
    // Only after the rename: until then the lock is what tells a reclaim that this writer lives.
    loadNative().unlockFile(fd);
  }
  await fsyncDir(dir);
}

/**
 * Points `linkPath` at `target` (a name in the same folder, so the link stays valid when the folder
 * moves) by making the link under a temp name and renaming it over the old one: at no moment is
 * there no link or a half-made one.
 */
export async function replaceSymlink(linkPath: string, target: string): Promise<void> {
  const dir = path.dirname(linkPath);
  const temp = path.join(dir, tempNameFor(path.basename(linkPath)));
  await symlink(target, temp);
  try {
    await rename(temp, linkPath);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await fsyncDir(dir);
}

/** Read buffers sha256File() hands back for reuse (at most a few: hashes rarely overlap). */
const spareBuffers: Buffer[] = [];
const HASH_CHUNK = 1 << 20;

/**
 * sha256 and byte count of a file, read in 1 MiB chunks into a reused buffer. A read stream would
 * allocate a new buffer per chunk, the whole file's worth per hash, and that memory stays in the
 * process until a garbage collection: after each checkpoint commit the trainer's RSS jumped by a few
 * times the checkpoint size (the chaos soak test saw it).
 */
export async function sha256File(filePath: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  const handle = await open(filePath, 'r');
  const buffer = spareBuffers.pop() ?? Buffer.allocUnsafeSlow(HASH_CHUNK);
  let size = 0;
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, HASH_CHUNK, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
  } finally {
    if (spareBuffers.length < 4) spareBuffers.push(buffer);
    await handle.close();
  }
  return { sha256: hash.digest('hex'), size };
}

/**
 * Copies `source` to `target` (another folder, another disk) so that `target` is either absent or a
 * complete copy whose sha256 is `sha256`: copied under a temp name, fsynced, hashed again from the
 * copy, then renamed into place. A copy that does not match is removed and reported as E_IO.
 */
export async function copyFileVerified(source: string, target: string, sha256: string): Promise<void> {
  const dir = path.dirname(target);
  const { temp, fd } = createLockedTemp(target);
  try {
    // Into the locked file itself (no COPYFILE_EXCL: it exists), so a reclaim keeps it while it is copied.
    await copyFile(source, temp);
    await fsyncDescriptor(fd);
    const copied = await sha256File(temp);
    if (copied.sha256 !== sha256) {
      throw new AsrTrainerError(
        'E_IO',
        `the copy of '${source}' in '${dir}' has sha256 ${copied.sha256}, not ${sha256}`,
      );
    }
    await rename(temp, target);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  } finally {
    loadNative().unlockFile(fd);
  }
  await fsyncDir(dir);
}

/**
 * One writer per model/dataset in a checkpoint folder. Written here rather than with
 * `proper-lockfile` because that library decides staleness by the lock's age, so a trainer killed by
 * SIGKILL blocks the next start until the timeout runs out; ours records the pid and the process start
 * time and takes a lock over as soon as its owner is provably gone.
 */
import { readFileSync, unlinkSync } from 'node:fs';
import { link, open, readFile, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AsrTrainerError } from '../errors.js';
import { fsyncDir } from './files.js';
import { tempNameFor } from './names.js';

export interface LockOwner {
  pid: number;
  hostname: string;
  started_at: string;
  /** Kernel start time of the process (/proc/PID/stat field 22), so a reused pid is not taken for the owner. */
  process_start: string | null;
  model_name: string;
  dataset_name: string;
}

export interface CheckpointLock {
  readonly path: string;
  readonly owner: LockOwner;
  /** Removes the lock if it is still ours; safe to call twice. */
  release(): Promise<void>;
}

/** A takeover in progress older than this was abandoned by a killed process. */
const TAKEOVER_STALE_MS = 10_000;

export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why the owner is gone, or null while it may still be running. */
export function staleReason(owner: LockOwner): string | null {
  if (owner.hostname !== os.hostname()) return null; // another machine's pid cannot be checked
  if (!isAlive(owner.pid)) return `process ${owner.pid} is no longer running`;
  const start = processStartTime(owner.pid);
  if (owner.process_start !== null && start !== null && start !== owner.process_start) {
    return `pid ${owner.pid} now belongs to another process`;
  }
  return null;
}

function parseOwner(text: string): LockOwner | null {
  try {
    const value = JSON.parse(text) as Partial<LockOwner>;
    if (typeof value.pid !== 'number' || !Number.isSafeInteger(value.pid) || value.pid <= 0) return null;
    if (typeof value.hostname !== 'string' || typeof value.started_at !== 'string') return null;
    return value as LockOwner;
  } catch {
    return null;
  }
}

async function writeComplete(filePath: string, text: string): Promise<string> {
  // The content is written under a temp name and then hard-linked: link() fails if the lock exists,
  // and a reader never sees a half-written lock.
  const temp = path.join(path.dirname(filePath), tempNameFor(path.basename(filePath)));
  const handle = await open(temp, 'wx', 0o644);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return temp;
}

async function tryLink(temp: string, target: string): Promise<boolean> {
  try {
    await link(temp, target);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

export interface AcquireLockOptions {
  dir: string;
  fileName: string;
  model: string;
  dataset: string;
  /** Told about a stale lock that was taken over. */
  onTakeover?: (previous: LockOwner, reason: string) => void;
}

export async function acquireLock(options: AcquireLockOptions): Promise<CheckpointLock> {
  const lockPath = path.join(options.dir, options.fileName);
  const owner: LockOwner = {
    pid: process.pid,
    hostname: os.hostname(),
    started_at: new Date().toISOString(),
    process_start: processStartTime(process.pid),
    model_name: options.model,
    dataset_name: options.dataset,
  };
  const text = `${JSON.stringify(owner)}\n`;
  const temp = await writeComplete(lockPath, text);
  try {
    if (!(await tryLink(temp, lockPath))) {
      await takeOverIfStale(lockPath, options);
      if (!(await tryLink(temp, lockPath))) await throwLocked(lockPath, options);
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await fsyncDir(options.dir);

  let released = false;
  const releaseSync = (): void => {
    if (released) return;
    released = true;
    try {
      if (readFileSync(lockPath, 'utf8') === text) unlinkSync(lockPath);
    } catch {
      // Already gone.
    }
  };
  // A normal exit that forgot release() must not leave a lock naming a live-looking pid behind.
  process.once('exit', releaseSync);
  return {
    path: lockPath,
    owner,
    async release() {
      process.removeListener('exit', releaseSync);
      releaseSync();
    },
  };
}

async function readOwner(lockPath: string): Promise<{ text: string; owner: LockOwner | null } | null> {
  try {
    const text = await readFile(lockPath, 'utf8');
    return { text, owner: parseOwner(text) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

async function takeOverIfStale(lockPath: string, options: AcquireLockOptions): Promise<void> {
  const seen = await readOwner(lockPath);
  if (seen === null) return; // released meanwhile
  // Locks are written whole (see writeComplete), so an unreadable one was not made by this code: leave it.
  if (seen.owner === null) return;
  const reason = staleReason(seen.owner);
  if (reason === null) return;

  // Two processes may find the same stale lock; a short exclusive guard lets one of them replace it.
  const guard = `${lockPath}.takeover`;
  try {
    const handle = await open(guard, 'wx');
    await handle.close();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const age = Date.now() - (await stat(guard).then((s) => s.mtimeMs, () => Date.now()));
    if (age > TAKEOVER_STALE_MS) await unlink(guard).catch(() => undefined);
    return;
  }
  try {
    const again = await readOwner(lockPath);
    if (again !== null && again.text === seen.text) {
      await unlink(lockPath);
      options.onTakeover?.(seen.owner, reason);
    }
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

async function throwLocked(lockPath: string, options: AcquireLockOptions): Promise<never> {
  const seen = await readOwner(lockPath);
  const who =
    seen?.owner != null
      ? `process ${seen.owner.pid} on ${seen.owner.hostname} (since ${seen.owner.started_at})`
      : 'another process (unreadable lock file)';
  throw new AsrTrainerError(
    'E_LOCKED',
    `Checkpoints of model '${options.model}' and dataset '${options.dataset}' in '${options.dir}' are being written by ${who}; stop that trainer, or delete '${lockPath}' if it no longer runs`,
    { lock: lockPath, owner: seen?.owner ?? null },
  );
}

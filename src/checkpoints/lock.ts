/**
 * One writer per model/dataset in a checkpoint folder, held as a kernel lock on the lock file
 * (fcntl F_OFD_SETLK through the addon, native/core/include/asr/file_lock.h). The kernel drops it when
 * the holder dies, however it dies, and a killed holder left a zombie by a parent that does not reap it
 * holds nothing: a pid check cannot tell that zombie from a live trainer, which is why neither a pid
 * check (our earlier lock) nor `proper-lockfile` (staleness by age: a SIGKILLed trainer blocks the next
 * start until a timeout) decides here. The JSON record in the file (./lock-owner.ts) names the holder
 * for messages, and carries a lease for machines sharing the folder that cannot see the kernel lock.
 */
import { closeSync, fstatSync, ftruncateSync, fsyncSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AsrTrainerError } from '../errors.js';
import { loadNative } from '../native/index.js';
import { fsyncDir } from './files.js';
import {
  LOCK_LEASE_MS,
  LOCK_RENEW_MS,
  describeOwner,
  leaseExpiry,
  parseOwner,
  processStartTime,
  staleReason,
  type LockOwner,
} from './lock-owner.js';

export { isProcessRunning, processStartTime, staleReason, type LockOwner } from './lock-owner.js';

export interface CheckpointLock {
  readonly path: string;
  readonly owner: LockOwner;
  /** The descriptor holding the kernel lock: a child process given it (stdio) adopts the lock. */
  readonly fd: number;
  /** Removes the lock if it is still ours; safe to call twice. */
  release(): Promise<void>;
}

export interface AcquireLockOptions {
  dir: string;
  fileName: string;
  model: string;
  dataset: string;
  /** Told about a dead holder's lock that was taken over. */
  onTakeover?: (previous: LockOwner, reason: string) => void;
  /**
   * This lock's descriptor, inherited from the process that took it (the server hands it to its trainer);
   * by default the one INHERITED_LOCK_ENV names for this lock file.
   */
  inheritedFd?: number;
  /** How often the lease is renewed (tests shorten it). */
  renewMs?: number;
}

/**
 * How a parent hands its lock to the child it forks (src/training/supervisor.ts): `FD:PATH`, the child's
 * descriptor number of the parent's open lock file, and the lock file's path.
 */
export const INHERITED_LOCK_ENV = 'ASR_INHERITED_LOCK';

/** The environment that tells a child to adopt `lock` from descriptor `childFd`. */
export function inheritedLockEnv(lock: CheckpointLock, childFd: number): NodeJS.ProcessEnv {
  return { [INHERITED_LOCK_ENV]: `${childFd}:${path.resolve(lock.path)}` };
}

/** The inherited descriptor of `lockPath`, once: a later acquire in this process takes its own lock. */
function takeInheritedFd(lockPath: string): number | undefined {
  const value = process.env[INHERITED_LOCK_ENV];
  const match = value === undefined ? null : /^(\d+):(.+)$/.exec(value);
  if (match === null || path.resolve(match[2]!) !== path.resolve(lockPath)) return undefined;
  delete process.env[INHERITED_LOCK_ENV];
  return Number(match[1]);
}

/** How long a lock whose recorded holder is gone is retried (see lockWhenHolderDies). */
const DYING_HOLDER_WAIT_MS = 2_000;

/** Records are padded to one size, so a renewal rewrites the file in one write and never shortens it. */
const RECORD_BYTES = 512;

export async function acquireLock(options: AcquireLockOptions): Promise<CheckpointLock> {
  const lockPath = path.join(options.dir, options.fileName);
  const native = loadNative();
  const inheritedFd = options.inheritedFd ?? takeInheritedFd(lockPath);
  if (inheritedFd !== undefined) {
    const fd = native.adoptFileLock(inheritedFd, lockPath);
    const owner = parseOwner(readRecord(fd)) ?? newOwner(options);
    // The parent wrote the record and removes the file when it lets go; this process only keeps the lock.
    return hold(fd, lockPath, owner, { removeOnRelease: false, renewMs: options.renewMs });
  }

  const fd = native.lockFile(lockPath) ?? (await lockWhenHolderDies(lockPath));
  if (fd === null) throwLocked(lockPath, options, readRecordAt(lockPath), null);
  const owner = newOwner(options);
  let previous: LockOwner | null;
  try {
    previous = parseOwner(readRecord(fd));
    if (previous !== null) refuseLiveLease(lockPath, options, previous);
    writeRecord(fd, owner);
    await fsyncDir(options.dir);
  } catch (error) {
    native.unlockFile(fd);
    throw error;
  }
  if (previous !== null) options.onTakeover?.(previous, takeoverReason(previous));
  return hold(fd, lockPath, owner, { removeOnRelease: true, renewMs: options.renewMs });
}

/**
 * A SIGKILLed process shows as a zombie as soon as its main thread is gone, while its other threads may
 * still be exiting and holding its files, the lock included, for some milliseconds more. When the
 * record names a process of this machine that is gone, the lock is tried again for a moment.
 */
async function lockWhenHolderDies(lockPath: string): Promise<number | null> {
  const holder = readRecordAt(lockPath);
  if (holder === null || staleReason(holder) === null) return null;
  const deadline = Date.now() + DYING_HOLDER_WAIT_MS;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const fd = loadNative().lockFile(lockPath);
    if (fd !== null) return fd;
  }
  return null;
}

function newOwner(options: AcquireLockOptions): LockOwner {
  const now = new Date().toISOString();
  return {
    pid: process.pid,
    hostname: os.hostname(),
    started_at: now,
    process_start: processStartTime(process.pid),
    model_name: options.model,
    dataset_name: options.dataset,
    renewed_at: now,
    lease_ms: LOCK_LEASE_MS,
  };
}

/**
 * The kernel lock was free, so a holder on this machine is gone. A record of another machine may
 * still be live: its kernel lock is invisible where the filesystem keeps locks local, so its lease
 * decides, and a record from before leases is honoured as it always was.
 */
function refuseLiveLease(lockPath: string, options: AcquireLockOptions, previous: LockOwner): void {
  if (previous.hostname === os.hostname()) return;
  const expiry = leaseExpiry(previous);
  if (expiry === null || expiry > Date.now()) throwLocked(lockPath, options, previous, expiry);
}

function takeoverReason(previous: LockOwner): string {
  if (previous.hostname !== os.hostname()) {
    return `its lease from ${previous.hostname} expired at ${new Date(leaseExpiry(previous)!).toISOString()}`;
  }
  return staleReason(previous) ?? 'it no longer held the kernel lock';
}

function hold(
  fd: number,
  lockPath: string,
  owner: LockOwner,
  options: { removeOnRelease: boolean; renewMs?: number },
): CheckpointLock {
  const renew = setInterval(() => {
    try {
      writeRecord(fd, { ...owner, renewed_at: new Date().toISOString() });
    } catch {
      // A full disk or a lost volume: the next renewal tries again; meanwhile the lease runs on.
    }
  }, options.renewMs ?? LOCK_RENEW_MS);
  renew.unref();

  let released = false;
  const releaseSync = (): void => {
    if (released) return;
    released = true;
    clearInterval(renew);
    process.removeListener('exit', releaseSync);
    const native = loadNative();
    native.unlockFile(fd);
    if (options.removeOnRelease) removeIfFree(lockPath, owner);
  };
  // A normal exit that forgot release() must not leave a record behind (the kernel lock goes anyway).
  process.once('exit', releaseSync);
  return {
    path: lockPath,
    owner,
    fd,
    async release() {
      releaseSync();
    },
  };
}

/**
 * Removes the lock file once nobody holds it: a child given the descriptor (the trainer) may still hold
 * the same lock, and a file removed under it would let the next process lock a new file beside it. The
 * file is removed under a fresh lock (see FileLock::try_acquire) and only while its record is ours.
 */
function removeIfFree(lockPath: string, owner: LockOwner): void {
  const native = loadNative();
  let fd: number | null = null;
  try {
    fd = native.lockFile(lockPath);
    if (fd === null) return;
    const text = readRecord(fd);
    // Empty: the file did not exist any more, and lockFile just created it.
    if (text === '' || isOwnRecord(text, owner)) unlinkSync(lockPath);
  } catch {
    // Already gone, or the folder is unreachable: the next taker finds a free kernel lock anyway.
  } finally {
    if (fd !== null) native.unlockFile(fd);
  }
}

function isOwnRecord(text: string, owner: LockOwner): boolean {
  const seen = parseOwner(text);
  return (
    seen !== null && seen.pid === owner.pid && seen.hostname === owner.hostname && seen.started_at === owner.started_at
  );
}

function writeRecord(fd: number, owner: LockOwner): void {
  const text = `${JSON.stringify(owner)}\n`.padEnd(RECORD_BYTES, ' ');
  const bytes = Buffer.from(text);
  writeSync(fd, bytes, 0, bytes.length, 0);
  ftruncateSync(fd, bytes.length);
  fsyncSync(fd);
}

function readRecord(fd: number): string {
  const size = fstatSync(fd).size;
  const buffer = Buffer.alloc(Math.min(size, 64 * 1024));
  const read = readSync(fd, buffer, 0, buffer.length, 0);
  return buffer.subarray(0, read).toString('utf8');
}

function readRecordAt(lockPath: string): LockOwner | null {
  try {
    const fd = openSync(lockPath, 'r');
    try {
      return parseOwner(readRecord(fd));
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
}

function throwLocked(
  lockPath: string,
  options: AcquireLockOptions,
  owner: LockOwner | null,
  leaseEnd: number | null,
): never {
  const who = describeOwner(owner);
  const remote = owner !== null && owner.hostname !== os.hostname();
  const fix = !remote
    ? 'stop that trainer first'
    : leaseEnd !== null
      ? `stop that trainer, or, if it no longer runs, wait until its lease expires at ${new Date(leaseEnd).toISOString()}`
      : `stop that trainer, or delete '${lockPath}' if it no longer runs`;
  throw new AsrTrainerError(
    'E_LOCKED',
    `Checkpoints of model '${options.model}' and dataset '${options.dataset}' in '${options.dir}' are being written by ${who}; ${fix}`,
    { lock: lockPath, owner },
  );
}

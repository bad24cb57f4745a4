/**
 * The owner record inside a checkpoint lock file: who holds it, for messages, and the lease that lets a
 * machine that cannot see the holder's kernel lock (a shared folder whose filesystem keeps locks local)
 * tell a live holder from a dead one. On one machine the kernel lock alone decides (./lock.ts).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface LockOwner {
  pid: number;
  hostname: string;
  started_at: string;
  /** Kernel start time of the process (/proc/PID/stat field 22), so a reused pid is not taken for the owner. */
  process_start: string | null;
  model_name: string;
  dataset_name: string;
  /** Last renewal by the holder (ISO time); absent in records written before leases. */
  renewed_at?: string;
  /** Another machine honours the record until renewed_at + lease_ms. */
  lease_ms?: number;
}

/**
 * A holder renews every LOCK_RENEW_MS; the lease outlives six missed renewals, so a busy event loop
 * never loses it, and the clocks of the machines may differ by seconds (NTP keeps them far closer).
 */
export const LOCK_LEASE_MS = 30_000;
export const LOCK_RENEW_MS = 5_000;

/** Fields 3 (state) and 22 (start time) of /proc/PID/stat, or null when there is no such process. */
function procStat(pid: number): { state: string; start: string | null } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', start: fields[19] ?? null };
  } catch {
    return null;
  }
}

export function processStartTime(pid: number): string | null {
  return procStat(pid)?.start ?? null;
}

/**
 * Whether a pid of this machine runs. A zombie (Z) or a dying process (X) does not: a killed process
 * stays a zombie until its parent or PID 1 reaps it, which in a container without an init may be never,
 * and kill(pid, 0) succeeds on it all that time.
 */
export function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const state = procStat(pid)?.state;
  return state !== 'Z' && state !== 'X';
}

/** Why the record's process is gone, or null while it may still be running (messages only). */
export function staleReason(owner: LockOwner): string | null {
  if (owner.hostname !== os.hostname()) return null; // another machine's pid cannot be checked
  const stat = procStat(owner.pid);
  if (stat?.state === 'Z' || stat?.state === 'X') return `process ${owner.pid} was killed and is a zombie`;
  if (!isProcessRunning(owner.pid)) return `process ${owner.pid} is no longer running`;
  if (owner.process_start !== null && stat?.start != null && stat.start !== owner.process_start) {
    return `pid ${owner.pid} now belongs to another process`;
  }
  return null;
}

/** When another machine's lease runs out (ms since the epoch); null for a record without a lease. */
export function leaseExpiry(owner: LockOwner): number | null {
  if (typeof owner.renewed_at !== 'string' || typeof owner.lease_ms !== 'number') return null;
  const renewed = Date.parse(owner.renewed_at);
  return Number.isFinite(renewed) ? renewed + owner.lease_ms : null;
}

export function parseOwner(text: string): LockOwner | null {
  try {
    const value = JSON.parse(text) as Partial<LockOwner>;
    if (typeof value.pid !== 'number' || !Number.isSafeInteger(value.pid) || value.pid <= 0) return null;
    if (typeof value.hostname !== 'string' || typeof value.started_at !== 'string') return null;
    return value as LockOwner;
  } catch {
    return null;
  }
}

/** Who holds a lock, for messages. */
export function describeOwner(owner: LockOwner | null): string {
  return owner !== null
    ? `process ${owner.pid} on ${owner.hostname} (since ${owner.started_at})`
    : 'another process (unreadable lock file)';
}

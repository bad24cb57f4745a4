import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireLock, isProcessRunning, processStartTime } from '../../src/checkpoints/lock.js';
import { waitUntil } from '../helpers/wait.js';
import { exited, newStore, procState } from './helpers.js';

const HOLD_LOCK = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'hold-lock.ts');
const LOCK = 'conformer-mini-ljspeech.lock';
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function start(args: string[]): ChildProcess {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

function saysLocked(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('locked')) resolve();
    });
    child.stderr!.on('data', (chunk: Buffer) => void (err += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`lock holder exited with ${code}: ${err}`)));
  });
}

/** The holder's pid, printed by the sh that started it in the background ("pid N"). */
function holderPid(parent: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    let out = '';
    const look = (chunk?: Buffer): void => {
      if (chunk) out += chunk.toString();
      const match = /pid (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    };
    parent.stdout!.on('data', look);
  });
}

/** The pid of a process that has run and ended. */
async function deadPid(): Promise<number> {
  const child = start(['-e', '']);
  await exited(child);
  return child.pid!;
}

function lockText(pid: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    pid,
    hostname: os.hostname(),
    started_at: '2026-01-01T00:00:00.000Z',
    process_start: processStartTime(pid),
    model_name: 'conformer',
    dataset_name: 'mini-ljspeech',
    ...extra,
  });
}

describe('checkpoint folder lock', () => {
  it('records pid and start time, refuses a second writer, and frees on release', async () => {
    const { dir, store } = await newStore();
    const lock = await store.acquireLock('conformer', 'mini-ljspeech');
    const owner = JSON.parse(await readFile(path.join(dir, LOCK), 'utf8'));
    expect(owner).toMatchObject({ pid: process.pid, hostname: os.hostname(), model_name: 'conformer' });
    expect(Date.parse(owner.started_at)).toBeGreaterThan(0);
    expect(owner.process_start).toBe(processStartTime(process.pid));

    await expect(store.acquireLock('conformer', 'mini-ljspeech')).rejects.toMatchObject({
      code: 'E_LOCKED',
      message: expect.stringContaining(`process ${process.pid}`),
    });
    // Another dataset is another writer.
    const other = await store.acquireLock('conformer', 'ljspeech');
    await other.release();

    await lock.release();
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
    const again = await store.acquireLock('conformer', 'mini-ljspeech');
    await again.release();
  });

  it('takes over the lock of a dead pid, with a warning', async () => {
    const { dir, store, log } = await newStore();
    const pid = await deadPid();
    await writeFile(path.join(dir, LOCK), lockText(pid));
    const lock = await store.acquireLock('conformer', 'mini-ljspeech');
    expect(JSON.parse(await readFile(path.join(dir, LOCK), 'utf8')).pid).toBe(process.pid);
    expect(log.warnings).toEqual([
      expect.stringContaining(`from process ${pid} (process ${pid} is no longer running)`),
    ]);
    await lock.release();
  });

  it('takes over a lock whose pid now belongs to another process', async () => {
    const { dir, store, log } = await newStore();
    const sleeper = start(['-e', 'setInterval(() => {}, 1000)']);
    await writeFile(path.join(dir, LOCK), lockText(sleeper.pid!, { process_start: '1' }));
    const lock = await store.acquireLock('conformer', 'mini-ljspeech');
    expect(log.warnings[0]).toMatch(/now belongs to another process/);
    await lock.release();
  });

  it('refuses a lock held by a live process, naming it and the fix', async () => {
    const { dir, store } = await newStore();
    const holder = start(['--import', 'tsx', HOLD_LOCK, dir, 'conformer', 'mini-ljspeech', 'hold']);
    await saysLocked(holder);
    await expect(store.acquireLock('conformer', 'mini-ljspeech')).rejects.toMatchObject({
      code: 'E_LOCKED',
      message: expect.stringMatching(
        new RegExp(`process ${holder.pid} on ${os.hostname()} .*; stop that trainer first`),
      ),
    });
  });

  it('takes over a record naming a live process that holds no kernel lock (the record only names the holder)', async () => {
    const { dir, store, log } = await newStore();
    const sleeper = start(['-e', 'setInterval(() => {}, 1000)']);
    await writeFile(path.join(dir, LOCK), lockText(sleeper.pid!));
    const lock = await store.acquireLock('conformer', 'mini-ljspeech');
    expect(log.warnings).toEqual([
      expect.stringContaining(`from process ${sleeper.pid} (it no longer held the kernel lock)`),
    ]);
    await lock.release();
  });

  it('a killed holder left a zombie by a parent that never reaps it does not block the next start', async () => {
    const { dir, store, log } = await newStore();
    // sh starts the holder in the background and becomes `sleep`, which never waits for children.
    const parent = spawn(
      'sh',
      [
        '-c',
        `"${process.execPath}" --import tsx "${HOLD_LOCK}" "${dir}" conformer mini-ljspeech hold & echo "pid $!"; exec sleep 300`,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(parent);
    const holder = holderPid(parent);
    await saysLocked(parent);
    const pid = await holder;
    await expect(store.acquireLock('conformer', 'mini-ljspeech')).rejects.toMatchObject({ code: 'E_LOCKED' });

    process.kill(pid, 'SIGKILL');
    await waitUntil('the killed holder to be a zombie', () => procState(pid) === 'Z');
    process.kill(pid, 0); // a zombie still answers signal 0: the check the old lock relied on
    const lock = await store.acquireLock('conformer', 'mini-ljspeech');
    expect(log.warnings).toEqual([
      expect.stringContaining(`from process ${pid} (process ${pid} was killed and is a zombie)`),
    ]);
    expect(isProcessRunning(pid)).toBe(false);
    await lock.release();
  });

  it('a trainer child that adopts the inherited descriptor keeps the lock after its parent lets go', async () => {
    const { dir, store } = await newStore();
    const lock = await store.acquireLock('conformer', 'mini-ljspeech');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', HOLD_LOCK, dir, 'conformer', 'mini-ljspeech', 'adopt', '3'],
      {
        stdio: ['ignore', 'pipe', 'pipe', lock.fd],
      },
    );
    children.push(child);
    await saysLocked(child);
    await lock.release();
    await expect(store.acquireLock('conformer', 'mini-ljspeech')).rejects.toMatchObject({
      code: 'E_LOCKED',
      message: expect.stringContaining(`process ${process.pid}`),
    });
    child.kill('SIGKILL');
    await exited(child);
    const again = await store.acquireLock('conformer', 'mini-ljspeech');
    await again.release();
  });

  it('refuses a lock of another machine, whose pid cannot be checked', async () => {
    const { dir, store } = await newStore();
    await writeFile(path.join(dir, LOCK), lockText(await deadPid(), { hostname: 'elsewhere.example' }));
    await expect(store.acquireLock('conformer', 'mini-ljspeech')).rejects.toMatchObject({ code: 'E_LOCKED' });
  });

  it("honours another machine's record until its lease expires, then takes it over", async () => {
    const { dir, store, log } = await newStore();
    const remote = { hostname: 'elsewhere.example', lease_ms: 30_000 };
    await writeFile(
      path.join(dir, LOCK),
      lockText(process.pid, { ...remote, renewed_at: new Date(Date.now() - 5_000).toISOString() }),
    );
    await expect(store.acquireLock('conformer', 'mini-ljspeech')).rejects.toMatchObject({
      code: 'E_LOCKED',
      message: expect.stringMatching(/on elsewhere\.example .*wait until its lease expires at /),
    });

    await writeFile(
      path.join(dir, LOCK),
      lockText(process.pid, { ...remote, renewed_at: new Date(Date.now() - 31_000).toISOString() }),
    );
    const lock = await store.acquireLock('conformer', 'mini-ljspeech');
    expect(log.warnings).toEqual([expect.stringMatching(/its lease from elsewhere\.example expired at /)]);
    await lock.release();
  });

  it('renews its lease while held', async () => {
    const { dir } = await newStore();
    const lock = await acquireLock({ dir, fileName: LOCK, model: 'conformer', dataset: 'mini-ljspeech', renewMs: 20 });
    const first = JSON.parse(await readFile(path.join(dir, LOCK), 'utf8'));
    expect(first).toMatchObject({ lease_ms: 30_000, renewed_at: first.started_at });
    await waitUntil(
      'a renewal',
      async () => JSON.parse(await readFile(path.join(dir, LOCK), 'utf8')).renewed_at !== first.renewed_at,
    );
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('does not remove a lock that is no longer its own on release', async () => {
    const { dir, store } = await newStore();
    const lock = await store.acquireLock('conformer', 'mini-ljspeech');
    await writeFile(path.join(dir, LOCK), lockText(await deadPid()));
    await lock.release();
    expect(await readdir(dir)).toEqual([LOCK]);
  });

  it('takes over from a trainer killed with SIGKILL', async () => {
    const { dir, store, log } = await newStore();
    const holder = start(['--import', 'tsx', HOLD_LOCK, dir, 'conformer', 'mini-ljspeech', 'hold']);
    await saysLocked(holder);
    await expect(store.acquireLock('conformer', 'mini-ljspeech')).rejects.toMatchObject({ code: 'E_LOCKED' });
    holder.kill('SIGKILL');
    await exited(holder);
    const lock = await store.acquireLock('conformer', 'mini-ljspeech');
    expect(log.warnings[0]).toContain(`from process ${holder.pid}`);
    await lock.release();
  });

  it('leaves no lock behind when its process exits without releasing', async () => {
    const { dir } = await newStore();
    const holder = start(['--import', 'tsx', HOLD_LOCK, dir, 'conformer', 'mini-ljspeech', 'exit']);
    await saysLocked(holder).catch(() => undefined);
    await exited(holder);
    expect(holder.exitCode).toBe(0);
    expect(await readdir(dir)).toEqual([]);
  });
});

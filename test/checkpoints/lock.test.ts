import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { processStartTime } from '../../src/checkpoints/lock.js';
import { newStore } from './helpers.js';

const HOLD_LOCK = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'hold-lock.ts');
const LOCK = 'conformer-mini-ljspeech.lock';
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function start(args: string[]): ChildProcess {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
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
    expect(log.warnings).toEqual([expect.stringContaining(`from process ${pid} (process ${pid} is no longer running)`)]);
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
    const sleeper = start(['-e', 'setInterval(() => {}, 1000)']);
    await writeFile(path.join(dir, LOCK), lockText(sleeper.pid!));
    await expect(store.acquireLock('conformer', 'mini-ljspeech')).rejects.toMatchObject({
      code: 'E_LOCKED',
      message: expect.stringMatching(new RegExp(`process ${sleeper.pid} .*delete '.*${LOCK}' if it no longer runs`)),
    });
  });

  it('refuses a lock of another machine, whose pid cannot be checked', async () => {
    const { dir, store } = await newStore();
    await writeFile(path.join(dir, LOCK), lockText(await deadPid(), { hostname: 'elsewhere.example' }));
    await expect(store.acquireLock('conformer', 'mini-ljspeech')).rejects.toMatchObject({ code: 'E_LOCKED' });
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

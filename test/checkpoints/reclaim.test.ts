/**
 * Temp files of writers killed mid-save: real writer processes (the addon's `.pt` writer, and processes
 * holding a temp file the way every writer does), SIGKILLed, one of them left a zombie by a parent that
 * never reaps it. A run's start removes what they left and logs the bytes; it never touches a committed
 * file or a live writer's temp file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, watch } from 'node:fs';
import { symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { copyFileVerified } from '../../src/checkpoints/files.js';
import { isTempName } from '../../src/checkpoints/names.js';
import { runCli } from '../cli/run-cli.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';
import { ONE_THREAD } from '../distributed/helpers.js';
import { waitUntil } from '../helpers/wait.js';
import { exited, newStore, procState, save, tempDir } from './helpers.js';

// The one seam here: a backup copy can be held between its copy and its rename (copyPause), to be caught
// mid-write as a reclaim started beside it would catch it; the copy itself is the real one.
const copyPause = vi.hoisted(() => ({ wait: null as null | (() => Promise<void>) }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const copyFile: typeof fs.copyFile = async (...args) => {
    await fs.copyFile(...args);
    await copyPause.wait?.();
  };
  return { ...fs, copyFile };
});

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const HOLD_TEMP = path.join(FIXTURES, 'hold-temp.ts');
const SAVE_FOREVER = path.join(FIXTURES, 'save-forever.ts');

const children: ChildProcess[] = [];
let workspace: TestWorkspace | undefined;
afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  workspace?.cleanup();
  workspace = undefined;
});

function start(command: string, args: string[]): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...ONE_THREAD } });
  children.push(child);
  return child;
}

/** Resolves with the child's stdout once it contains `text`; rejects if the child ends first. */
function says(child: ChildProcess, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(text)) resolve(out);
    });
    child.stderr!.on('data', (chunk: Buffer) => void (err += chunk.toString()));
    child.once('exit', (code, signal) => reject(new Error(`exited with ${code ?? signal} before '${text}': ${err}`)));
  });
}

/** A process holding DIR/NAME, BYTES long, as a writer holds its temp file. */
async function holder(dir: string, name: string, bytes: number): Promise<ChildProcess> {
  const child = start(process.execPath, ['--import', 'tsx', HOLD_TEMP, dir, name, String(bytes)]);
  await says(child, 'holding');
  return child;
}

/**
 * The same, started by `sh` in the background; sh then becomes `sleep`, which never waits for its children:
 * once killed, the holder stays a zombie (PID 1 is not its parent). Resolves with the holder's pid.
 */
async function unreapedHolder(dir: string, name: string, bytes: number): Promise<number> {
  const holderArgs = ['--import', 'tsx', HOLD_TEMP, dir, name, String(bytes)].map((a) => `"${a}"`).join(' ');
  const parent = start('sh', ['-c', `"${process.execPath}" ${holderArgs} & echo "pid $!"; exec sleep 300`]);
  const out = await says(parent, 'holding');
  return Number(/pid (\d+)/.exec(out)![1]);
}

describe('reclaiming the temp files of killed writers', () => {
  it('removes killed writers’ temp files (a zombie’s too), keeps a live writer’s and every committed file', async () => {
    const { dir, store, log } = await newStore();
    await save(store, { epoch: 1, valCer: 0.5, bytes: 4096 });
    const committed = readdirSync(dir).sort();
    // Another pair's trainer mid-save, alive; two killed ones, one of them never reaped.
    const live = 'other-set-epoch-3.pt.tmp-1-live';
    await holder(dir, live, 3000);
    const killed = 'conformer-mini-ljspeech-epoch-2.pt.tmp-2-killed';
    const victim = await holder(dir, killed, 5000);
    victim.kill('SIGKILL');
    await exited(victim);
    const zombieTemp = '.conformer-mini-ljspeech-epoch-2.pt.json.tmp-3-zombie';
    const zombie = await unreapedHolder(dir, zombieTemp, 700);
    // A writer without a lock (an older build's) that is gone: nobody holds its file.
    const unlocked = 'conformer-mini-ljspeech-epoch-1-step-5.pt.tmp-4-1234';
    await writeFile(path.join(dir, unlocked), Buffer.alloc(100));
    // A link's temp cannot be locked, so it is never judged here.
    const linkTemp = '.conformer-mini-ljspeech-latest.pt.tmp-5-link';
    await symlink('conformer-mini-ljspeech-epoch-1.pt', path.join(dir, linkTemp));

    // The zombie's holder is alive yet: its file is kept with the live one.
    const first = await store.reclaimAbandonedTemps();
    expect(first.map((r) => r.name).sort()).toEqual([killed, unlocked].sort());
    expect(first.find((r) => r.name === killed)?.bytes).toBe(5000);

    process.kill(zombie, 'SIGKILL');
    await waitUntil('the killed holder to be a zombie', () => procState(zombie) === 'Z');
    // A SIGKILLed Node shows as a zombie while its other threads may still hold its files for a moment.
    const removed = [...first];
    await waitUntil("the zombie's temp file to be reclaimed", async () => {
      removed.push(...(await store.reclaimAbandonedTemps()));
      return removed.some((r) => r.name === zombieTemp);
    });
    expect(procState(zombie)).toBe('Z');
    expect(removed.find((r) => r.name === zombieTemp)?.bytes).toBe(700);

    expect(readdirSync(dir).sort()).toEqual([...committed, linkTemp, live].sort());
    expect((await store.list()).every((c) => c.valid)).toBe(true);
    for (const { name, bytes } of removed) {
      expect(log.infos).toContain(
        `Removed '${name}' (${bytes} bytes) from '${dir}': temp file of a save whose writer is gone`,
      );
    }
    expect(log.infos).toContain('Reclaimed 5100 bytes in 2 temp files of writers that are gone');
  });

  it('keeps the temp file of a backup copy being restored into the folder (a live writer too)', async () => {
    const { dir, store } = await newStore();
    const source = path.join(await tempDir(), 'other-set-epoch-4.pt');
    const bytes = Buffer.alloc(3000, 7);
    await writeFile(source, bytes);
    let resume = (): void => undefined;
    const caught = new Promise<void>((reached) => {
      copyPause.wait = () =>
        new Promise<void>((resolve) => {
          resume = resolve;
          reached();
        });
    });
    const target = path.join(dir, 'other-set-epoch-4.pt');
    const restore = copyFileVerified(source, target, createHash('sha256').update(bytes).digest('hex'));
    try {
      await caught;
      const temps = readdirSync(dir).filter(isTempName);
      expect(temps).toHaveLength(1);
      expect(await store.reclaimAbandonedTemps()).toEqual([]);
      expect(readdirSync(dir).filter(isTempName)).toEqual(temps);
    } finally {
      copyPause.wait = null;
      resume();
      await restore;
    }
    expect(readFileSync(target)).toEqual(bytes);
    expect(readdirSync(dir).filter(isTempName)).toEqual([]);
  });

  it('a trainer SIGKILLed mid-save: the next run’s start removes its temp file and logs its size', async () => {
    workspace = makeWorkspace({ names: 'tiny', train: 8, val: 2, batchSize: 4, epochs: 1 });
    const dir = workspace.checkpointsDir;
    mkdirSync(dir, { recursive: true });
    // Another pair's big checkpoint, written by the addon's own writer: reclaim is folder-wide.
    const leftover = await killMidSave(path.join(dir, 'big-tiny-epoch-1.pt'));

    const result = await runCli(['train', '--config', workspace.configPath, '-m', 'tiny', '-d', 'tiny'], {
      env: ONE_THREAD,
    });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain(
      `Removed '${leftover.name}' (${leftover.bytes} bytes) from '${dir}': temp file of a save whose writer is gone`,
    );
    expect(readdirSync(dir).filter(isTempName)).toEqual([]);
  });
});

/**
 * Starts a trainer saving a ~110 MB checkpoint to `file` over and over, and SIGKILLs it once a temp file
 * holds more than 1 MB. Tries again (at most 3 times) when a save had finished before the kill landed.
 */
async function killMidSave(file: string): Promise<{ name: string; bytes: number }> {
  const dir = path.dirname(file);
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    const writer = start(process.execPath, ['--import', 'tsx', SAVE_FOREVER, file]);
    const watcher = watch(dir);
    await new Promise<void>((resolve, reject) => {
      watcher.on('change', (_event, name) => {
        const temp = String(name);
        if (!isTempName(temp)) return;
        const size = statSync(path.join(dir, temp), { throwIfNoEntry: false })?.size ?? 0;
        if (size > 1 << 20) {
          writer.kill('SIGKILL');
          resolve();
        }
      });
      writer.once('exit', (code, signal) => reject(new Error(`the writer ended (${code ?? signal}) before a kill`)));
    });
    watcher.close();
    await exited(writer);
    const left = readdirSync(dir).filter(isTempName);
    if (left.length === 1) return { name: left[0]!, bytes: statSync(path.join(dir, left[0]!)).size };
  }
  throw new Error('every save finished before the SIGKILL reached its writer');
}

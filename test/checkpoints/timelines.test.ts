/**
 * Timelines (issue 14 §2) and pins (§3), on a real store with real files: a resume from an older
 * checkpoint never overwrites a committed one, `latest` is the most recent commit of the most recent
 * run, retention counts by that rule, and a pinned checkpoint outlives retention.
 */
import { readFile, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CheckpointStore, CommitResult } from '../../src/checkpoints/index.js';
import { newStore, writeFakePt } from './helpers.js';

const M = 'conformer';
const D = 'mini-ljspeech';

interface RunSave {
  run: string;
  epoch: number;
  step?: number;
  valCer?: number;
  resumedFrom?: string | null;
  keep?: number;
}

/** What the trainer does per save: a free name, the addon's write (fake bytes), the commit. */
async function trainerSave(store: CheckpointStore, save: RunSave): Promise<CommitResult> {
  const name = await store.nameForSave(M, D, save.epoch, save.step);
  await writeFakePt(store.pathOf(name), 300 + save.epoch);
  const inEpoch = save.step ?? 100;
  return store.commit({
    name,
    model: M,
    dataset: D,
    step: inEpoch,
    global_step: (save.epoch - 1) * 100 + inEpoch,
    metrics: save.valCer === undefined ? {} : { val_cer: save.valCer },
    config_hash: 'cfg',
    run_id: save.run,
    resumed_from: save.resumedFrom ?? null,
    retain: { keep: save.keep ?? 0, resumedFrom: save.resumedFrom ?? null },
  });
}

/** Every file of the folder with its bytes (links as their target). */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of await readdir(dir)) {
    const link = await readlink(path.join(dir, name)).catch(() => null);
    out.set(name, link !== null ? `-> ${link}` : (await readFile(path.join(dir, name))).toString('base64'));
  }
  return out;
}

describe('a resume from an older checkpoint (seen here)', () => {
  it('keeps every earlier file byte-identical and saves the retrained epoch as -v2, which becomes latest', async () => {
    const { dir, store, log } = await newStore();
    for (const epoch of [1, 2, 3]) await trainerSave(store, { run: 'run-a', epoch, valCer: 0.5 - epoch / 10 });
    const before = await snapshot(dir);

    const from = await store.resolveForResume({ model: M, dataset: D, specific: `${M}-${D}-epoch-1.pt` });
    const result = await trainerSave(store, { run: 'run-b', epoch: 2, valCer: 0.45, resumedFrom: from.name, keep: 5 });

    expect(result.name).toBe(`${M}-${D}-epoch-2-v2.pt`);
    const after = await snapshot(dir);
    for (const [name, bytes] of before) {
      if (name.endsWith('-latest.pt')) continue;
      expect(after.get(name), name).toBe(bytes);
    }
    expect(
      log.infos.some((m) => m.includes(`'${M}-${D}-epoch-2.pt' already exists`) && m.includes('epoch-2-v2.pt')),
    ).toBe(true);

    const listed = await store.list({ model: M, dataset: D });
    expect(listed.map((c) => [c.name, c.run_id, c.resumed_from, c.is_latest])).toEqual([
      [`${M}-${D}-epoch-2-v2.pt`, 'run-b', `${M}-${D}-epoch-1.pt`, true],
      [`${M}-${D}-epoch-3.pt`, 'run-a', null, false],
      [`${M}-${D}-epoch-2.pt`, 'run-a', null, false],
      [`${M}-${D}-epoch-1.pt`, 'run-a', null, false],
    ]);
    expect(listed.every((c) => c.valid)).toBe(true);
    expect(await readlink(path.join(dir, `${M}-${D}-latest.pt`))).toBe(`${M}-${D}-epoch-2-v2.pt`);
    // The best stays the old epoch 3 (0.2 < 0.45): a branch never takes best by being newer.
    expect(result.best).toBe(`${M}-${D}-epoch-3.pt`);
    expect((await store.resolveForResume({ model: M, dataset: D })).name).toBe(`${M}-${D}-epoch-2-v2.pt`);
  });

  it('versions step checkpoints too, and counts on (-v3) when -v2 is taken', async () => {
    const { store } = await newStore();
    const first = await trainerSave(store, { run: 'run-a', epoch: 2, step: 40 });
    const second = await trainerSave(store, { run: 'run-b', epoch: 2, step: 40, resumedFrom: first.name });
    const third = await trainerSave(store, { run: 'run-c', epoch: 2, step: 40, resumedFrom: first.name });
    expect([first.name, second.name, third.name]).toEqual([
      `${M}-${D}-epoch-2-step-40.pt`,
      `${M}-${D}-epoch-2-step-40-v2.pt`,
      `${M}-${D}-epoch-2-step-40-v3.pt`,
    ]);
    expect((await store.list()).map((c) => c.name)[0]).toBe(third.name);
  });

  it('lists sidecars written before resumed_from was recorded, with an unknown lineage', async () => {
    const { dir, store } = await newStore();
    const saved = await trainerSave(store, { run: 'run-a', epoch: 1 });
    const sidecarPath = path.join(dir, `${saved.name}.json`);
    const old = JSON.parse(await readFile(sidecarPath, 'utf8')) as Record<string, unknown>;
    delete old.resumed_from;
    await import('node:fs/promises').then((fs) => fs.writeFile(sidecarPath, JSON.stringify(old)));
    const [entry] = await store.list();
    expect(entry).toMatchObject({ name: saved.name, valid: true, run_id: 'run-a', resumed_from: null, pinned: false });
  });

  it('counts retention from the most recent run, keeping best, newest and resumed-from', async () => {
    const { dir, store } = await newStore();
    const cer = [0.9, 0.8, 0.7, 0.3, 0.6];
    for (const epoch of [1, 2, 3, 4, 5]) await trainerSave(store, { run: 'run-a', epoch, valCer: cer[epoch - 1] });
    const resumedFrom = `${M}-${D}-epoch-2.pt`;
    const result = await trainerSave(store, { run: 'run-b', epoch: 3, valCer: 0.65, resumedFrom, keep: 2 });
    // Newest two: run-b's epoch 3, then run-a's epoch 5 (its newest); epoch 4 is best, epoch 2 resumed-from.
    expect(result.deleted.sort()).toEqual(
      [`${M}-${D}-epoch-1.pt`, `${M}-${D}-epoch-1.pt.json`, `${M}-${D}-epoch-3.pt`, `${M}-${D}-epoch-3.pt.json`].sort(),
    );
    const left = (await readdir(dir)).filter((n) => n.endsWith('.pt') && !/-(latest|best)\.pt$/.test(n)).sort();
    expect(left).toEqual([
      `${M}-${D}-epoch-2.pt`,
      `${M}-${D}-epoch-3-v2.pt`,
      `${M}-${D}-epoch-4.pt`,
      `${M}-${D}-epoch-5.pt`,
    ]);
  });

  it("keeps a branch's step checkpoint that an older timeline's epoch end would have superseded", async () => {
    const { store } = await newStore();
    for (const epoch of [1, 2, 3]) await trainerSave(store, { run: 'run-a', epoch });
    const step = await trainerSave(store, {
      run: 'run-b',
      epoch: 2,
      step: 10,
      resumedFrom: `${M}-${D}-epoch-1.pt`,
      keep: 5,
    });
    const next = await trainerSave(store, { run: 'run-c', epoch: 1, valCer: 0.5, resumedFrom: null, keep: 5 });
    expect(next.name).toBe(`${M}-${D}-epoch-1-v2.pt`);
    expect((await store.list()).map((c) => c.name)).toContain(step.name);
  });
});

describe('pins', () => {
  it('keep a checkpoint through retention until unpinned, and show in the listing', async () => {
    const { dir, store } = await newStore();
    const first = await trainerSave(store, { run: 'run-a', epoch: 1 });
    expect(await store.setPinned(first.name, true)).toEqual({ name: first.name, pinned: true });
    const sidecarBefore = await readFile(path.join(dir, `${first.name}.json`));
    for (const epoch of [2, 3, 4]) await trainerSave(store, { run: 'run-a', epoch, keep: 1 });
    const listed = await store.list();
    expect(listed.map((c) => [c.name, c.pinned])).toEqual([
      [`${M}-${D}-epoch-4.pt`, false],
      [first.name, true],
    ]);
    // The pin lives beside the checkpoint: its sidecar (and so its sha256) is untouched and valid.
    expect(await readFile(path.join(dir, `${first.name}.json`))).toEqual(sidecarBefore);
    expect(listed[1]!.valid).toBe(true);

    expect(await store.setPinned(first.name, false)).toEqual({ name: first.name, pinned: false });
    const after = await trainerSave(store, { run: 'run-a', epoch: 5, keep: 1 });
    expect(after.deleted).toContain(first.name);
  });

  it('refuses an unknown or non-checkpoint name with the guide text', async () => {
    const { store } = await newStore();
    await trainerSave(store, { run: 'run-a', epoch: 1 });
    await expect(store.setPinned(`${M}-${D}-epoch-9.pt`, true)).rejects.toMatchObject({
      code: 'E_CHECKPOINT_NOT_FOUND',
      message: expect.stringContaining(`Specified checkpoint '${M}-${D}-epoch-9.pt' not found`),
    });
    await expect(store.setPinned(`${M}-${D}-latest.pt`, true)).rejects.toMatchObject({
      code: 'E_CHECKPOINT_NOT_FOUND',
    });
    await expect(store.setPinned('../etc/passwd', true)).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
  });
});

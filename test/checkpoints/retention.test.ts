import { copyFile, mkdir, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CheckpointStore } from '../../src/checkpoints/index.js';
import { age, newStore, save, tempDir, writeFakePt } from './helpers.js';

const M = 'conformer';
const D = 'mini-ljspeech';
const name = (epoch: number, step?: number): string =>
  step === undefined ? `${M}-${D}-epoch-${epoch}.pt` : `${M}-${D}-epoch-${epoch}-step-${step}.pt`;

async function checkpointsOnDisk(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => /-epoch-\d+(-step-\d+)?\.pt$/.test(n)).sort();
}

/** Both links exist and name a checkpoint the store lists as valid (and resolves, so its sha256 holds). */
async function expectLinksValid(dir: string, store: CheckpointStore): Promise<void> {
  const list = await store.list({ model: M, dataset: D });
  for (const role of ['latest', 'best'] as const) {
    const target = await readlink(path.join(dir, `${M}-${D}-${role}.pt`));
    expect(list.find((c) => c.name === target)?.valid, `${role} → ${target}`).toBe(true);
    const resolved = await store.resolveForResume({ model: M, dataset: D, specific: `${M}-${D}-${role}.pt` });
    expect(resolved.name).toBe(target);
  }
}

describe('retention', () => {
  it.each([
    [1, [2, 3, 8]],
    [2, [2, 3, 7, 8]],
    [5, [2, 3, 4, 5, 6, 7, 8]],
  ])('keep %i keeps the newest epochs plus best and resumed-from: %j', async (keep, expected) => {
    const { dir, store, log } = await newStore();
    const cer: Record<number, number> = { 1: 0.9, 2: 0.1, 3: 0.5, 4: 0.6, 5: 0.6, 6: 0.7, 7: 0.8, 8: 0.9 };
    // A first run saved epochs 1..3; this run resumed from epoch 3 and saves 4..8.
    for (const epoch of [1, 2, 3]) await save(store, { epoch, valCer: cer[epoch], keep: 0 });
    for (const epoch of [4, 5, 6, 7, 8]) {
      await save(store, { epoch, valCer: cer[epoch], keep, resumedFrom: name(3) });
      await expectLinksValid(dir, store);
    }
    expect(await checkpointsOnDisk(dir)).toEqual(expected.map((e) => name(e)).sort());
    // Sidecars go with their checkpoints, and each deletion is logged.
    const sidecars = (await readdir(dir)).filter((n) => n.endsWith('.pt.json')).sort();
    expect(sidecars).toEqual(expected.map((e) => `${name(e)}.json`).sort());
    for (const gone of [1, 2, 3, 4, 5, 6, 7, 8].filter((e) => !expected.includes(e))) {
      expect(
        log.infos.some((m) => m.startsWith(`Deleted '${name(gone)}'`) && m.includes('beyond checkpoint_retention')),
      ).toBe(true);
    }
    expect((await store.list()).find((c) => c.is_best)?.name).toBe(name(2));
    expect((await store.list()).find((c) => c.is_latest)?.name).toBe(name(8));
  });

  it('keeps a resumed-from checkpoint that is older than everything else', async () => {
    const { dir, store } = await newStore();
    await save(store, { epoch: 1, valCer: 0.5, keep: 0 });
    for (const epoch of [2, 3, 4]) await save(store, { epoch, valCer: 0.1, keep: 1, resumedFrom: name(1) });
    expect(await checkpointsOnDisk(dir)).toEqual([name(1), name(4)].sort());
  });

  it('keeps the checkpoint just committed even when newer ones exist', async () => {
    const { dir, store } = await newStore();
    for (const epoch of [1, 2, 3, 4]) await save(store, { epoch, keep: 0 });
    // A resume from epoch 1 re-saves epoch 2: it is not the newest, but it must survive its own commit.
    const result = await save(store, { epoch: 2, keep: 1, resumedFrom: name(1) });
    expect(result.deleted.sort()).toEqual([name(3), `${name(3)}.json`].sort());
    expect(await checkpointsOnDisk(dir)).toEqual([name(1), name(2), name(4)].sort());
  });

  it('drops step checkpoints once a later epoch checkpoint is committed', async () => {
    const { dir, store } = await newStore();
    await save(store, { epoch: 1, keep: 5 });
    await save(store, { epoch: 2, step: 30, keep: 5 });
    await save(store, { epoch: 2, step: 60, keep: 5 });
    expect(await checkpointsOnDisk(dir)).toEqual([name(1), name(2, 30), name(2, 60)].sort());
    const result = await save(store, { epoch: 2, keep: 5 });
    expect(result.deleted).toContain(name(2, 30));
    expect(result.deleted).toContain(name(2, 60));
    await save(store, { epoch: 3, step: 10, keep: 5 });
    expect(await checkpointsOnDisk(dir)).toEqual([name(1), name(2), name(3, 10)].sort());
  });

  it('keeps a step checkpoint this run resumed from', async () => {
    const { dir, store } = await newStore();
    await save(store, { epoch: 1, keep: 2 });
    await save(store, { epoch: 2, step: 30, keep: 2 });
    await save(store, { epoch: 2, keep: 2, resumedFrom: name(2, 30) });
    expect(await checkpointsOnDisk(dir)).toContain(name(2, 30));
  });

  it('keeps every checkpoint with checkpoint_retention 0', async () => {
    const { dir, store } = await newStore();
    const all: string[] = [];
    for (const epoch of [1, 2, 3, 4, 5, 6]) {
      await save(store, { epoch, step: 50, keep: 0 });
      await save(store, { epoch, keep: 0 });
      all.push(name(epoch, 50), name(epoch));
    }
    expect(await checkpointsOnDisk(dir)).toEqual(all.sort());
  });

  it.each([-1, 1.5, Number.NaN, '3', null])('refuses checkpoint_retention %j', async (keep) => {
    const { store } = await newStore();
    await expect(store.retain({ model: M, dataset: D, keep: keep as number })).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
      message: expect.stringContaining('checkpoint_retention must be a non-negative integer'),
    });
  });

  it('removes leftovers older than the running save and nothing newer, nothing of another pair', async () => {
    const { dir, store, log } = await newStore();
    await save(store, { epoch: 1, keep: 3 });
    await save(store, { epoch: 2, keep: 3 });
    const old = {
      ptTemp: `.${name(3)}.tmp-4242-abc`,
      addonTemp: `${name(3)}.tmp`,
      sidecarTemp: `.${name(2)}.json.tmp-4242-def`,
      linkTemp: `.${M}-${D}-latest.pt.tmp-4242-ghi`,
      noSidecar: name(5),
      orphanSidecar: `${name(6)}.json`,
    };
    await writeFakePt(path.join(dir, old.ptTemp));
    await writeFakePt(path.join(dir, old.addonTemp));
    await writeFile(path.join(dir, old.sidecarTemp), '{');
    await symlink(name(1), path.join(dir, old.linkTemp));
    await writeFakePt(path.join(dir, old.noSidecar));
    await copyFile(path.join(dir, `${name(2)}.json`), path.join(dir, old.orphanSidecar));
    // Another dataset's leftovers and an unrelated file are never touched.
    const others = [`.${M}-ljspeech-epoch-3.pt.tmp-1-x`, `${M}-ljspeech-epoch-4.pt`, 'notes.txt'];
    for (const other of others) await writeFakePt(path.join(dir, other));
    for (const file of [...Object.values(old), ...others]) await age(path.join(dir, file));
    // A save in progress right now: newer than the running save's start, so kept.
    const inProgress = `.${name(4)}.tmp-9999-new`;

    const running = name(3);
    await writeFakePt(path.join(dir, running));
    await writeFakePt(path.join(dir, inProgress));
    const result = await store.commit({
      name: running,
      model: M,
      dataset: D,
      step: 100,
      global_step: 300,
      config_hash: 'cfg',
      run_id: 'r',
      retain: { keep: 3 },
    });
    expect(result.deleted.sort()).toEqual(Object.values(old).sort());
    const left = await readdir(dir);
    for (const other of [...others, inProgress]) expect(left).toContain(other);
    for (const gone of Object.values(old)) {
      expect(log.infos.some((m) => m.startsWith(`Deleted '${gone}'`))).toBe(true);
    }
  });

  it('deletes a leftover link, never the file outside the folder it points to', async () => {
    const { dir, store } = await newStore();
    const outside = await tempDir();
    const precious = path.join(outside, 'precious.pt');
    await writeFakePt(precious);
    await save(store, { epoch: 1, keep: 1 });
    const leftoverLink = `.${name(2)}.tmp-1-x`;
    await symlink(precious, path.join(dir, leftoverLink));
    await age(path.join(dir, leftoverLink));
    await mkdir(path.join(dir, `.${name(3)}.tmp-1-dir`));
    await age(path.join(dir, `.${name(3)}.tmp-1-dir`));
    const result = await save(store, { epoch: 2, keep: 1 });
    expect(result.deleted).toContain(leftoverLink);
    expect(await readdir(outside)).toEqual(['precious.pt']);
    expect(await readdir(dir)).toContain(`.${name(3)}.tmp-1-dir`);
  });

  it('repoints best when its file was removed by hand or damaged', async () => {
    const { dir, store } = await newStore();
    await save(store, { epoch: 1, valCer: 0.3, keep: 0 });
    await save(store, { epoch: 2, valCer: 0.1, keep: 0 });
    await rm(path.join(dir, name(2)));
    await save(store, { epoch: 3, valCer: 0.2, keep: 0 });
    expect(await readlink(path.join(dir, `${M}-${D}-best.pt`))).toBe(name(3));
    await expectLinksValid(dir, store);
  });

  it('removes a best link when no checkpoint has a val CER any more', async () => {
    const { dir, store } = await newStore();
    await save(store, { epoch: 1, valCer: 0.3, keep: 0 });
    await rm(path.join(dir, name(1)));
    const result = await save(store, { epoch: 2, step: 5, keep: 0 });
    expect(result.best).toBeNull();
    expect(await readdir(dir)).not.toContain(`${M}-${D}-best.pt`);
  });
});

/**
 * Averages in the checkpoint store, on real folders with fake `.pt` bytes (the store never parses one):
 * the name rule, the sidecar, the links, resume resolution, retention and the choice of inputs. The
 * averaging itself, with the real addon, is test/server/average-api.test.ts.
 */
import { readFile, readlink, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  averageCheckpointName,
  checkpointName,
  parseCheckpointName,
  parseSidecar,
  versionedCheckpointName,
  type CheckpointStore,
} from '../../src/checkpoints/index.js';
import { isTempNameFor } from '../../src/checkpoints/names.js';
import { newStore, save, writeFakePt } from './helpers.js';

const M = 'conformer';
const D = 'mini-ljspeech';
const epochName = (epoch: number): string => checkpointName(M, D, epoch);

/** What src/averaging does around the addon: the name, a written `.pt`, the commit with its inputs. */
async function commitAverage(store: CheckpointStore, inputs: number[], valCer: number): Promise<string> {
  const name = await store.nameForAverage(M, D, inputs[0]!, inputs[inputs.length - 1]!);
  await writeFakePt(store.pathOf(name));
  const last = inputs[inputs.length - 1]!;
  await store.commit({
    name,
    model: M,
    dataset: D,
    step: 100,
    global_step: last * 100,
    metrics: { val_loss: 1, val_cer: valCer, val_wer: 1 },
    config_hash: 'cfg',
    run_id: 'average-test',
    averaged_from: inputs.map(epochName),
  });
  return name;
}

describe('average names', () => {
  it('names an average by the epochs of its first and last input, and parses it back', () => {
    const name = averageCheckpointName(M, D, 3, 7);
    expect(name).toBe('conformer-mini-ljspeech-avg-3-7.pt');
    expect(parseCheckpointName(name)).toEqual({
      prefix: 'conformer-mini-ljspeech',
      epoch: 7,
      firstEpoch: 3,
      nameStep: null,
      kind: 'average',
      version: 1,
    });
    expect(parseCheckpointName(versionedCheckpointName(name, 2))).toMatchObject({ kind: 'average', version: 2 });
    expect(() => averageCheckpointName(M, D, 7, 3)).toThrow(expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }));
    expect(parseCheckpointName('conformer-mini-ljspeech-avg-7-3.pt')).toBeNull();
  });

  it('keeps epoch names and average names apart, whatever the dataset is called', () => {
    // A dataset whose name looks like an average's tail still makes an epoch checkpoint name.
    expect(parseCheckpointName('conformer-x-avg-1-2-epoch-3.pt')).toMatchObject({
      prefix: 'conformer-x-avg-1-2',
      kind: 'epoch',
      epoch: 3,
    });
    expect(parseCheckpointName('conformer-x-epoch-3-avg-1-2.pt')).toMatchObject({
      prefix: 'conformer-x-epoch-3',
      kind: 'average',
    });
    expect(isTempNameFor(`.${averageCheckpointName(M, D, 1, 2)}.tmp-12-ab`, M, D)).toBe(true);
  });

  it('saves beside a committed average of the same epochs instead of replacing it', async () => {
    const { store, log } = await newStore();
    for (const epoch of [1, 2]) await save(store, { epoch, valCer: 0.5 });
    expect(await commitAverage(store, [1, 2], 0.4)).toBe('conformer-mini-ljspeech-avg-1-2.pt');
    expect(await commitAverage(store, [1, 2], 0.4)).toBe('conformer-mini-ljspeech-avg-1-2-v2.pt');
    expect(log.infos.join('\n')).toContain("is saved as 'conformer-mini-ljspeech-avg-1-2-v2.pt'");
  });
});

describe('an average in the store', () => {
  it('commits a sidecar of kind average with its inputs, and the listing shows it', async () => {
    const { dir, store } = await newStore();
    for (const epoch of [1, 2, 3]) await save(store, { epoch, valCer: 0.5 });
    const name = await commitAverage(store, [2, 3], 0.3);
    const check = parseSidecar(await readFile(path.join(dir, `${name}.json`), 'utf8'));
    expect(check.ok && check.sidecar).toMatchObject({
      kind: 'average',
      epoch: 3,
      averaged_from: [epochName(2), epochName(3)],
      metrics: { val_cer: 0.3 },
    });
    const listed = (await store.list()).find((e) => e.name === name);
    expect(listed).toMatchObject({ kind: 'average', valid: true, averaged_from: [epochName(2), epochName(3)] });
  });

  it('refuses averaged_from on an epoch name and an average name without it', async () => {
    const { store } = await newStore();
    const base = { model: M, dataset: D, step: 1, global_step: 1, config_hash: 'c', run_id: 'r' };
    await writeFakePt(store.pathOf(epochName(1)));
    await expect(store.commit({ ...base, name: epochName(1), averaged_from: ['x.pt'] })).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
    });
    const average = averageCheckpointName(M, D, 1, 2);
    await writeFakePt(store.pathOf(average));
    await expect(store.commit({ ...base, name: average })).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
  });

  it('takes the best link with the lowest CER but never the latest link or auto-resume', async () => {
    const { dir, store } = await newStore();
    for (const epoch of [1, 2, 3]) await save(store, { epoch, valCer: 0.5 });
    const name = await commitAverage(store, [1, 3], 0.2);
    expect(await readlink(path.join(dir, `${M}-${D}-best.pt`))).toBe(name);
    expect(await readlink(path.join(dir, `${M}-${D}-latest.pt`))).toBe(epochName(3));
    expect((await store.resolveForResume({ model: M, dataset: D })).name).toBe(epochName(3));
    // Asked for by name, it resolves like any checkpoint.
    const named = await store.resolveForResume({ model: M, dataset: D, specific: name });
    expect(named).toMatchObject({ name, sidecar: { kind: 'average' } });
  });

  it('is never deleted by retention, even as the worst and oldest checkpoint', async () => {
    const { dir, store } = await newStore();
    for (const epoch of [1, 2]) await save(store, { epoch, valCer: 0.5 });
    const name = await commitAverage(store, [1, 2], 0.9);
    for (const epoch of [3, 4, 5]) await save(store, { epoch, valCer: 0.1 * (6 - epoch), keep: 1 });
    const files = (await readdir(dir)).filter((n) => n.endsWith('.pt') && !n.includes('latest') && !n.includes('best'));
    expect(files.sort()).toEqual([epochName(5), name].sort());
  });
});

describe('choosing the inputs of an average', () => {
  async function folder(): Promise<{ dir: string; store: CheckpointStore; warnings: string[] }> {
    const { dir, store, log } = await newStore();
    for (const epoch of [1, 2, 3, 4]) await save(store, { epoch, valCer: 0.5 });
    await save(store, { epoch: 5, step: 40 });
    return { dir, store, warnings: log.warnings };
  }

  it('last_n takes the newest N epoch checkpoints by epoch, in epoch order', async () => {
    const { store } = await folder();
    const inputs = await store.selectAverageInputs({ model: M, dataset: D, last_n: 3 });
    expect(inputs.map((s) => s.entry.name)).toEqual([epochName(2), epochName(3), epochName(4)]);
  });

  it('names are taken in epoch order, with or without .pt', async () => {
    const { store } = await folder();
    const inputs = await store.selectAverageInputs({
      model: M,
      dataset: D,
      names: [epochName(4), epochName(1).slice(0, -3)],
    });
    expect(inputs.map((s) => s.entry.name)).toEqual([epochName(1), epochName(4)]);
  });

  it.each([
    [
      { names: ['conformer-mini-ljspeech-epoch-77.pt', epochName(1)] },
      'E_CHECKPOINT_NOT_FOUND',
      /epoch-77\.pt' not found/,
    ],
    [{ names: [epochName(1)] }, 'E_INVALID_ARGUMENT', /at least 2 checkpoints/],
    [{ last_n: 1 }, 'E_INVALID_ARGUMENT', /at least 2 checkpoints/],
    [{ names: [epochName(1), epochName(1)] }, 'E_INVALID_ARGUMENT', /named twice/],
    [{ names: [epochName(1), 'conformer-mini-ljspeech-epoch-5-step-40.pt'] }, 'E_INVALID_ARGUMENT', /mid-epoch save/],
    [{ names: [epochName(1)], last_n: 2 }, 'E_INVALID_ARGUMENT', /exactly one of names/],
    [{}, 'E_INVALID_ARGUMENT', /exactly one of names/],
    [{ last_n: 9 }, 'E_INVALID_ARGUMENT', /ask for at most 4/],
    [{ names: ['../etc/passwd', epochName(1)] }, 'E_INVALID_ARGUMENT', /path separator/],
  ])('refuses %j with %s', async (request, code, message) => {
    const { store } = await folder();
    const error = await store.selectAverageInputs({ model: M, dataset: D, ...request }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code });
    expect((error as Error).message).toMatch(message);
  });

  it('answers E_NO_CHECKPOINT when the pair has no epoch checkpoint', async () => {
    const { store } = await newStore();
    await expect(store.selectAverageInputs({ model: M, dataset: D, last_n: 2 })).rejects.toMatchObject({
      code: 'E_NO_CHECKPOINT',
    });
  });

  it('refuses a damaged named input and skips a damaged one for last_n, with a warning', async () => {
    const { dir, store, warnings } = await folder();
    // Same size, other bytes: only the sha256 tells.
    const bytes = (await readFile(path.join(dir, epochName(4)))).map((b) => b ^ 1);
    await writeFile(path.join(dir, epochName(4)), bytes);
    await expect(
      store.selectAverageInputs({ model: M, dataset: D, names: [epochName(3), epochName(4)] }),
    ).rejects.toMatchObject({ code: 'E_CHECKPOINT_CORRUPT' });
    const inputs = await store.selectAverageInputs({ model: M, dataset: D, last_n: 2 });
    expect(inputs.map((s) => s.entry.name)).toEqual([epochName(2), epochName(3)]);
    expect(warnings.join('\n')).toContain(`Skipping checkpoint '${epochName(4)}' for the average`);
  });
});

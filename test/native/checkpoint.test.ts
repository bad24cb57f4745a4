import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AsrTrainerError } from '../../src/errors.js';
import type { FeatureStore, TrainConfigInput } from '../../src/native/index.js';
import { native, STEADY_TRAINING, syntheticUtterances, TINY_MODEL } from './helpers.js';

const run = promisify(execFile);
// Debian's python3-torch / python3-torchaudio: the reference the checkpoints must load into.
const PYTHON = '/usr/bin/python3';

describe('checkpoints written by the addon', () => {
  let dir: string;
  let store: FeatureStore;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'asr-native-ckpt-'));
    store = await native.FeatureStore.fromAudio(syntheticUtterances(8));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips the metadata, config and metrics', async () => {
    const trainer = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    await trainer.train(store, [[0, 1]]);
    const path = join(dir, 'meta.pt');
    await trainer.save(path, {
      epoch: 2,
      step: 1,
      global_step: 1,
      data_seed: 7,
      data_epoch: 2,
      batch_position: 1,
      config: { model: 'tiny', nested: { lr: 0.003 } },
      metrics: { val_cer: 0.5 },
    });
    const meta = await native.readCheckpointMeta(path);
    expect(meta).toEqual({
      epoch: 2,
      step: 1,
      global_step: 1,
      data_seed: 7,
      data_epoch: 2,
      batch_position: 1,
      config: { model: 'tiny', nested: { lr: 0.003 } },
      metrics: { val_cer: 0.5 },
    });
    expect(await native.readCheckpointModelConfig(path)).toMatchObject(TINY_MODEL);
    const loaded = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    expect(await loaded.load(path)).toEqual(meta);
    expect(loaded.globalStep).toBe(1);
  });

  it('Python torch.load reads it and torchaudio Conformer accepts its encoder strictly', async () => {
    const trainer = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    await trainer.train(store, [[0, 1, 2]]);
    const path = join(dir, 'python.pt');
    await trainer.save(path, { epoch: 1, step: 1, global_step: 1 });
    const script = `
import json, sys, torch, torchaudio
ck = torch.load(sys.argv[1])
cfg = json.loads(sys.argv[2])
encoder = {k[len("encoder."):]: v for k, v in ck["model"].items() if k.startswith("encoder.")}
conformer = torchaudio.models.Conformer(input_dim=cfg["d_model"], num_heads=cfg["num_heads"], ffn_dim=cfg["ffn_dim"],
    num_layers=cfg["num_layers"], depthwise_conv_kernel_size=cfg["conv_kernel"], dropout=0.0)
conformer.load_state_dict(encoder, strict=True)
group = ck["optimizer"]["param_groups"][0]
print(json.dumps({"epoch": int(ck["epoch"]), "global_step": int(ck["global_step"]), "encoder": len(encoder),
    "expected": len(conformer.state_dict()), "betas": [float(b) for b in group["betas"]],
    "keys": sorted(ck.keys())}))
`;
    const { stdout } = await run(PYTHON, ['-c', script, path, JSON.stringify(TINY_MODEL)]);
    const report = JSON.parse(stdout) as {
      epoch: number;
      global_step: number;
      encoder: number;
      expected: number;
      betas: number[];
      keys: string[];
    };
    expect(report.epoch).toBe(1);
    expect(report.global_step).toBe(1);
    expect(report.encoder).toBe(report.expected);
    expect(report.betas).toEqual([0.9, 0.98]);
    expect(report.keys).toEqual(
      expect.arrayContaining(['model', 'optimizer', 'scheduler', 'rng', 'data', 'config', 'metrics', 'format_version']),
    );
  });

  it('its pickle names only what torch.load(weights_only=True) allows, so torch 2.6+ reads it by default', async () => {
    // The reference here is torch 1.13, whose weights-only unpickler cannot read a float at all; the globals
    // of the pickle are what 2.x checks. LibTorch's tagged lists (torch.jit._pickle.restore_type_tag,
    // build_intlist, build_tensorlist) made torch 2.15 refuse every checkpoint before the writer dropped them.
    const trainer = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    await trainer.train(store, [[0, 1, 2]]);
    const path = join(dir, 'weights-only.pt');
    await trainer.save(path, { epoch: 1, step: 1, global_step: 1 });
    const script = `
import json, pickletools, sys, zipfile
archive = zipfile.ZipFile(sys.argv[1])
data = archive.read(next(n for n in archive.namelist() if n.endswith("/data.pkl")))
ops = list(pickletools.genops(data))
names = set()
for i, (op, arg, _) in enumerate(ops):
    if op.name == "GLOBAL":
        names.add(arg.replace(" ", "."))
    elif op.name == "STACK_GLOBAL":
        names.add(ops[i - 2][1] + "." + ops[i - 1][1])
print(json.dumps(sorted(names)))
`;
    const { stdout } = await run(PYTHON, ['-c', script, path]);
    const names = JSON.parse(stdout) as string[];
    expect(names).toContain('torch._utils._rebuild_tensor_v2');
    const allowed = /^(collections\.OrderedDict|torch\._utils\._rebuild_tensor_v2|torch\.[A-Za-z]+Storage)$/;
    expect(names.filter((name) => !allowed.test(name))).toEqual([]);
  });

  it('a garbage or truncated file is E_CHECKPOINT_CORRUPT, a missing one E_CHECKPOINT_NOT_FOUND', async () => {
    const trainer = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    const garbage = join(dir, 'garbage.pt');
    await writeFile(garbage, 'definitely not a checkpoint\n'.repeat(100));
    await expect(trainer.load(garbage)).rejects.toMatchObject({ code: 'E_CHECKPOINT_CORRUPT' });

    const good = join(dir, 'good.pt');
    await trainer.save(good);
    const bytes = await readFile(good);
    const truncated = join(dir, 'truncated.pt');
    await writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const error = await trainer.load(truncated).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AsrTrainerError);
    expect((error as AsrTrainerError).code).toBe('E_CHECKPOINT_CORRUPT');
    await expect(native.readCheckpointMeta(truncated)).rejects.toMatchObject({ code: 'E_CHECKPOINT_CORRUPT' });

    await expect(trainer.load(join(dir, 'nope.pt'))).rejects.toMatchObject({ code: 'E_CHECKPOINT_NOT_FOUND' });
    // The trainer survives all of it.
    expect((await trainer.train(store, [[0]])).steps).toHaveLength(1);
  });

  it('a checkpoint of another model size is E_SHAPE_MISMATCH', async () => {
    const bigger = new native.Trainer({ ...TINY_MODEL, d_model: 48 }, STEADY_TRAINING);
    const path = join(dir, 'd48.pt');
    await bigger.save(path);
    const smaller = new native.Trainer(TINY_MODEL, STEADY_TRAINING);
    const error = await smaller.load(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AsrTrainerError);
    expect((error as AsrTrainerError).code).toBe('E_SHAPE_MISMATCH');
  });

  it('stop after 2 steps, save, load into a new Trainer, 2 more: losses identical to 4 uninterrupted', async () => {
    // Dropout and SpecAugment on, so the generator state in the checkpoint matters too; two threads, so
    // the parallel reductions must replay identically as well.
    const model = { ...TINY_MODEL, dropout: 0.1 };
    const train: TrainConfigInput = { learning_rate: 2e-3, warmup_steps: 3, seed: 5, threads: 2 };
    const batches = [
      [0, 1, 2],
      [3, 4, 5],
      [6, 7, 0],
      [1, 3, 5],
    ];
    const straight = await new native.Trainer(model, train).train(store, batches);

    const first = new native.Trainer(model, train);
    const head = await first.train(store, batches.slice(0, 2));
    const path = join(dir, 'resume.pt');
    await first.save(path, { global_step: 2, batch_position: 2 });
    const second = new native.Trainer(model, train);
    await second.load(path);
    expect(second.globalStep).toBe(2);
    const tail = await second.train(store, batches.slice(2));

    const resumed = [...head.steps, ...tail.steps].map((s) => s.loss);
    expect(resumed).toEqual(straight.steps.map((s) => s.loss));
    expect(tail.steps.map((s) => s.lr)).toEqual(straight.steps.slice(2).map((s) => s.lr));
  });
});

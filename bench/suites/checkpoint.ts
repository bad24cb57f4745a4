/**
 * (4) Checkpoint save and load for xs/s/m, project (addon, atomic write: temp + fsync + rename + folder
 * fsync) against the reference (torch.save of model + optimizer state dicts, fsynced), and against the
 * disk: bytes / the fsynced write speed measured here on the same folder. The stall is how long a save
 * blocks training, as TrainingRun calls it (save, train on once the state is copied).
 */
import { closeSync, fsyncSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import type { NativeAddon } from '../../src/native/index.js';
import type { BenchBatch } from '../lib/corpus.js';
import type { ReferenceWorker } from '../lib/reference.js';
import type { Row } from '../lib/report.js';
import { summarize } from '../lib/stats.js';

/** MB/s of writing `bytes` in 4 MiB blocks to a new file and fsyncing it (median of `reps`). */
export function diskWriteSpeed(dir: string, bytes: number, reps = 3): number[] {
  const block = Buffer.alloc(4 << 20, 7);
  const speeds: number[] = [];
  for (let r = 0; r < reps; r++) {
    const path = join(dir, `disk-probe-${r}.bin`);
    const started = performance.now();
    const fd = openSync(path, 'w');
    for (let done = 0; done < bytes; done += block.length)
      writeSync(fd, block, 0, Math.min(block.length, bytes - done));
    fsyncSync(fd);
    closeSync(fd);
    speeds.push(bytes / 1e6 / ((performance.now() - started) / 1000));
    rmSync(path);
  }
  return speeds;
}

export async function checkpointSuite(
  addon: NativeAddon,
  ref: ReferenceWorker,
  dir: string,
  batch: BenchBatch,
  presets: string[],
  reps: number,
  threads: number,
  log: (line: string) => void,
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const preset of presets) {
    const trainer = new addon.Trainer(addon.modelPreset(preset), { threads, seed: 0 });
    // Steps first, so the optimizer's moments exist and the file has its full size; the first step warms up.
    const steps = await trainer.train(batch.store, [batch.indices, batch.indices, batch.indices]);
    const stepMs = summarize(steps.steps.slice(1).map((s) => s.seconds * 1000)).median;
    await ref.call({ cmd: 'model', preset, seed: 0 });
    await ref.call({ cmd: 'steps', batch: batch.name, n: 1 });
    const p = { save: [] as number[], load: [] as number[], stall: [] as number[], nextStep: [] as number[] };
    const q = { save: [] as number[], load: [] as number[] };
    let bytes = 0;
    let refBytes = 0;
    for (let r = 0; r < reps; r++) {
      const path = join(dir, `${preset}-project.pt`);
      let t = performance.now();
      await trainer.save(path, { epoch: 1, step: 1 });
      p.save.push(performance.now() - t);
      bytes = statSync(path).size;
      t = performance.now();
      await trainer.load(path);
      p.load.push(performance.now() - t);
      // The stall as TrainingRun sees it: save with onSnapshot and train on as soon as the trainer is
      // free. Blocked = save() call → trainer free; the next step's slowdown (the writer thread sharing
      // the cores) is reported beside it.
      t = performance.now();
      let taken: () => void = () => undefined;
      const snapshot = new Promise<void>((resolve) => (taken = resolve));
      const written = trainer.save(path, { epoch: 1, step: 2 }, { onSnapshot: () => taken() });
      await Promise.race([snapshot, written]);
      p.stall.push(performance.now() - t);
      const next = await trainer.train(batch.store, [batch.indices]);
      p.nextStep.push(next.steps[0].seconds * 1000 - stepMs);
      await written;
      const refPath = join(dir, `${preset}-reference.pt`);
      const s = await ref.call({ cmd: 'save', path: refPath });
      q.save.push((s.seconds as number) * 1000);
      refBytes = s.bytes as number;
      const l = await ref.call({ cmd: 'load', path: refPath });
      q.load.push((l.seconds as number) * 1000);
      rmSync(path, { force: true });
      rmSync(refPath, { force: true });
    }
    const disk = summarize(diskWriteSpeed(dir, Math.max(bytes, 8 << 20)));
    const diskMs = (bytes / 1e6 / disk.median) * 1000;
    const save = summarize(p.save);
    log(
      `  ${preset}: ${(bytes / 1e6).toFixed(1)} MB, save ${save.median.toFixed(0)} ms, disk floor ${diskMs.toFixed(0)} ms`,
    );
    rows.push({
      suite: 'checkpoint',
      case: `${preset} (${(bytes / 1e6).toFixed(1)} MB; ref ${(refBytes / 1e6).toFixed(1)} MB)`,
      metric: 'save',
      unit: 'ms',
      project: save,
      reference: summarize(q.save),
      better: 'lower',
      target: `≤ 1.5 × bytes/disk = ${(1.5 * diskMs).toFixed(0)} ms`,
      met: save.median <= 1.5 * diskMs,
      note: `disk ${disk.median.toFixed(0)} MB/s fsynced (${disk.min.toFixed(0)}–${disk.max.toFixed(0)})`,
    });
    rows.push({
      suite: 'checkpoint',
      case: `${preset}`,
      metric: 'load',
      unit: 'ms',
      project: summarize(p.load),
      reference: summarize(q.load),
      better: 'lower',
    });
    rows.push({
      suite: 'checkpoint',
      case: `${preset}, one step ${stepMs.toFixed(0)} ms`,
      metric: 'save stall of the training thread, % of a step',
      unit: '%',
      project: summarize(p.stall.map((ms) => (100 * ms) / stepMs)),
      reference: summarize(q.save.map((ms) => (100 * ms) / stepMs)),
      better: 'lower',
      target: '≤ 5%',
      met: (100 * summarize(p.stall).median) / stepMs <= 5,
      note:
        `project: save() → trainer free (state copied; the file is written meanwhile); the next step took ` +
        `${summarize(p.nextStep).median.toFixed(0)} ms more than a plain one; reference: torch.save blocks the loop`,
    });
  }
  return rows;
}

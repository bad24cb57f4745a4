/**
 * (3) Time to quality (--quality): train xs from scratch on the mini corpus until val CER ≤ target.
 * Project: the real TrainingRun (its recipe: config defaults, length-bucketed batches, validation and a
 * checkpoint each epoch). Reference: bench_worker.py's recipe (shuffled fixed batches of 16, AdamW,
 * Noam 200 warm-up, validation every epoch's worth of steps). Wall time from the first step's start to
 * the evaluation that reaches the target; feature extraction is excluded on both sides. The two runs go
 * one after the other (minutes each), not interleaved.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import type { NativeAddon } from '../../src/native.js';
import { TrainingRun } from '../../src/training/index.js';
import { makeBatch, miniCorpus, miniCorpusConfig, readAll, REPO } from '../lib/corpus.js';
import type { ReferenceWorker } from '../lib/reference.js';
import type { Row } from '../lib/report.js';
import { summarize } from '../lib/stats.js';

export interface QualityOptions {
  /** Project runs, one per precision (the reference recipe is fp32). */
  precisions: string[];
  targetCer: number;
  budgetS: number;
  threads: number;
  log: (l: string) => void;
}

interface Outcome {
  reached: boolean;
  wallS: number;
  cer: number;
  epochs: number;
}

async function projectRun(dir: string, precision: string, o: QualityOptions): Promise<Outcome> {
  const config = miniCorpusConfig(dir, ['epochs: 1000', `threads: ${o.threads}`, `precision: ${precision}`]);
  let started = 0;
  let result: Outcome = { reached: false, wallS: 0, cer: 1, epochs: 0 };
  const run = await TrainingRun.prepare(
    config,
    { model_name: 'conformer', dataset_name: 'mini-ljspeech', resume_from_checkpoint: false },
    {
      onEvent: (e) => {
        if (e.type !== 'metrics') return;
        const wallS = (performance.now() - started) / 1000;
        const cer = e.payload.val_cer ?? 1;
        result = { reached: cer <= o.targetCer, wallS, cer, epochs: e.payload.epoch };
        o.log(
          `  project ${precision} epoch ${e.payload.epoch}: val CER ${(cer * 100).toFixed(1)}% at ${wallS.toFixed(0)} s`,
        );
        if (result.reached || wallS >= o.budgetS) run.stop();
      },
    },
  );
  // prepare() computed the features; the clock starts with training, as on the reference side.
  started = performance.now();
  await run.run();
  return result;
}

export async function qualitySuite(addon: NativeAddon, ref: ReferenceWorker, o: QualityOptions): Promise<Row[]> {
  const dir = mkdtempSync(join(REPO, 'bench', '.work', 'quality-'));
  try {
    const corpus = miniCorpus();
    const train = await makeBatch(
      addon,
      dir,
      'q-train',
      'train',
      await readAll(addon, corpus.train),
      corpus.train.map((s) => s.text),
    );
    const val = await makeBatch(
      addon,
      dir,
      'q-val',
      'val',
      await readAll(addon, corpus.val),
      corpus.val.map((s) => s.text),
    );
    for (const b of [train, val]) {
      await ref.call({
        cmd: 'batch',
        name: b.name,
        audio: b.audioFile,
        lengths: b.samples.map((s) => s.length),
        texts: b.texts,
      });
    }
    const projects: Array<{ precision: string; outcome: Outcome }> = [];
    for (const precision of o.precisions) {
      const runDir = join(dir, precision);
      mkdirSync(runDir);
      projects.push({ precision, outcome: await projectRun(runDir, precision, o) });
    }
    const reference = await ref.call(
      {
        cmd: 'train',
        preset: 'xs',
        train: train.name,
        val: val.name,
        batch_size: 16,
        lr: 2e-3,
        warmup: 200,
        eval_every: Math.floor(corpus.train.length / 16),
        target_cer: o.targetCer,
        budget_s: o.budgetS,
      },
      (e: { step: number; cer: number; wall_s: number }) =>
        o.log(`  reference step ${e.step}: val CER ${(e.cer * 100).toFixed(1)}% at ${e.wall_s.toFixed(0)} s`),
    );
    const ref_: Outcome = {
      reached: reference.reached as boolean,
      wallS: reference.wall_s as number,
      cer: reference.cer as number,
      epochs: 0,
    };
    return projects.map(({ precision, outcome: project }) => ({
      suite: 'quality',
      case: `xs, mini corpus, ${precision} vs ref fp32, to val CER ≤ ${(o.targetCer * 100).toFixed(0)}% (budget ${o.budgetS} s)`,
      metric: 'wall time to target',
      unit: 's',
      project: summarize([project.wallS]),
      reference: summarize([ref_.wallS]),
      better: 'lower' as const,
      target: '≤ 0.5× the reference (ratio ≥ 2×)',
      met: project.reached && (!ref_.reached || ref_.wallS / project.wallS >= 2),
      note:
        `project ${project.reached ? 'reached' : 'did not reach'} it (val CER ${(project.cer * 100).toFixed(1)}% after ${project.epochs} epochs); ` +
        `reference ${ref_.reached ? 'reached' : 'did not reach'} it (val CER ${(ref_.cer * 100).toFixed(1)}% after ${String(reference.steps)} steps)`,
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

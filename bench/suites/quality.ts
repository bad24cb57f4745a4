/**
 * (3) Quality in a fixed wall budget (--quality): xs trained from scratch on the mini corpus for the same
 * budget (600 s by default) on each side. The reference (bench_worker.py's own recipe: shuffled fixed
 * batches of 16, AdamW, Noam 200 warm-up, validation every epoch's worth of steps, the allocator settings
 * the project uses) trains first and sets the bar: its best val CER and the time it first reached it.
 * The project then trains with config.yaml's defaults (what users get, not a tuned recipe) through the
 * real TrainingRun. Rows: the project's time to the reference's best CER (target ≤ 0.4× the reference's
 * time to it) and the project's best CER within the budget (target ≤ 0.5× the reference's best). Wall
 * time runs from the first step; feature extraction is excluded on both sides; validation and
 * checkpoints count. Both curves go into the results' notes.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import type { NativeAddon } from '../../src/native/index.js';
import { TrainingRun } from '../../src/training/index.js';
import { makeBatch, miniCorpus, miniCorpusConfig, readAll, REPO } from '../lib/corpus.js';
import type { ReferenceWorker } from '../lib/reference.js';
import type { Row } from '../lib/report.js';
import { summarize } from '../lib/stats.js';

export interface QualityOptions {
  /** Project runs, one per precision (the reference recipe is fp32). */
  precisions: string[];
  budgetS: number;
  threads: number;
  log: (l: string) => void;
}

/**
 * Validation results over wall time since the first step. On the project side `cer` is what transcribe
 * would use: the moving average's CER when the recipe keeps one (config.yaml's does), else the raw
 * weights'; `rawCer` keeps the raw weights' figure for the notes.
 */
type Curve = Array<{ wallS: number; cer: number; rawCer?: number }>;

/**
 * The best point within `budgetS`: each side stops at its first evaluation past the budget, and that last
 * point (an epoch begun inside the budget) is drawn in the curve but does not count.
 */
function best(curve: Curve, budgetS: number): { cer: number; wallS: number } {
  return curve.filter((p) => p.wallS <= budgetS).reduce((b, p) => (p.cer < b.cer ? p : b), { cer: 1, wallS: NaN });
}

/** Wall time of the first evaluation within the budget at or below `cer`, or null. */
function timeTo(curve: Curve, cer: number, budgetS: number): number | null {
  return curve.find((p) => p.wallS <= budgetS && p.cer <= cer)?.wallS ?? null;
}

function describe(curve: Curve): string {
  return curve.map((p) => `${(p.cer * 100).toFixed(1)}% at ${p.wallS.toFixed(0)} s`).join(', ');
}

async function projectRun(dir: string, precision: string, o: QualityOptions): Promise<Curve> {
  const config = miniCorpusConfig(dir, ['epochs: 1000', `threads: ${o.threads}`, `precision: ${precision}`]);
  let started = 0;
  const curve: Curve = [];
  const run = await TrainingRun.prepare(
    config,
    { model_name: 'conformer', dataset_name: 'mini-ljspeech', resume_from_checkpoint: false },
    {
      onEvent: (e) => {
        if (e.type !== 'metrics') return;
        const wallS = (performance.now() - started) / 1000;
        const raw = e.payload.val_cer ?? 1;
        curve.push({ wallS, cer: e.payload.val_cer_ema ?? raw, rawCer: raw });
        o.log(
          `  project ${precision} epoch ${e.payload.epoch}: val CER ${(curve.at(-1)!.cer * 100).toFixed(1)}% (raw weights ${(raw * 100).toFixed(1)}%) at ${wallS.toFixed(0)} s`,
        );
        if (wallS >= o.budgetS) run.stop();
      },
    },
  );
  // prepare() computed the features; the clock starts with training, as on the reference side.
  started = performance.now();
  await run.run();
  return curve;
}

export async function qualitySuite(
  addon: NativeAddon,
  ref: ReferenceWorker,
  o: QualityOptions,
): Promise<{ rows: Row[]; notes: string[] }> {
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
      await ref.addBatch(b);
    }
    const refCurve: Curve = [];
    await ref.call(
      {
        cmd: 'train',
        preset: 'xs',
        train: train.name,
        val: val.name,
        batch_size: 16,
        lr: 2e-3,
        warmup: 200,
        eval_every: Math.floor(corpus.train.length / 16),
        target_cer: 0, // never "reached": the reference trains the whole budget
        budget_s: o.budgetS,
      },
      (e: { step: number; cer: number; wall_s: number }) => {
        refCurve.push({ wallS: e.wall_s, cer: e.cer });
        o.log(`  reference step ${e.step}: val CER ${(e.cer * 100).toFixed(1)}% at ${e.wall_s.toFixed(0)} s`);
      },
    );
    const refBest = best(refCurve, o.budgetS);
    const notes = [`Quality, reference fp32 curve (val CER at wall time): ${describe(refCurve)}.`];
    const rows: Row[] = [];
    for (const precision of o.precisions) {
      const runDir = join(dir, precision);
      mkdirSync(runDir);
      const curve = await projectRun(runDir, precision, o);
      notes.push(
        `Quality, project ${precision} curve (config.yaml defaults; the moving average's CER, what transcribe uses): ${describe(curve)}.`,
        `Quality, project ${precision} raw weights' curve: ${describe(curve.map((p) => ({ wallS: p.wallS, cer: p.rawCer ?? p.cer })))}.`,
      );
      const projectBest = best(curve, o.budgetS);
      const reached = timeTo(curve, refBest.cer, o.budgetS);
      const budget = `budget ${o.budgetS} s each`;
      rows.push(
        {
          suite: 'quality',
          case: `xs, mini corpus, ${precision} vs ref fp32, to the reference's best val CER ${(refBest.cer * 100).toFixed(1)}% (${budget})`,
          metric: 'wall time to it',
          unit: 's',
          project: reached === null ? null : summarize([reached]),
          reference: summarize([refBest.wallS]),
          better: 'lower',
          target: '≤ 0.4× the reference (ratio ≥ 2.5×)',
          met: reached !== null && refBest.wallS / reached >= 2.5,
          note:
            reached === null ? `the project never reached it (best ${(projectBest.cer * 100).toFixed(1)}%)` : undefined,
        },
        {
          suite: 'quality',
          case: `xs, mini corpus, ${precision} vs ref fp32, best val CER within the budget (${budget})`,
          metric: 'val CER',
          unit: '%',
          project: summarize([projectBest.cer * 100]),
          reference: summarize([refBest.cer * 100]),
          better: 'lower',
          target: '≤ 0.5× the reference (ratio ≥ 2×)',
          met: projectBest.cer <= 0.5 * refBest.cer,
          note: `project best at ${projectBest.wallS.toFixed(0)} s, reference best at ${refBest.wallS.toFixed(0)} s`,
        },
      );
    }
    return { rows, notes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

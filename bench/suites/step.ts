/**
 * (1) Train-step throughput and (2) model FLOP utilisation. For each preset and batch, the project
 * (addon Trainer.train from Node) and the reference (bench_worker.py) step the same batch in
 * alternating blocks; per-step seconds are pooled per side. The project's own step timer is checked
 * against the wall time of train(), so the Node layer's cost shows up if there is one.
 */
import type { NativeAddon, TrainConfigInput } from '../../src/native/index.js';
import type { BenchBatch } from '../lib/corpus.js';
import { trainStepFlops } from '../lib/flops.js';
import type { ReferenceWorker } from '../lib/reference.js';
import type { Row } from '../lib/report.js';
import { summarize, type Summary } from '../lib/stats.js';

export interface StepOptions {
  presets: string[];
  batches: BenchBatch[];
  rounds: number;
  stepsPerRound: number;
  warmup: number;
  threads: number;
  /** Project precisions to compare with the reference's fp32 ('fp32' first; more only when the addon has the option). */
  precisions: string[];
  /**
   * The reference once more at glibc's default allocator (what a user running plain PyTorch sees), for
   * the first preset and batch only; the main comparison gives both sides the same allocator settings.
   */
  plainReference?: ReferenceWorker;
  log: (line: string) => void;
}

/** Targets of issue 17 (fair allocator terms): fp32 ≥ 1.3× the reference, bf16 ≥ 2.5×. */
const SPEEDUP_TARGET: Record<string, number> = { fp32: 1.3, bf16: 2.5 };
/** A user sees the slow steps: each side's slowest step at most this much over its median. */
const SPREAD_TARGET = 1.2;

/** max / median of one side's step times, as a one-value summary (the table's project/reference cells). */
function spread(ms: Summary): Summary {
  const r = ms.max / ms.median;
  return { median: r, min: r, max: r, n: ms.n };
}

export interface MatmulPeak {
  fp32: number;
  bf16: number;
}

/** Best GFLOP/s of square matmuls on the same LibTorch/BLAS using every core: the machine's peak. */
export async function matmulPeak(ref: ReferenceWorker, cores: number, restoreThreads: number): Promise<MatmulPeak> {
  await ref.call({ cmd: 'threads', n: cores });
  const best = async (dtype: string): Promise<number> => {
    let top = 0;
    for (const n of [512, 1024, 2048]) {
      const a = await ref.call({ cmd: 'matmul', n, dtype, reps: n >= 2048 ? 3 : 10 });
      top = Math.max(top, ...(a.gflops as number[]));
    }
    return top;
  };
  const peak = { fp32: await best('float32'), bf16: await best('bfloat16') };
  await ref.call({ cmd: 'threads', n: restoreThreads });
  return peak;
}

export async function stepSuite(
  addon: NativeAddon,
  ref: ReferenceWorker,
  o: StepOptions,
  peak: MatmulPeak,
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const preset of o.presets) {
    const model = addon.modelPreset(preset);
    for (const batch of o.batches) {
      const frames = Math.max(...batch.indices.map((i) => batch.store.frames(i)));
      const flops = trainStepFlops(model, batch.indices.length, frames);
      await ref.call({ cmd: 'model', preset, precision: 'fp32', seed: 0 });
      const refSeconds: number[] = [];
      const project: Record<string, { step: number[]; overhead: number[] }> = {};
      const trainers = o.precisions.map((precision) => {
        // Older addons without the option reject unknown fields, so fp32 is then left implicit.
        const train: Record<string, unknown> = { threads: o.threads, seed: 0 };
        if (precision !== 'fp32' || o.precisions.length > 1) train.precision = precision;
        project[precision] = { step: [], overhead: [] };
        return { precision, trainer: new addon.Trainer(model, train as TrainConfigInput) };
      });
      const runProject = async (t: (typeof trainers)[number], n: number, keep: boolean): Promise<void> => {
        const started = performance.now();
        const out = await t.trainer.train(
          batch.store,
          Array.from({ length: n }, () => batch.indices),
        );
        const wall = (performance.now() - started) / 1000;
        const inside = out.steps.reduce((s, r) => s + r.seconds, 0);
        if (keep) {
          // Each step is charged its share of the call's time outside the C++ timer (Node, N-API, the
          // first batch's collation), so the project's numbers are wall-clock like the reference's.
          const outside = (wall - inside) / n;
          project[t.precision].step.push(...out.steps.map((r) => r.seconds + outside));
          project[t.precision].overhead.push(outside * 1000);
        }
      };
      for (const t of trainers) await runProject(t, o.warmup, false);
      await ref.call({ cmd: 'steps', batch: batch.name, n: o.warmup });
      for (let round = 0; round < o.rounds; round++) {
        for (const t of trainers) await runProject(t, o.stepsPerRound, true);
        const a = await ref.call({ cmd: 'steps', batch: batch.name, n: o.stepsPerRound });
        refSeconds.push(...(a.seconds as number[]));
      }
      const caseName = `${preset} ${batch.description}`;
      const refMs = summarize(refSeconds.map((s) => s * 1000));
      const plainMs =
        o.plainReference && rows.length === 0 ? await plainReferenceSteps(o.plainReference, preset, batch, o) : null;
      for (const t of trainers) {
        const ms = summarize(project[t.precision].step.map((s) => s * 1000));
        const isFp32 = t.precision === 'fp32';
        const target = SPEEDUP_TARGET[t.precision] ?? SPEEDUP_TARGET.bf16;
        const speedup = refMs.median / ms.median;
        o.log(
          `  ${caseName} ${t.precision}: project ${ms.median.toFixed(0)} ms, reference fp32 ${refMs.median.toFixed(0)} ms`,
        );
        rows.push({
          suite: 'train step',
          case: `${caseName}, ${t.precision} vs ref fp32`,
          metric: 'step time',
          unit: 'ms',
          project: ms,
          reference: refMs,
          better: 'lower',
          target: `≥ ${target}×`,
          met: speedup >= target,
          note: `project times are wall-clock per step; ${summarize(project[t.precision].overhead).median.toFixed(2)} ms of each was outside the C++ step timer (Node, N-API, first batch)`,
        });
        if (plainMs && isFp32) {
          rows.push({
            suite: 'train step',
            case: `${caseName}, fp32 vs ref fp32 at glibc's default allocator`,
            metric: 'step time',
            unit: 'ms',
            project: ms,
            reference: plainMs,
            better: 'lower',
            note: 'what a user running plain PyTorch sees: on this VM the reference then spends much of a step page-faulting freed activations back in',
          });
        }
        rows.push({
          suite: 'spread',
          case: `${caseName}, ${t.precision} vs ref fp32`,
          metric: 'slowest step / median step',
          unit: 'x',
          project: spread(ms),
          reference: spread(refMs),
          better: 'lower',
          target: `≤ ${SPREAD_TARGET}× (project)`,
          met: ms.n >= 9 ? ms.max / ms.median <= SPREAD_TARGET : null,
          note: `${ms.n} project steps, ${refMs.n} reference steps; in order, ${o.stepsPerRound} a round (project, ms): ${project[t.precision].step.map((x) => (x * 1000).toFixed(0)).join(' ')}; reference: ${refSeconds.map((x) => (x * 1000).toFixed(0)).join(' ')}`,
        });
        const peakOf = isFp32 ? peak.fp32 : peak.bf16;
        const util = (s: number): number => (100 * flops) / s / 1e9 / peakOf;
        rows.push({
          suite: 'MFU',
          case: `${caseName}, ${t.precision}`,
          metric: `% of ${t.precision === 'bf16' ? 'bf16' : 'fp32'} matmul peak (${peakOf.toFixed(0)} GFLOP/s)`,
          unit: '%',
          project: summarize(project[t.precision].step.map(util)),
          reference: isFp32 ? summarize(refSeconds.map(util)) : null,
          better: 'higher',
          target: '≥ 50%',
          met: util(ms.median / 1000) >= 50,
          note: `${(flops / 1e9).toFixed(1)} GFLOP per step (counted, bench/lib/flops.ts)`,
        });
      }
    }
  }
  return rows;
}

/** The reference's step times (ms) for one case at glibc's defaults: warm-up, then rounds × steps. */
async function plainReferenceSteps(
  ref: ReferenceWorker,
  preset: string,
  batch: BenchBatch,
  o: StepOptions,
): Promise<Summary> {
  await ref.call({ cmd: 'model', preset, precision: 'fp32', seed: 0 });
  await ref.call({ cmd: 'steps', batch: batch.name, n: o.warmup });
  const a = await ref.call({ cmd: 'steps', batch: batch.name, n: o.rounds * o.stepsPerRound });
  return summarize((a.seconds as number[]).map((s) => s * 1000));
}

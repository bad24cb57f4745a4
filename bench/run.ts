/**
 * `npm run bench` — the project against its PyTorch reference, side by side in one run.
 *
 *   npm run bench                      the standard suite (a few minutes): step, MFU, checkpoint, service, features,
 *                                      distributed
 *   npm run bench -- --quality         600 s of training on each side, curves and best val CER, instead (~25 min)
 *   npm run bench -- --only step,features --rounds 5
 *
 * Writes bench/results/latest.json and latest.md (also printed). The project side runs through the
 * real addon from Node ($ASR_TRAINER_ADDON or build/Release/asr_trainer.node); the reference side is
 * bench/reference/bench_worker.py on /usr/bin/python3 ($ASR_BENCH_PYTHON). Each side runs at its
 * fastest measured intra-op thread count (bench/lib/threads.ts) unless `--threads N` fixes both.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

import { Command } from 'commander';

import { restartWithAddonEnv } from '../src/child-process/fork-entry.js';
import { loadNative } from '../src/native/index.js';
import { fixedLength, makeBatch, miniCorpus, readAll, REPO } from './lib/corpus.js';
import { PYTHON, REFERENCE_KEEP_FREED_MEMORY, ReferenceWorker } from './lib/reference.js';
import { gitCommit, loadAverage, machine, renderTable, writeResults, type Row } from './lib/report.js';
import { checkpointSuite } from './suites/checkpoint.js';
import { distributedSuite } from './suites/distributed.js';
import { featuresSuite } from './suites/features.js';
import { qualitySuite } from './suites/quality.js';
import { serviceSuite } from './suites/service.js';
import { matmulPeak, stepSuite } from './suites/step.js';
import { calibrateThreads } from './lib/threads.js';

const STANDARD = ['step', 'checkpoint', 'service', 'features', 'distributed'];

const program = new Command()
  .name('bench')
  .option('--quality', 'quality in a fixed wall budget per side only (~25 min)')
  .option('--only <suites>', `comma-separated subset of ${STANDARD.join(',')},quality`)
  .option(
    '--threads <n>',
    'intra-op threads for both sides (default: each side its fastest of 1 and all cores)',
    (v) => Number(v),
    0,
  )
  .option('--rounds <n>', 'alternating rounds per train-step case', (v) => Number(v), 3)
  .option('--steps <n>', 'steps per side per round', (v) => Number(v), 3)
  .option('--presets <list>', 'train-step presets', 'xs,s')
  .option('--budget <s>', 'quality: wall budget per side in seconds', (v) => Number(v), 600)
  .option('--precisions <list>', 'project precisions to run (default: fp32 and, when the addon has it, bf16)')
  .option(
    '--reference-malloc <mode>',
    "keep (the fair comparison): the reference with the glibc allocator settings the project's trainer applies to itself; default: as a user runs it (the train-step suite adds that as a row either way)",
    'keep',
  )
  .option('--out <dir>', 'results folder', join(REPO, 'bench', 'results'))
  .parse();
const opts = program.opts<{
  quality?: boolean;
  only?: string;
  precisions?: string;
  referenceMalloc: string;
  threads: number;
  rounds: number;
  steps: number;
  presets: string;
  budget: number;
  out: string;
}>();

function log(line: string): void {
  process.stderr.write(line + '\n');
}

/** --precisions, else fp32 and bf16 when this addon's TrainConfig has `precision` (older builds reject it). */
function precisions(addon: ReturnType<typeof loadNative>): string[] {
  if (opts.precisions) return opts.precisions.split(',');
  try {
    const t = new addon.Trainer(addon.modelPreset('xs'), { threads: 1, precision: 'bf16' } as never);
    return ['fp32', (t.trainConfig as unknown as { precision: string }).precision];
  } catch {
    return ['fp32'];
  }
}

async function main(): Promise<void> {
  const suites = opts.quality ? ['quality'] : (opts.only?.split(',') ?? STANDARD);
  const addon = loadNative();
  const cores = cpus().length;
  const work = join(REPO, 'bench', '.work');
  mkdirSync(work, { recursive: true });
  mkdirSync(opts.out, { recursive: true });
  if (!['default', 'keep'].includes(opts.referenceMalloc)) {
    throw new Error(`--reference-malloc must be default or keep, got '${opts.referenceMalloc}'`);
  }
  const refEnv = opts.referenceMalloc === 'keep' ? REFERENCE_KEEP_FREED_MEMORY : {};
  const ref = new ReferenceWorker(opts.threads > 0 ? opts.threads : cores, refEnv);
  // The reference as plain PyTorch runs it, for one train-step row beside the fair comparison.
  const plainRef =
    opts.referenceMalloc === 'keep' && suites.includes('step')
      ? new ReferenceWorker(opts.threads > 0 ? opts.threads : cores)
      : undefined;
  const hello = await ref.call({ cmd: 'hello' });
  log(
    `project: LibTorch ${addon.versions.libtorch}; reference: ${PYTHON} torch ${String(hello.torch)}, torchaudio ${String(hello.torchaudio)}`,
  );
  const rows: Row[] = [];
  const notes: string[] = [];
  notes.push(
    opts.referenceMalloc === 'keep'
      ? 'Allocator: both sides run with one malloc arena (MALLOC_ARENA_MAX=1, as the trainer process starts) and the reference with MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ at 1 GiB, the settings the project trainer applies to itself (--reference-malloc keep).'
      : "Allocator: the reference runs at glibc's defaults, as a Python script is run; the project trainer raises glibc's mmap/trim thresholds to 1 GiB in-process (keep_freed_memory). `--reference-malloc keep` gives the reference the same.",
  );
  const meta: Record<string, unknown> = {
    date: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
    commit: gitCommit(REPO),
    machine: machine(),
    load_average_at_start: loadAverage(),
    project: {
      libtorch: addon.versions.libtorch,
      addon: process.env.ASR_TRAINER_ADDON ?? 'build/Release/asr_trainer.node',
    },
    reference: { python: PYTHON, torch: hello.torch, torchaudio: hello.torchaudio, malloc_env: refEnv },
  };
  try {
    const corpus = miniCorpus();
    const first = corpus.train.slice(0, 64);
    const audio = await readAll(addon, first);
    const fixed = fixedLength(
      audio,
      first.map((s) => s.text),
      8,
      4,
    );
    const batches = [
      await makeBatch(addon, work, 'fixed4s', '8 × 4 s', fixed.samples, fixed.texts),
      await makeBatch(
        addon,
        work,
        'mini16',
        '16 mini utts',
        audio.slice(0, 16),
        first.slice(0, 16).map((s) => s.text),
      ),
    ];
    for (const worker of plainRef ? [ref, plainRef] : [ref]) {
      for (const b of batches) {
        await worker.addBatch(b);
      }
    }
    let threads = { project: opts.threads, reference: opts.threads };
    if (opts.threads > 0) {
      await ref.call({ cmd: 'threads', n: opts.threads });
      notes.push(`Threads: ${opts.threads} intra-op threads on both sides (--threads).`);
    } else {
      log('threads: calibrating each side');
      const choice = await calibrateThreads(addon, ref, batches[0], cores > 1 ? [1, cores] : [1]);
      threads = { project: choice.project, reference: choice.reference };
      meta.thread_calibration = choice.measured;
      notes.push(
        `Threads: each side at its fastest measured intra-op thread count (xs, 8 × 4 s, median of 3 steps: ` +
          choice.measured
            .map(
              (m) => `${m.threads} → project ${m.project_ms.toFixed(0)} ms, reference ${m.reference_ms.toFixed(0)} ms`,
            )
            .join('; ') +
          `): project ${choice.project}, reference ${choice.reference}. OpenBLAS (OpenMP build) shares LibTorch's pool on both sides.`,
      );
    }
    meta.threads = threads;
    await plainRef?.call({ cmd: 'threads', n: threads.reference });
    log(`threads: project ${threads.project}, reference ${threads.reference}`);

    if (suites.includes('quality')) {
      log(`quality: ${opts.budget} s of training on each side`);
      const quality = await qualitySuite(addon, ref, {
        precisions: precisions(addon),
        budgetS: opts.budget,
        threads: threads.project,
        log,
      });
      rows.push(...quality.rows);
      notes.push(...quality.notes);
    }
    if (suites.includes('step')) {
      log('matmul peak');
      const peak = await matmulPeak(ref, cores, threads.reference);
      meta.matmul_peak_gflops = peak;
      notes.push(
        `Matmul peak (same LibTorch/BLAS, ${cores} threads, best of 512/1024/2048 square): ` +
          `fp32 ${peak.fp32.toFixed(0)} GFLOP/s, bf16 ${peak.bf16.toFixed(0)} GFLOP/s.`,
      );
      const precs = precisions(addon);
      log(`train step (project precisions: ${precs.join(', ')})`);
      rows.push(
        ...(await stepSuite(
          addon,
          ref,
          {
            presets: opts.presets.split(','),
            batches,
            rounds: opts.rounds,
            stepsPerRound: opts.steps,
            warmup: 2,
            threads: threads.project,
            precisions: precs,
            plainReference: plainRef,
            log,
          },
          peak,
        )),
      );
    }
    if (suites.includes('checkpoint')) {
      log('checkpoint');
      rows.push(...(await checkpointSuite(addon, ref, work, batches[1], ['xs', 's', 'm'], 3, threads.project, log)));
    }
    if (suites.includes('service')) {
      log('service');
      rows.push(...(await serviceSuite({ reps: 3, samples: 160, clients: 50, threads: threads.project, log })));
    }
    if (suites.includes('features')) {
      log('features');
      rows.push(...(await featuresSuite(addon, ref, work, corpus.train, 60, 5, threads.project)));
    }
    if (suites.includes('distributed')) {
      if (addon.distributed) {
        log('distributed');
        const cacheDir = join(work, 'distributed-cache');
        rows.push(...(await distributedSuite({ cores, rounds: opts.rounds, steps: 6, cacheDir, log })));
      } else {
        log('distributed: skipped, this addon was built without the data-parallel layer (apt libgloo-dev, rebuild)');
      }
    }
  } finally {
    ref.close();
    plainRef?.close();
  }
  const table = renderTable(rows);
  process.stdout.write(table + '\n');
  for (const r of rows) if (r.note) log(`${r.suite} / ${r.case}: ${r.note}`);
  writeResults(opts.out, suites.includes('quality') ? 'quality' : 'latest', meta, rows, notes);
  rmSync(join(work), { recursive: true, force: true });
}

// The project side runs in this process through the addon: with the environment the trainer's child
// process starts with (one malloc arena, src/child-process/fork-entry.ts).
restartWithAddonEnv();
main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});

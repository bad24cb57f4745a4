/**
 * `npm run demo`: the whole story in a few minutes on a laptop CPU. Trains the xs Conformer on the
 * bundled mini corpus with a checkpoint each epoch, interrupts itself mid-epoch (a step checkpoint),
 * resumes from the latest checkpoint, trains to the end, averages the last epoch checkpoints, transcribes
 * three validation clips and prints the checkpoints on disk, the validation CER of the best single
 * checkpoint and of the average, both scored on the held-out set too (voices and sentences the corpus
 * never has), the final validation CER and how to open the dashboard.
 *
 * The demo has its own config (written to runs/demo/config.yaml from config.yaml) whose checkpoints and
 * runs folders are checkpoints/demo and runs/demo, so it never touches a user's runs; it starts fresh
 * each time by clearing those two folders.
 */

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { averageCheckpoints } from '../src/averaging/index.js';
import { scoreUtterances } from '../src/averaging/evaluate.js';
import { CheckpointStore, MIN_AVERAGE_INPUTS } from '../src/checkpoints/index.js';
import type { CheckpointEntry } from '../src/contract/index.js';
import { formatCheckpointTable } from '../src/cli/commands/checkpoints.js';
import { formatDuration, formatPercent, ProgressReporter } from '../src/cli/progress.js';
import { loadConfig, type LoadedConfig } from '../src/config/index.js';
import { makeHeldOutCorpus, normalizeTranscript, readHeldOutUtterances, readMetadata } from '../src/data/index.js';
import { isAsrTrainerError } from '../src/errors.js';
import { DEMO_EPOCHS, writeDemoRecord, type ScoredCheckpoint } from '../bench/lib/demo-record.js';
import { gitCommit, loadAverage, machine } from '../bench/lib/report.js';
import { restartWithAddonEnv } from '../src/child-process/fork-entry.js';
import { loadNative } from '../src/native/index.js';
import {
  TrainingRun,
  TrainingSupervisor,
  describeLocalLayout,
  localLayoutOf,
  withResolvedLayout,
  worldSizeOf,
  type TrainingEvent,
  type TrainRequest,
} from '../src/training/index.js';
import { Transcriber } from '../src/transcribe/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MODEL = 'conformer';
const DATASET = 'mini-ljspeech';
const TARGET_CER = 0.15;
/** `asr-trainer average --last 5`: what the demo averages after training. */
const AVERAGE_LAST = 5;
/** Generated once (scripts/make-mini-corpus.ts --held-out), then reused. */
const HELD_OUT_DIR = join(ROOT, 'data', 'mini-ljspeech-held-out');

/**
 * The demo trains with config.yaml's recipe (learning rate, warm-up, speed perturbation, no SpecAugment, a
 * moving average of the weights: chosen for this corpus by measurement, README "Training recipe") for 20
 * epochs, and keeps what the average needs.
 */
const DEMO_TRAINING = {
  epochs: DEMO_EPOCHS,
  // Keeps the last AVERAGE_LAST epoch checkpoints for the average.
  checkpoint_retention: AVERAGE_LAST,
  auto_resume: true,
  save_every_steps: 0,
  val_every_epochs: 1,
};
/** The interruption: half-way through this epoch. */
const INTERRUPT_EPOCH = 3;

function say(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** The value after `--name`, or null when the option is absent. */
function argument(name: string): string | null {
  const index = process.argv.indexOf(name);
  return index < 0 ? null : (process.argv[index + 1] ?? '');
}

/** `npm run demo -- --epochs N` shortens (or lengthens) the demo. */
function epochsArgument(): number | null {
  const value = argument('--epochs');
  if (value === null) return null;
  const n = Number(value);
  if (!Number.isInteger(n) || n < INTERRUPT_EPOCH) throw new Error(`--epochs must be an integer >= ${INTERRUPT_EPOCH}`);
  return n;
}

/** `--nproc-per-node N|auto` overrides distributed.nproc_per_node (config.yaml's `auto` by default). */
function nprocArgument(): number | 'auto' | null {
  const value = argument('--nproc-per-node');
  if (value === null) return null;
  if (value === 'auto') return 'auto';
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--nproc-per-node must be auto or an integer >= 1`);
  return n;
}

/** config.yaml with the demo's folders and training settings, every path absolute. */
function writeDemoConfig(): string {
  const base = loadConfig({ path: join(ROOT, 'config.yaml') });
  const raw = parse(readFileSync(base.configPath, 'utf8')) as Record<string, Record<string, unknown>>;
  const demoDir = join(ROOT, 'runs', 'demo');
  mkdirSync(demoDir, { recursive: true });
  const overlay = {
    ...raw,
    paths: { checkpoints: join(ROOT, 'checkpoints', 'demo'), runs: demoDir, cache: base.paths.cache },
    datasets: Object.fromEntries(Object.entries(base.datasets).map(([name, entry]) => [name, { ...entry }])),
    models: { ...base.models, [MODEL]: { preset: 'xs' } },
    training: { ...(raw.training ?? {}), ...DEMO_TRAINING, epochs: epochsArgument() ?? DEMO_TRAINING.epochs },
    distributed: { ...(raw.distributed ?? {}), nproc_per_node: nprocArgument() ?? base.distributed.nproc_per_node },
  };
  const file = join(demoDir, 'config.yaml');
  writeFileSync(
    file,
    `# Written by scripts/demo.ts from config.yaml: the demo's own folders and settings.\n${stringify(overlay)}`,
  );
  return file;
}

interface Progress {
  lastCer: number | null;
  /** The moving average's CER (training.ema_decay), what transcribe decodes with. */
  lastCerEma: number | null;
  lastEpoch: number;
}

/** How one part of the demo's training ended. */
interface PartOutcome {
  state: string;
  epoch: number | null;
  step: number | null;
  global_step: number | null;
  last_checkpoint: string | null;
  resumed_from: string | null;
}

async function train(
  config: LoadedConfig,
  request: TrainRequest,
  progress: Progress,
  interruptAt?: { epoch: number; fraction: number },
): Promise<PartOutcome> {
  const reporter = new ProgressReporter(process.stdout, { tty: process.stdout.isTTY === true });
  reporter.setEpochs(request.epochs ?? config.training.epochs);
  let stop = (): void => {};
  let lastCheckpoint: string | null = null;
  const onEvent = (event: TrainingEvent): void => {
    reporter.handle(event);
    if (event.type === 'checkpoint') lastCheckpoint = event.payload.name;
    if (event.type === 'metrics') {
      progress.lastCer = event.payload.val_cer;
      progress.lastCerEma = event.payload.val_cer_ema ?? null;
      progress.lastEpoch = event.payload.epoch;
    }
    if (interruptAt && event.type === 'progress') {
      const p = event.payload;
      if (p.epoch === interruptAt.epoch && p.step >= Math.floor(p.steps_per_epoch * interruptAt.fraction)) {
        reporter.line(
          `demo: interrupting at epoch ${p.epoch}, step ${p.step}/${p.steps_per_epoch} (as Ctrl-C or POST /api/train/stop would)`,
        );
        stop();
      }
    }
  };
  const outcome =
    worldSizeOf(withResolvedLayout(config).distributed) > 1
      ? await trainWorkers(config, request, onEvent, (stopRun) => (stop = stopRun))
      : await trainInProcess(config, request, onEvent, (stopRun) => (stop = stopRun));
  reporter.endBar();
  return { ...outcome, last_checkpoint: outcome.last_checkpoint ?? lastCheckpoint };
}

/** One process: the run in this one (the allocator settings are the trainer child's, see the end). */
async function trainInProcess(
  config: LoadedConfig,
  request: TrainRequest,
  onEvent: (event: TrainingEvent) => void,
  onStart: (stop: () => void) => void,
): Promise<PartOutcome> {
  const run = await TrainingRun.prepare(config, request, { onEvent });
  onStart(() => run.stop());
  const outcome = await run.run();
  return { ...outcome, resumed_from: run.plan.resumed_from };
}

/** A data-parallel world: its workers as child processes under a supervisor, as `asr-trainer train` runs them. */
async function trainWorkers(
  config: LoadedConfig,
  request: TrainRequest,
  onEvent: (event: TrainingEvent) => void,
  onStart: (stop: () => void) => void,
): Promise<PartOutcome> {
  const supervisor = new TrainingSupervisor(config);
  supervisor.on('event', onEvent);
  const plan = await supervisor.start(request);
  onStart(() => supervisor.stop());
  await supervisor.waitForExit();
  const status = supervisor.status();
  if (status.state === 'failed') throw new Error(status.error?.message ?? 'the training run failed');
  return { ...status, last_checkpoint: null, resumed_from: plan.resumed_from };
}

async function main(): Promise<number> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const loadAtStart = loadAverage();
  const commit = gitCommit(ROOT);
  const configPath = writeDemoConfig();
  const config = loadConfig({ path: configPath });
  const corpus = config.datasets[DATASET].path ?? '';
  if (!existsSync(join(corpus, 'metadata.csv'))) {
    say(`The mini corpus is missing (${corpus}): run \`npm run setup\` first.`);
    return 1;
  }
  // Before training, so a missing espeak-ng shows at once rather than after the run.
  const heldOut = await makeHeldOutCorpus({ out: HELD_OUT_DIR });
  if (!heldOut.reused) {
    say(`demo: wrote the held-out set (${heldOut.clips} clips) to ${relative(ROOT, HELD_OUT_DIR)}`);
  }
  rmSync(config.paths.checkpoints, { recursive: true, force: true });
  rmSync(join(config.paths.runs, `${MODEL}-${DATASET}`), { recursive: true, force: true });
  const epochs = config.training.epochs;
  say(
    `asr-trainer demo: Conformer xs on ${DATASET}, ${epochs} epochs, checkpoint each epoch (config ${relative(ROOT, configPath)})`,
  );
  const layout = localLayoutOf(withResolvedLayout(config));
  say(
    `demo: training as ${describeLocalLayout(layout)} (distributed.nproc_per_node: ${config.distributed.nproc_per_node}; --nproc-per-node N overrides)`,
  );
  say();

  const progress: Progress = { lastCer: null, lastCerEma: null, lastEpoch: 0 };
  const trainingStarted = performance.now();
  const first = await train(
    config,
    { model_name: MODEL, dataset_name: DATASET, resume_from_checkpoint: false },
    progress,
    { epoch: INTERRUPT_EPOCH, fraction: 0.5 },
  );
  say();
  say(`demo: part 1 ${first.state} at epoch ${first.epoch}, step ${first.step}; saved ${first.last_checkpoint}`);
  say('demo: resuming from the latest checkpoint (what POST /api/train/start does by default)');
  say();

  const second = await train(
    config,
    { model_name: MODEL, dataset_name: DATASET, resume_from_checkpoint: true },
    progress,
  );
  const trainingSeconds = (performance.now() - trainingStarted) / 1000;
  say();
  say(
    `demo: part 2 resumed from ${second.resumed_from} and ${second.state} at epoch ${second.epoch} (global step ${second.global_step})`,
  );

  const average = await averageLastEpochs(config);
  say();
  say(
    average
      ? `demo: averaged ${average.averaged_from.length} epoch checkpoints into ${average.name} (as \`asr-trainer average --last ${AVERAGE_LAST}\`)`
      : `demo: fewer than ${MIN_AVERAGE_INPUTS} epoch checkpoints, nothing to average`,
  );

  const transcriber = await Transcriber.open(config, { model_name: MODEL, dataset_name: DATASET });
  const dataset = config.datasets[DATASET];
  // The demo's config (writeDemoConfig) gives the mini corpus its folder.
  const root = dataset.path ?? '';
  const valIds = readFileSync(dataset.val_list ?? join(root, 'val_ids.txt'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .slice(0, 3);
  const references = new Map(
    readMetadata(join(root, 'metadata.csv')).map((m) => [m.id, normalizeTranscript(m.transcript)]),
  );
  const results = await transcriber.transcribeFiles(valIds.map((id) => join(root, 'wavs', `${id}.wav`)));
  say();
  say(`Validation clips, transcribed with ${transcriber.checkpoint}:`);
  valIds.forEach((id, i) => {
    say(`  ${id}  reference: ${references.get(id) ?? '?'}`);
    say(`  ${' '.repeat(id.length)}  decoded:   ${results[i].text}`);
  });

  const store = new CheckpointStore({ dir: config.paths.checkpoints });
  say();
  say(`Checkpoints in ${relative(ROOT, config.paths.checkpoints)}:`);
  const entries = await store.list({ model: MODEL, dataset: DATASET });
  const table = formatCheckpointTable(entries);
  say(table.trimEnd().replace(/^/gm, '  '));

  say();
  say(
    `Best single checkpoint and the average, on the 80 validation clips and on ${relative(ROOT, HELD_OUT_DIR)} (${heldOut.clips} clips of voices and sentences never trained on):`,
  );
  const compared: Array<[string, CheckpointEntry | undefined]> = [
    ['best single', bestEpochCheckpoint(entries)],
    [`average of ${average?.averaged_from.length ?? 0}`, entries.find((e) => e.name === average?.name)],
  ];
  const heldOutUtterances = readHeldOutUtterances(HELD_OUT_DIR);
  const width = Math.max(...compared.map(([, entry]) => entry?.name.length ?? 0));
  const scored: (ScoredCheckpoint | null)[] = [];
  for (const [label, entry] of compared) {
    scored.push(null);
    if (!entry) continue;
    const heldOutScore = await scoreUtterances(
      loadNative(),
      config,
      heldOutUtterances,
      'mini-ljspeech-held-out',
      store.pathOf(entry.name),
      config.training.batch_size,
    );
    say(
      `  ${label.padEnd(12)} ${entry.name.padEnd(width)}  val CER ${percentOrNa(entry.metrics.val_cer)}  ` +
        `held-out CER ${percentOrNa(heldOutScore?.val_cer)} (WER ${percentOrNa(heldOutScore?.val_wer)}, ` +
        `${heldOutScore?.utterances ?? 0} clips scored)`,
    );
    scored[scored.length - 1] = {
      name: entry.name,
      val_cer: entry.metrics.val_cer ?? null,
      held_out_cer: heldOutScore?.val_cer ?? null,
    };
  }

  say();
  // Judged on the weights transcribe uses: the moving average when the run keeps one.
  const cer = progress.lastCerEma ?? progress.lastCer;
  const verdict = cer !== null && cer <= TARGET_CER ? 'target ≤ 15% reached' : 'target ≤ 15% NOT reached';
  const ema =
    progress.lastCerEma === null ? '' : `, moving average of the weights ${formatPercent(progress.lastCerEma)}`;
  say(
    `Final validation CER (epoch ${progress.lastEpoch}): ${progress.lastCer === null ? 'n/a' : formatPercent(progress.lastCer)}${ema}  (${verdict})`,
  );
  const demoSeconds = (performance.now() - started) / 1000;
  say(`Demo time: ${formatDuration(demoSeconds)} (training ${formatDuration(trainingSeconds)})`);
  if (process.argv.includes('--record')) {
    const file = writeDemoRecord(ROOT, {
      date: startedAt,
      command: `npm run demo -- ${process.argv.slice(2).join(' ')}`,
      commit,
      machine: machine(),
      load_average_at_start: loadAtStart,
      load_average_at_end: loadAverage(),
      layout: { nproc_per_node: config.distributed.nproc_per_node, ...layout },
      epochs,
      demo_time_s: Math.round(demoSeconds * 10) / 10,
      training_time_s: Math.round(trainingSeconds * 10) / 10,
      final: { epoch: progress.lastEpoch, val_cer: progress.lastCer, val_cer_ema: progress.lastCerEma },
      best_single: scored[0] ?? null,
      average: scored[1] ?? null,
    });
    say(`demo: recorded in ${relative(ROOT, file)} (scripts/readme-figures.ts --write puts it in the README)`);
  }
  say();
  say('Open the dashboard on these checkpoints and curves:');
  // Not `npx asr-trainer` inside the repository: npx would install the package into itself first.
  say(
    `  npm start -- --config ${relative(ROOT, configPath)}   then browse http://${config.server.host}:${config.server.port}/`,
  );
  say(`Transcribe your own clip:  ./bin/asr-trainer.js transcribe --config ${relative(ROOT, configPath)} my.wav`);
  return cer !== null && cer <= TARGET_CER ? 0 : 1;
}

/** The average of the run's last AVERAGE_LAST epoch checkpoints (fewer when it has fewer); null under two. */
async function averageLastEpochs(config: LoadedConfig) {
  const store = new CheckpointStore({ dir: config.paths.checkpoints });
  const epochs = (await store.list({ model: MODEL, dataset: DATASET })).filter((e) => e.valid && e.kind === 'epoch');
  const lastN = Math.min(AVERAGE_LAST, epochs.length);
  if (lastN < MIN_AVERAGE_INPUTS) return null;
  return averageCheckpoints(
    config,
    { model_name: MODEL, dataset_name: DATASET, last_n: lastN },
    {
      log: (level, message) => {
        if (level === 'warning') say(`demo: warning: ${message}`);
      },
    },
  );
}

/** The epoch checkpoint with the lowest validation CER. */
function bestEpochCheckpoint(entries: CheckpointEntry[]): CheckpointEntry | undefined {
  const scored = entries.filter((e) => e.valid && e.kind === 'epoch' && typeof e.metrics.val_cer === 'number');
  return scored.reduce<CheckpointEntry | undefined>(
    (best, e) => (best === undefined || e.metrics.val_cer! < best.metrics.val_cer! ? e : best),
    undefined,
  );
}

function percentOrNa(x: number | null | undefined): string {
  return typeof x === 'number' ? formatPercent(x) : 'n/a';
}

// Training runs in this process: with the allocator settings the trainer's child process starts with.
restartWithAddonEnv();
try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`demo failed: ${(err as Error).message}${isAsrTrainerError(err) ? ` (${err.code})` : ''}\n`);
  process.exitCode = 1;
}

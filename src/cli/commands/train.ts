/**
 * `asr-trainer train`: one TrainingRun in this process, with progress output and graceful Ctrl-C. With
 * more than one worker (--nproc-per-node, distributed.*), the workers run under a TrainingSupervisor
 * here, as they would under the server.
 */

import type { AsrConfig } from '../../config/schema.js';
import { loadConfig } from '../../config/index.js';
import type { TrainRequest } from '../../contract/index.js';
import { TrainingRun, TrainingSupervisor, withResolvedLayout, worldSizeOf } from '../../training/index.js';
import { EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK } from '../exit.js';
import { ProgressReporter } from '../progress.js';

export interface TrainOptions {
  config?: string;
  model: string;
  dataset: string;
  epochs?: number;
  batchSize?: number;
  lightweight?: boolean;
  limitSamples?: number;
  /** commander's --resume/--no-resume pair: undefined when neither is given (config default). */
  resume?: boolean;
  checkpoint?: string;
  verbose?: boolean;
  /** Overrides distributed.nproc_per_node. */
  nprocPerNode?: number | 'auto';
}

export function trainRequestFrom(options: TrainOptions): TrainRequest {
  const request: TrainRequest = { model_name: options.model, dataset_name: options.dataset };
  if (options.epochs !== undefined) request.epochs = options.epochs;
  if (options.batchSize !== undefined) request.batch_size = options.batchSize;
  if (options.lightweight) request.lightweight = true;
  if (options.limitSamples !== undefined) request.limit_samples = options.limitSamples;
  if (options.resume !== undefined) request.resume_from_checkpoint = options.resume;
  if (options.checkpoint !== undefined) request.specific_checkpoint = options.checkpoint;
  return request;
}

export async function trainCommand(options: TrainOptions): Promise<number> {
  const loaded = loadConfig({ path: options.config });
  const config: AsrConfig =
    options.nprocPerNode === undefined
      ? loaded
      : { ...loaded, distributed: { ...loaded.distributed, nproc_per_node: options.nprocPerNode } };
  const reporter = new ProgressReporter(process.stdout, {
    tty: process.stdout.isTTY === true,
    verbose: options.verbose,
  });
  if (worldSizeOf(withResolvedLayout(config).distributed) > 1) {
    return trainWorkers(config, trainRequestFrom(options), reporter);
  }

  let run: TrainingRun | null = null;
  let interrupted = false;
  // First Ctrl-C: finish the step and save a step checkpoint. Second: abort at once.
  const onSigint = () => {
    if (interrupted || !run) {
      reporter.line('aborted');
      process.exit(EXIT_INTERRUPTED);
    }
    interrupted = true;
    reporter.line('stopping: saving a checkpoint at the current step (Ctrl-C again to abort)');
    run.stop();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    run = await TrainingRun.prepare(config, trainRequestFrom(options), { onEvent: (event) => reporter.handle(event) });
    const plan = run.plan;
    reporter.line(
      `run ${plan.run_id}: ${plan.model_name} on ${plan.dataset_name}, epochs ${plan.start_epoch}..${plan.epochs}` +
        (plan.resumed_from ? `, resumed from ${plan.resumed_from}` : ', from scratch'),
    );
    reporter.setEpochs(plan.epochs);
    const outcome = await run.run();
    reporter.line(
      outcome.state === 'completed'
        ? `completed: epoch ${outcome.epoch}, global step ${outcome.global_step}` +
            (outcome.last_checkpoint ? `, last checkpoint ${outcome.last_checkpoint}` : '')
        : `stopped at epoch ${outcome.epoch} step ${outcome.step}` +
            (outcome.last_checkpoint ? `; saved ${outcome.last_checkpoint}` : '') +
            '; `asr-trainer train` with the same model and dataset resumes from it',
    );
    if (interrupted || outcome.state === 'stopped') return EXIT_INTERRUPTED;
    return EXIT_OK;
  } catch (err) {
    reporter.endBar();
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    await run?.close?.();
  }
}

/** The run's workers as child processes of this one, under a supervisor (the server's, without HTTP). */
async function trainWorkers(config: AsrConfig, request: TrainRequest, reporter: ProgressReporter): Promise<number> {
  const supervisor = new TrainingSupervisor(config);
  supervisor.on('event', (event) => reporter.handle(event));
  let interrupted = false;
  // Ctrl-C reaches the workers too (one process group): they vote to stop; the supervisor's stop is the same.
  const onSigint = () => {
    if (interrupted) {
      reporter.line('aborted');
      supervisor.killWorkers();
      process.exit(EXIT_INTERRUPTED);
    }
    interrupted = true;
    reporter.line('stopping: saving a checkpoint at the current step (Ctrl-C again to abort)');
    if (supervisor.isBusy()) supervisor.stop();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    const plan = await supervisor.start(request);
    const { world_size } = supervisor.status();
    reporter.line(
      `run ${plan.run_id}: ${plan.model_name} on ${plan.dataset_name}, epochs ${plan.start_epoch}..${plan.epochs}` +
        (plan.resumed_from ? `, resumed from ${plan.resumed_from}` : ', from scratch') +
        `, ${world_size} workers`,
    );
    reporter.setEpochs(plan.epochs);
    await supervisor.waitForExit();
    const status = supervisor.status();
    if (status.state === 'failed') {
      reporter.line(`failed: ${status.error?.message ?? 'the run failed'}`);
      for (const line of status.error?.last_logs ?? []) reporter.line(`  ${line}`);
      return EXIT_FAILURE;
    }
    reporter.line(
      status.state === 'completed'
        ? `completed: epoch ${status.epoch}, global step ${status.global_step}`
        : `stopped at epoch ${status.epoch} step ${status.step}; \`asr-trainer train\` with the same model and dataset resumes`,
    );
    return interrupted || status.state !== 'completed' ? EXIT_INTERRUPTED : EXIT_OK;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}

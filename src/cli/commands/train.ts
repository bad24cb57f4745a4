/** `asr-trainer train`: one TrainingRun in this process, with progress output and graceful Ctrl-C. */

import { loadConfig } from '../../config/index.js';
import type { TrainRequest } from '../../contract/index.js';
import { TrainingRun } from '../../training/index.js';
import { EXIT_INTERRUPTED, EXIT_OK } from '../exit.js';
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
  const config = loadConfig({ path: options.config });
  const reporter = new ProgressReporter(process.stdout, {
    tty: process.stdout.isTTY === true,
    verbose: options.verbose,
  });

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

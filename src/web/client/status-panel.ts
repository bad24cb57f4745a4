/** The status panel: the run's state and numbers from GET /api/train/status and the live `progress`/`metrics` events. */

import { element } from './dom.js';
import { DASH, duration, fixed, learningRate, percent } from './format.js';
import { RankTimes } from './rank-times.js';
import { StepTimer } from './step-timer.js';
import type { EpochMetrics, Progress, TrainStatus } from './types.js';

export function isActive(status: TrainStatus): boolean {
  return status.state === 'starting' || status.state === 'running' || status.state === 'stopping';
}

/** A failed run's error as one text: message, code, how the trainer ended and its last log lines. */
function describeFailure(error: TrainStatus['error']): string {
  if (!error) return '';
  if (typeof error === 'string') return error;
  const how = error.signal
    ? ` (signal ${error.signal})`
    : error.exit_code != null
      ? ` (exit code ${error.exit_code})`
      : '';
  const tail = error.last_logs?.length ? `\n${error.last_logs.join('\n')}` : '';
  return `${error.message}${error.code ? ` [${error.code}]` : ''}${how}${tail}`;
}

export class StatusPanel {
  private readonly timer = new StepTimer();
  private readonly rankTimes = new RankTimes();

  /** A new run starts: the step time of the previous one says nothing about it. */
  resetTimer(): void {
    this.timer.reset();
  }

  show(status: TrainStatus): void {
    const state = element('st-state');
    state.textContent = status.state;
    state.dataset.state = status.state;
    element('st-run').textContent = status.run_id ?? DASH;
    element('st-target').textContent = status.model_name ? `${status.model_name} / ${status.dataset_name}` : DASH;
    element('st-epoch').textContent = status.epoch != null ? `${status.epoch} / ${status.epochs ?? '?'}` : DASH;
    element('st-step').textContent = status.step != null ? String(status.step) : DASH;
    element('st-loss').textContent = fixed(status.loss, 4);
    element('st-lr').textContent = learningRate(status.lr);
    element('st-resumed').textContent = status.resumed_from ?? DASH;
    element('st-world').textContent = String(status.world_size);
    element('st-restarts').textContent = String(status.restarts);
    this.rankTimes.showWorld(status.world_size);
    const runError = element('st-error');
    runError.hidden = !status.error;
    runError.textContent = describeFailure(status.error);
    if (!isActive(status)) {
      element('st-ups').textContent = DASH;
      element('st-eta').textContent = DASH;
    }
  }

  showProgress(progress: Progress, epochs: number | null): void {
    this.timer.observe();
    element('st-epoch').textContent = `${progress.epoch} / ${epochs ?? '?'}`;
    element('st-step').textContent = `${progress.step} / ${progress.steps_per_epoch} (global ${progress.global_step})`;
    element('st-loss').textContent = fixed(progress.loss, 4);
    element('st-lr').textContent = learningRate(progress.lr);
    element('st-ups').textContent = fixed(progress.utterances_per_s, 1);
    element('st-eta').textContent = duration(this.timer.eta(progress, epochs));
    this.rankTimes.show(progress.rank_step_s);
  }

  showMetrics(metrics: EpochMetrics): void {
    // With a moving average (training.ema_decay), transcribe decodes with it: show its CER beside the raw one.
    const ema = metrics.val_cer_ema === undefined ? '' : `, moving average ${percent(metrics.val_cer_ema, 2)}`;
    element('st-cer').textContent = `${percent(metrics.val_cer, 2)} (epoch ${metrics.epoch})${ema}`;
  }
}

/**
 * What `asr-trainer train` prints for the run's events: on a terminal, one redrawn bar per epoch with
 * loss, lr, utterances/s and ETA; otherwise (a pipe, a log file, CI) plain lines that read well as logs.
 * Written here rather than with a bar library: it is one line of text, and no extra dependency is needed.
 */

import type { TrainingEvent } from '../contract/index.js';

const BAR_WIDTH = 24;

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

export function formatPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(2)}%`;
}

interface ReporterOptions {
  tty: boolean;
  /** Total epochs of the run (from its plan); the status events carry it too. */
  epochs?: number;
  /** Debug log lines are shown only when asked for. */
  verbose?: boolean;
}

/** A data-parallel step: the world size and the rank that set its pace (the slowest). */
export function formatSlowestRank(rankStepS: number[] | undefined): string | null {
  if (!rankStepS || rankStepS.length <= 1) return null;
  const slowest = rankStepS.indexOf(Math.max(...rankStepS));
  return `world ${rankStepS.length}, slowest rank ${slowest} ${rankStepS[slowest].toFixed(3)} s/step`;
}

export class ProgressReporter {
  private epochs: number | null;
  private epochStartedAt = 0;
  private epochStartStep = 0;
  private barShown = false;
  private lastDraw = 0;
  private worldShown: string | null = null;

  constructor(
    private readonly out: NodeJS.WriteStream | NodeJS.WritableStream,
    private readonly options: ReporterOptions,
  ) {
    this.epochs = options.epochs ?? null;
  }

  setEpochs(epochs: number): void {
    this.epochs = epochs;
  }

  handle(event: TrainingEvent): void {
    switch (event.type) {
      case 'progress': {
        const p = event.payload;
        const firstSeen = p.step <= 1 || this.epochStartedAt === 0;
        if (firstSeen) {
          this.epochStartedAt = performance.now();
          this.epochStartStep = p.step - 1;
        }
        const elapsed = (performance.now() - this.epochStartedAt) / 1000;
        const done = p.step - this.epochStartStep;
        const perStep = done > 0 ? elapsed / done : null;
        const leftSteps =
          Math.max(p.steps_per_epoch - p.step, 0) + Math.max((this.epochs ?? p.epoch) - p.epoch, 0) * p.steps_per_epoch;
        const eta = perStep === null ? null : leftSteps * perStep;
        const slowest = formatSlowestRank(p.rank_step_s);
        const figures =
          `loss ${p.loss.toFixed(4)}  lr ${p.lr.toExponential(2)}  ${p.utterances_per_s.toFixed(1)} utt/s  ETA ${formatDuration(eta)}` +
          (slowest ? `  ${slowest}` : '');
        const epochLabel = `epoch ${p.epoch}/${this.epochs ?? '?'}`;
        if (this.options.tty) {
          // Redraw at most ten times a second, but always draw an epoch's first and last step.
          const now = performance.now();
          if (!firstSeen && p.step < p.steps_per_epoch && now - this.lastDraw < 100) break;
          this.lastDraw = now;
          const filled = Math.round((Math.min(p.step, p.steps_per_epoch) / Math.max(p.steps_per_epoch, 1)) * BAR_WIDTH);
          const bar = '█'.repeat(filled) + '░'.repeat(BAR_WIDTH - filled);
          const line = `${epochLabel} ${bar} ${p.step}/${p.steps_per_epoch}  ${figures}`;
          this.out.write(`\r\x1b[2K${line}`);
          this.barShown = true;
          if (p.step >= p.steps_per_epoch) this.endBar();
        } else if (firstSeen || this.shouldPrintPlain(p.step, p.steps_per_epoch)) {
          this.out.write(`${epochLabel} step ${p.step}/${p.steps_per_epoch} (global ${p.global_step})  ${figures}\n`);
        }
        break;
      }
      case 'metrics':
        // The run's own log line reports the validation; here it only marks the epoch's end.
        this.epochStartedAt = 0;
        break;
      case 'checkpoint':
        // Reported by the run's log line ("Saved checkpoint …").
        break;
      case 'status': {
        const { epochs, world_size, restarts } = event.payload;
        if (epochs) this.epochs = epochs;
        // A data-parallel run says its world once, and again when a restart changes it.
        const world = `world size ${world_size}` + (restarts > 0 ? `, restarts ${restarts}` : '');
        if ((world_size > 1 || restarts > 0) && world !== this.worldShown) {
          this.worldShown = world;
          this.line(world);
        }
        break;
      }
      case 'log': {
        const l = event.payload;
        if (l.level === 'debug' && !this.options.verbose) break;
        this.line(l.level === 'info' ? l.message : `${l.level}: ${l.message}`);
        break;
      }
    }
  }

  /** Ends a half-drawn bar so the next output starts on its own line. */
  endBar(): void {
    if (!this.barShown) return;
    this.out.write('\n');
    this.barShown = false;
  }

  line(text: string): void {
    this.endBar();
    this.out.write(`${text}\n`);
  }

  /** About ten lines per epoch, and always the last step of it (the first one seen is printed by the caller). */
  private shouldPrintPlain(step: number, stepsPerEpoch: number): boolean {
    const every = Math.max(1, Math.floor(stepsPerEpoch / 10));
    return step >= stepsPerEpoch || step % every === 0;
  }
}

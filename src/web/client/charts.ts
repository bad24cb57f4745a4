/**
 * The two curves: training loss per global step and validation CER per epoch. Points are keyed by their
 * x value, so history reloaded after a resume and live points for the same step merge instead of doubling,
 * and a run resumed from an earlier checkpoint overwrites the steps it retrains.
 */

import uPlot from 'uplot';
import type { EpochMetrics, Progress } from './types.js';

class Curve {
  private readonly points = new Map<number, number>();
  private plot: uPlot | null = null;
  private pending = false;

  constructor(
    private readonly container: HTMLElement,
    private readonly xLabel: string,
    private readonly yLabel: string,
    private readonly color: string,
    private readonly showPoints: boolean,
    /** Epochs are whole numbers: no 1.25 ticks. */
    private readonly integerX = false,
  ) {
    new ResizeObserver(() => this.resize()).observe(container);
  }

  add(x: number, y: number): void {
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    this.points.set(x, y);
    this.schedule();
  }

  clear(): void {
    this.points.clear();
    this.schedule();
  }

  /** Drops the points at and after x: what a resume from an older checkpoint retrains. */
  dropFrom(x: number): void {
    for (const key of [...this.points.keys()]) if (key >= x) this.points.delete(key);
    this.schedule();
  }

  get size(): number {
    return this.points.size;
  }

  /** Redraw at most once per frame: progress events can arrive faster than the page repaints. */
  private schedule(): void {
    this.container.dataset.points = String(this.points.size);
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  private data(): uPlot.AlignedData {
    const xs = [...this.points.keys()].sort((a, b) => a - b);
    return [xs, xs.map((x) => this.points.get(x) as number)];
  }

  private draw(): void {
    if (this.plot) {
      this.plot.setData(this.data());
      return;
    }
    const width = Math.max(this.container.clientWidth, 300);
    this.plot = new uPlot(
      {
        width,
        height: 220,
        scales: { x: { time: false } },
        axes: [
          this.integerX
            ? { label: this.xLabel, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }
            : { label: this.xLabel },
          { label: this.yLabel },
        ],
        series: [
          { label: this.xLabel },
          { label: this.yLabel, stroke: this.color, width: 1.5, points: { show: this.showPoints } },
        ],
        legend: { show: true },
      },
      this.data(),
      this.container,
    );
  }

  private resize(): void {
    if (this.plot) this.plot.setSize({ width: Math.max(this.container.clientWidth, 300), height: 220 });
  }
}

export class TrainingCharts {
  private readonly loss: Curve;
  private readonly cer: Curve;

  constructor(lossContainer: HTMLElement, cerContainer: HTMLElement) {
    this.loss = new Curve(lossContainer, 'step', 'loss', '#2563eb', false);
    this.cer = new Curve(cerContainer, 'epoch', 'CER %', '#2e7d32', true, true);
  }

  addProgress(progress: Pick<Progress, 'global_step' | 'loss'>): void {
    this.loss.add(progress.global_step, progress.loss);
  }

  /**
   * A run's first step: a run resumed from an older checkpoint replaces what followed it, so the
   * curves drop the later points (as the server's history does once the new lines are written).
   */
  startRun(progress: Pick<Progress, 'global_step' | 'epoch'>): void {
    this.loss.dropFrom(progress.global_step);
    this.cer.dropFrom(progress.epoch);
  }

  addMetrics(metrics: Pick<EpochMetrics, 'epoch' | 'val_cer'>): void {
    this.cer.add(metrics.epoch, metrics.val_cer * 100);
  }

  /**
   * One metrics.jsonl record: step lines carry `loss` and `global_step`, epoch lines `val_cer`; a record
   * may also wrap its fields in `payload` the way /ws messages do.
   */
  addHistoryRecord(record: unknown): void {
    if (!record || typeof record !== 'object') return;
    const r = record as Record<string, unknown>;
    if (r.payload && typeof r.payload === 'object') {
      this.addHistoryRecord(r.payload);
      return;
    }
    if (typeof r.val_cer === 'number' && typeof r.epoch === 'number') {
      this.addMetrics({ epoch: r.epoch, val_cer: r.val_cer });
    } else if (typeof r.loss === 'number' && typeof r.global_step === 'number') {
      this.addProgress({ global_step: r.global_step, loss: r.loss });
    }
  }

  clear(): void {
    this.loss.clear();
    this.cer.clear();
  }

  get lossPoints(): number {
    return this.loss.size;
  }
}

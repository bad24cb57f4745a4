/** Seconds per step, smoothed, from the arrival times of `progress` events; pauses (validation) are skipped. */

import type { Progress } from './types.js';

/** A gap longer than this is a pause (validation, a checkpoint save), not a step. */
const MAX_STEP_SECONDS = 120;

export class StepTimer {
  private last: number | null = null;
  private secondsPerStep: number | null = null;

  observe(): void {
    const now = performance.now();
    if (this.last !== null) {
      const seconds = (now - this.last) / 1000;
      if (seconds < MAX_STEP_SECONDS) {
        this.secondsPerStep = this.secondsPerStep === null ? seconds : 0.8 * this.secondsPerStep + 0.2 * seconds;
      }
    }
    this.last = now;
  }

  reset(): void {
    this.last = null;
    this.secondsPerStep = null;
  }

  /** Seconds left until the last epoch ends, or null before two steps are seen. */
  eta(progress: Progress, epochs: number | null): number | null {
    if (this.secondsPerStep === null || !epochs || !progress.steps_per_epoch) return null;
    const leftInEpoch = Math.max(progress.steps_per_epoch - progress.step, 0);
    const leftEpochs = Math.max(epochs - progress.epoch, 0);
    return (leftInEpoch + leftEpochs * progress.steps_per_epoch) * this.secondsPerStep;
  }
}

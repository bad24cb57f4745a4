/**
 * Early stopping (training.early_stopping_patience): a run ends, as completed, once `patience` epochs have
 * passed since the lowest validation CER. The best so far travels in every checkpoint's metrics
 * (BEST_VAL_CER, BEST_VAL_CER_EPOCH), so the count goes on across stops and resumes; every rank of a world
 * sees the same reduced CER, so all of them decide alike without a vote.
 */
import type { CheckpointMetrics } from '../checkpoints/index.js';
import { BEST_VAL_CER, BEST_VAL_CER_EPOCH, type BestValidation } from './plan.js';

export class EarlyStopping {
  private best: BestValidation | null;

  constructor(
    private readonly patience: number,
    best: BestValidation | null,
  ) {
    this.best = best;
  }

  /** What each checkpoint records of it (nothing until a validation has run). */
  metrics(): CheckpointMetrics {
    return this.best ? { [BEST_VAL_CER]: this.best.cer, [BEST_VAL_CER_EPOCH]: this.best.epoch } : {};
  }

  /** Takes epoch `epoch`'s val CER; only a strictly lower one counts as better. */
  observe(epoch: number, cer: number): void {
    if (!Number.isFinite(cer)) return;
    if (this.best === null || cer < this.best.cer) this.best = { cer, epoch };
  }

  /** Why the run ends after `epoch`, or null while it goes on (always null when patience is 0). */
  reasonToStop(epoch: number): string | null {
    if (this.patience <= 0 || this.best === null) return null;
    const without = epoch - this.best.epoch;
    if (without < this.patience) return null;
    return (
      `early stopping: no better val CER for ${without} epochs (training.early_stopping_patience ${this.patience}); ` +
      `the best was ${(this.best.cer * 100).toFixed(2)}% at epoch ${this.best.epoch}`
    );
  }
}

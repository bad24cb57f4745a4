/**
 * An epoch's validation: loss, CER and WER of the trained weights and, with training.ema_decay > 0, of
 * their moving average (swapped in by the addon for the pass and swapped back bit for bit), decoded greedily
 * or, with training.val_beam > 1, by a CTC prefix beam search of that width. The trained weights' val_cer
 * stays the figure that early stopping and the `best` checkpoint go by; the average's rides alongside.
 */
import type { TrainingConfig } from '../config/schema.js';
import type { EvalResult, EvaluateOptions, FeatureStore, Trainer } from '../native/types.js';

export interface Validation {
  raw: EvalResult;
  /** null without a moving average (ema_decay 0). */
  ema: EvalResult | null;
}

/** The validation figures as the metrics event, the checkpoint's metrics and metrics.jsonl carry them. */
export interface ValidationMetrics {
  val_loss: number;
  val_cer: number;
  val_wer: number;
  val_loss_ema?: number;
  val_cer_ema?: number;
  val_wer_ema?: number;
}

/** The decoder of the validation CER/WER (an average's score at write uses it too, to compare alike). */
export function validationDecoding(training: Pick<TrainingConfig, 'val_beam'>): EvaluateOptions {
  return training.val_beam > 1 ? { beam: training.val_beam } : {};
}

/** Every rank of a world calls it alike (the same config), so the collectives inside evaluate pair up. */
export async function validate(
  trainer: Trainer,
  valData: FeatureStore,
  batches: number[][],
  training: Pick<TrainingConfig, 'ema_decay' | 'val_beam'>,
): Promise<Validation> {
  const decoding = validationDecoding(training);
  const raw = await trainer.evaluate(valData, batches, decoding);
  const ema = training.ema_decay > 0 ? await trainer.evaluate(valData, batches, { ...decoding, weights: 'ema' }) : null;
  return { raw, ema };
}

export function validationMetrics({ raw, ema }: Validation): ValidationMetrics {
  return {
    val_loss: raw.loss,
    val_cer: raw.cer,
    val_wer: raw.wer,
    ...(ema ? { val_loss_ema: ema.loss, val_cer_ema: ema.cer, val_wer_ema: ema.wer } : {}),
  };
}

/** A rate as the log lines write it: 0.123 → "12.30%". */
export function formatPercentage(fraction: number): string {
  return `${(fraction * 100).toFixed(2)}%`;
}

/** The log line: "Epoch 3: val loss 0.4120, CER 12.30%, WER 40.10%; EMA: loss …, CER …, WER …". */
export function validationSummary(epoch: number, { raw, ema }: Validation): string {
  const figures = (r: EvalResult): string =>
    `loss ${r.loss.toFixed(4)}, CER ${formatPercentage(r.cer)}, WER ${formatPercentage(r.wer)}`;
  return `Epoch ${epoch}: val ${figures(raw)}${ema ? `; EMA weights: ${figures(ema)}` : ''}`;
}

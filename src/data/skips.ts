/**
 * The skipped-utterance policy: a few unusable utterances are a warning, more than the dataset's
 * `max_skipped_fraction` is an error. The training run merges this side's skips (empty transcripts)
 * with the FeatureStore's (unreadable, empty or too-short audio) and asks once.
 */
import { AsrTrainerError } from '../errors.js';
import type { SkippedUtterance } from './dataset.js';

export interface SkippedShareVerdict {
  /** skipped / total (0 when total is 0). */
  fraction: number;
  /** One warning line naming the first ids and the reasons, or undefined when nothing was skipped. */
  warning?: string;
}

/**
 * Throws E_DATASET_INVALID when `skipped.length / total` exceeds `maxFraction`; otherwise returns the
 * warning to log (first `listed` ids with their reasons).
 */
export function checkSkippedShare(
  datasetName: string,
  total: number,
  skipped: readonly SkippedUtterance[],
  maxFraction: number,
  listed = 10,
): SkippedShareVerdict {
  const fraction = total > 0 ? skipped.length / total : 0;
  if (skipped.length === 0) return { fraction };
  const reasons = new Map<string, number>();
  for (const s of skipped) reasons.set(s.reason, (reasons.get(s.reason) ?? 0) + 1);
  const byReason = [...reasons.entries()].map(([reason, count]) => `${count} ${reason}`).join('; ');
  const first = skipped
    .slice(0, listed)
    .map((s) => s.id)
    .join(', ');
  const percent = (fraction * 100).toFixed(1);
  const summary = `${skipped.length} of ${total} utterances (${percent}%) of dataset '${datasetName}' skipped (${byReason}); first: ${first}${skipped.length > listed ? ', ...' : ''}`;
  if (fraction > maxFraction) {
    throw new AsrTrainerError(
      'E_DATASET_INVALID',
      `${summary}. That is more than datasets.${datasetName}.max_skipped_fraction (${maxFraction}): fix the files or raise the limit.`,
      { dataset_name: datasetName, skipped: skipped.slice(0, 100), total, fraction },
    );
  }
  return { fraction, warning: summary };
}

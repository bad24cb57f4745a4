import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One line of `paths.runs/{model}-{dataset}/metrics.jsonl`. */
export type MetricsRecord =
  | {
      kind: 'step';
      run_id: string;
      epoch: number;
      step: number;
      global_step: number;
      loss: number;
      lr: number;
      utterances_per_s: number;
      time: string;
    }
  | {
      kind: 'epoch';
      run_id: string;
      epoch: number;
      global_step: number;
      /** Mean step loss of the epoch (null when no finite step ran in this process). */
      train_loss: number | null;
      val_loss: number;
      val_cer: number;
      val_wer: number;
      time: string;
    };

export function runDirectory(runsRoot: string, modelName: string, datasetName: string): string {
  return join(runsRoot, `${modelName}-${datasetName}`);
}

/** Appends lines; each append is one write so a reader never sees half a record. */
export class MetricsLog {
  readonly path: string;

  constructor(runsRoot: string, modelName: string, datasetName: string) {
    this.path = join(runDirectory(runsRoot, modelName, datasetName), 'metrics.jsonl');
  }

  async append(records: MetricsRecord[]): Promise<void> {
    if (records.length === 0) return;
    await mkdir(join(this.path, '..'), { recursive: true });
    await appendFile(this.path, records.map((r) => JSON.stringify(r) + '\n').join(''));
  }
}

/**
 * The history a dashboard draws: every record, except those a later resume from an older checkpoint
 * replaced (a step line at or past the global step where a newer run restarted is dropped), so the
 * curve shows the path that led to the current model. Unparseable lines (a crash mid-write) are skipped.
 */
export async function readMetricsHistory(path: string): Promise<MetricsRecord[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const records: MetricsRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      records.push(JSON.parse(line) as MetricsRecord);
    } catch {
      continue;
    }
  }
  const kept: MetricsRecord[] = [];
  for (const record of records) {
    if (record.kind === 'step') {
      // A rewind: drop everything the earlier branch logged from this step on.
      while (kept.length > 0 && kept[kept.length - 1].global_step >= record.global_step) kept.pop();
    }
    kept.push(record);
  }
  return kept;
}

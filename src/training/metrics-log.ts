import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ValidationMetrics } from './validation.js';

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
  | ({
      kind: 'epoch';
      run_id: string;
      epoch: number;
      global_step: number;
      /** Mean step loss of the epoch (null when no finite step ran in this process). */
      train_loss: number | null;
      time: string;
    } & ValidationMetrics); // the _ema figures with training.ema_decay > 0

export function runDirectory(runsRoot: string, modelName: string, datasetName: string): string {
  return join(runsRoot, `${modelName}-${datasetName}`);
}

/**
 * `metrics.jsonl` of one model/dataset pair. A run `record`s lines as it trains and `flush`es them now and
 * then: a line per step would be a write per step. Each append is one write, so a reader never sees half a
 * record, and appends are chained, so lines keep their order even when a write is slow.
 */
export class MetricsLog {
  readonly path: string;
  private readonly pending: MetricsRecord[] = [];
  private writing: Promise<void> = Promise.resolve();

  /** `onWriteError`: a failed append costs those lines, not the run; it is told instead of thrown. */
  constructor(
    runsRoot: string,
    modelName: string,
    datasetName: string,
    private readonly onWriteError: (err: Error) => void = () => undefined,
  ) {
    this.path = join(runDirectory(runsRoot, modelName, datasetName), 'metrics.jsonl');
  }

  record(record: MetricsRecord): void {
    this.pending.push(record);
  }

  /** Writes what is recorded; resolves when every earlier flush is on disk (or has failed and been told). */
  flush(): Promise<void> {
    if (this.pending.length > 0) {
      const records = this.pending.splice(0);
      this.writing = this.writing
        .then(() => this.append(records))
        .catch((err: unknown) => this.onWriteError(err as Error));
    }
    return this.writing;
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

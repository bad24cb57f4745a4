/**
 * What `npm run demo -- --record` measured, one JSON file per run in bench/results/demo/: the figures the
 * README's demo paragraph is generated from (scripts/readme-figures.ts), each with its date, machine and
 * command, so a figure in the README is never older than the file it came from.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEMO_RESULTS_DIR = join('bench', 'results', 'demo');
/** The demo's length unless `--epochs` says otherwise: the runs the README's figures are about. */
export const DEMO_EPOCHS = 20;

/** A checkpoint's figures: validation CER, and CER on the held-out set (voices and sentences never trained on). */
export interface ScoredCheckpoint {
  name: string;
  val_cer: number | null;
  held_out_cer: number | null;
}

export interface DemoRecord {
  /** ISO time the demo started. */
  date: string;
  command: string;
  commit: string;
  /** bench/lib/report.ts machine(): cpu, cores, cpu_features, … */
  machine: Record<string, unknown>;
  load_average_at_start: number[];
  load_average_at_end: number[];
  layout: { nproc_per_node: number | 'auto'; workers: number; threads_per_worker: number };
  epochs: number;
  demo_time_s: number;
  /** Both training parts, from the first start to the resumed run's end (features included). */
  training_time_s: number;
  final: { epoch: number; val_cer: number | null; val_cer_ema: number | null };
  best_single: ScoredCheckpoint | null;
  average: ScoredCheckpoint | null;
}

/** 2026-12-08-amd-epyc-2c-2x1-e20.json: the day, the CPU, the layout (workers × threads) and the epochs. */
export function demoRecordName(record: DemoRecord): string {
  const cpu = String(record.machine.cpu)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  const { workers, threads_per_worker } = record.layout;
  return `${record.date.slice(0, 10)}-${cpu}-${String(record.machine.cores)}c-${workers}x${threads_per_worker}-e${record.epochs}.json`;
}

export function writeDemoRecord(root: string, record: DemoRecord): string {
  const dir = join(root, DEMO_RESULTS_DIR);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, demoRecordName(record));
  writeFileSync(file, JSON.stringify(record, null, 2) + '\n');
  return file;
}

/** Every record, oldest first (by date). */
export function readDemoRecords(root: string): { file: string; record: DemoRecord }[] {
  const dir = join(root, DEMO_RESULTS_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.endsWith('.json'))
    .map((name) => ({
      file: join(DEMO_RESULTS_DIR, name),
      record: JSON.parse(readFileSync(join(dir, name), 'utf8')) as DemoRecord,
    }))
    .sort((a, b) => a.record.date.localeCompare(b.record.date));
}

/** The results file (JSON + markdown) and the console table, one row per measured comparison. */
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

import { formatSummary, type Summary } from './stats.js';

export interface Row {
  suite: string;
  case: string;
  metric: string;
  unit: string;
  project: Summary | null;
  reference: Summary | null;
  /** What "better" means for the ratio: lower (times) or higher (rates). */
  better: 'lower' | 'higher';
  /** Target from the issue, as text, and whether it is met (null: no target). */
  target?: string;
  met?: boolean | null;
  note?: string;
}

/** Project advantage: > 1 means the project is better (faster, or higher rate). */
export function ratio(row: Row): number | null {
  if (!row.project || !row.reference || !(row.project.median > 0) || !(row.reference.median > 0)) return null;
  return row.better === 'lower' ? row.reference.median / row.project.median : row.project.median / row.reference.median;
}

export function machine(): Record<string, unknown> {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memory_gib: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

function digitsFor(unit: string): number {
  return unit === 'ms' || unit === 's' || unit === 'x' ? 2 : 1;
}

export function renderTable(rows: Row[]): string {
  const head = ['suite', 'case', 'metric', 'project', 'reference', 'ratio', 'target', 'met'];
  const body = rows.map((r) => {
    const d = digitsFor(r.unit);
    const q = ratio(r);
    return [
      r.suite,
      r.case,
      `${r.metric} [${r.unit}]`,
      r.project ? formatSummary(r.project, d) : '–',
      r.reference ? formatSummary(r.reference, d) : '–',
      q === null ? '–' : `${q.toFixed(2)}×`,
      r.target ?? '',
      r.met === undefined || r.met === null ? '' : r.met ? 'yes' : 'NO',
    ];
  });
  return [head, ...body]
    .map((cells) => `| ${cells.join(' | ')} |`)
    .join('\n')
    .replace(/\n/, `\n|${head.map(() => '---').join('|')}|\n`);
}

export function writeResults(
  dir: string,
  base: string,
  meta: Record<string, unknown>,
  rows: Row[],
  notes: string[],
): void {
  const json = { ...meta, rows: rows.map((r) => ({ ...r, ratio: ratio(r) })), notes };
  writeFileSync(join(dir, `${base}.json`), JSON.stringify(json, null, 2) + '\n');
  const md = [
    `# asr-trainer benchmarks`,
    '',
    `Run ${String(meta.date)} on ${String((meta.machine as Record<string, unknown>).cpu)} ` +
      `(${String((meta.machine as Record<string, unknown>).cores)} cores), command \`${String(meta.command)}\`.`,
    `Values: median (min–max) over the repetitions; ratio > 1 means the project is better ` +
      `(reference time / project time, or project rate / reference rate).`,
    '',
    renderTable(rows),
    '',
    ...notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
  writeFileSync(join(dir, `${base}.md`), md);
}

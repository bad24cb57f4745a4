/** The results file (JSON + markdown) and the console table, one row per measured comparison. */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
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

/** The CPU features that change which kernels LibTorch runs (bf16 and AMX matmuls), as /proc/cpuinfo lists them. */
const KERNEL_FEATURES = ['avx2', 'avx512f', 'avx512_bf16', 'amx_bf16', 'amx_tile'] as const;

function cpuFeatures(): string[] {
  let flags: string[] = [];
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m);
    flags = line ? line[1].trim().split(/\s+/) : [];
  } catch {
    // not Linux: no flags known
  }
  return KERNEL_FEATURES.filter((f) => flags.includes(f));
}

/** "AMD EPYC, 2 cores, no AMX, no avx512_bf16": how a results file and the README name a machine. */
export function describeMachine(m: Record<string, unknown>): string {
  const features = Array.isArray(m.cpu_features) ? (m.cpu_features as string[]) : null;
  const has = (f: string) => (features === null ? 'unknown' : features.includes(f) ? f : `no ${f}`);
  const amx = features === null ? 'AMX unknown' : features.includes('amx_bf16') ? 'AMX' : 'no AMX';
  return `${String(m.cpu)}, ${String(m.cores)} cores, ${amx}, ${has('avx512_bf16')}`;
}

/** The short commit of the checkout at `root`, `-dirty` when tracked files differ from it, or 'unknown'. */
export function gitCommit(root: string): string {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty', '--abbrev=7'], { cwd: root }).toString().trim();
  } catch {
    return 'unknown';
  }
}

/** The 1, 5 and 15 minute load averages, to two decimals: how busy the machine was. */
export function loadAverage(): number[] {
  return loadavg().map((l) => Math.round(l * 100) / 100);
}

export function machine(): Record<string, unknown> {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    cpu_features: cpuFeatures(),
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

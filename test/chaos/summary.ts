/**
 * The figures of the last chaos run (kills survived, inputs tried, files checked, RSS growth), one part
 * per test file, merged into test-artifacts/chaos-summary.json for README's "Reliability" section.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SUMMARY_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '../../test-artifacts/chaos-summary.json');

export type Figures = Record<string, unknown>;

export function readSummary(): Record<string, Figures> {
  if (!existsSync(SUMMARY_PATH)) return {};
  try {
    return JSON.parse(readFileSync(SUMMARY_PATH, 'utf8')) as Record<string, Figures>;
  } catch {
    return {};
  }
}

/** Test files run one after another (fileParallelism: false), so read-modify-write is safe. */
export function recordFigures(part: string, figures: Figures): void {
  const summary = readSummary();
  summary[part] = { ...(summary[part] ?? {}), ...figures };
  mkdirSync(dirname(SUMMARY_PATH), { recursive: true });
  writeFileSync(SUMMARY_PATH, JSON.stringify(summary, null, 2) + '\n');
}

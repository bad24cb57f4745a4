/**
 * The README's figure guard (bench/lib/readme-figures.ts, `npm run lint`): a generated block that differs from
 * its results files fails, `--write` brings it back, and a cited results file must exist and name its date,
 * machine and command. Real files in a temp folder shaped like the repository; the script run as `lint` runs it.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { writeDemoRecord, type DemoRecord } from '../../bench/lib/demo-record.js';
import { readmeFigureProblems, renderReadme } from '../../bench/lib/readme-figures.js';
import { REPO_ROOT } from '../cli/run-cli.js';

const run = promisify(execFile);
let root: string | undefined;
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

function record(overrides: Partial<DemoRecord> = {}): DemoRecord {
  return {
    date: '2026-12-08T01:00:00.000Z',
    command: 'npm run demo -- --record',
    commit: 'abc1234',
    machine: { cpu: 'AMD EPYC', cores: 2, cpu_features: ['avx2'] },
    load_average_at_start: [0.1, 0.2, 0.3],
    load_average_at_end: [1, 1, 1],
    layout: { nproc_per_node: 'auto', workers: 2, threads_per_worker: 1 },
    epochs: 20,
    demo_time_s: 200,
    training_time_s: 180,
    final: { epoch: 20, val_cer: 0.0827, val_cer_ema: 0.0679 },
    best_single: { name: 'c-epoch-19.pt', val_cer: 0.07, held_out_cer: 0.54 },
    average: { name: 'c-avg-16-20.pt', val_cer: 0.0743, held_out_cer: 0.53 },
    ...overrides,
  };
}

const README =
  '# x\n\n<!-- figures:demo -->\nthe whole demo took **4:28**, val CER **7.74%**\n<!-- /figures:demo -->\n';

function repository(readme: string): string {
  root = mkdtempSync(join(tmpdir(), 'asr-readme-'));
  mkdirSync(join(root, 'scripts'));
  mkdirSync(join(root, 'bench', 'lib'), { recursive: true });
  writeFileSync(join(root, 'README.md'), readme);
  return root;
}

it('a demo block that is not what the newest record says fails; rendering writes the record in', () => {
  const dir = repository(README);
  writeDemoRecord(dir, record());
  const problems = readmeFigureProblems(README, dir);
  expect(problems).toEqual([expect.stringMatching(/^README block figures:demo differs from bench\/results\/demo/)]);

  const rendered = renderReadme(README, dir);
  expect(rendered).toContain('**3:20** (training 3:00 of it)');
  expect(rendered).toContain('**8.27%** for the trained weights and **6.79%** for their moving average');
  expect(rendered).toContain('2026-12-08 01:00 UTC on AMD EPYC, 2 cores, no AMX, no avx512_bf16');
  expect(rendered).toContain('`npm run demo -- --record`');
  expect(readmeFigureProblems(rendered, dir)).toEqual([]);

  // A re-measure (a newer record of the same layout) makes the block stale again.
  writeDemoRecord(dir, record({ date: '2026-12-09T01:00:00.000Z', demo_time_s: 150 }));
  expect(readmeFigureProblems(rendered, dir)).toHaveLength(1);
  expect(renderReadme(rendered, dir)).toContain('**2:30**');
});

it('each layout on the newest machine gets its line, the auto layout first, full-length demos only', () => {
  const dir = repository(README);
  writeDemoRecord(dir, record());
  writeDemoRecord(
    dir,
    record({
      date: '2026-12-08T02:00:00.000Z',
      layout: { nproc_per_node: 1, workers: 1, threads_per_worker: 2 },
      demo_time_s: 268,
    }),
  );
  // A shortened demo (--epochs 3) is recorded but is not the demo the README describes.
  writeDemoRecord(dir, record({ date: '2026-12-08T03:00:00.000Z', epochs: 3, demo_time_s: 40 }));
  const lines = renderReadme(README, dir)
    .split('\n')
    .filter((l) => l.startsWith('- '));
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(/^- 2 worker processes × 1 thread each \(nproc_per_node: auto\).*\*\*3:20\*\*/);
  expect(lines[1]).toMatch(/^- 1 process × 2 threads \(nproc_per_node: 1\).*\*\*4:28\*\*/);
});

it('a block without its closing marker fails instead of going unchecked', () => {
  const readme = '<!-- figures:demo -->\nthe whole demo took **4:28**\n<!-- /figures:dmeo -->\n';
  expect(readmeFigureProblems(readme, repository(readme))).toEqual([
    'README opens 1 figure blocks but closes 0 (<!-- /figures:NAME -->)',
  ]);
});

it('a cited results file that is missing, or names no date, machine or command, fails', () => {
  const readme = 'See bench/results/a.md, bench/results/b.json and bench/results/gone.md.\n';
  const dir = repository(readme);
  mkdirSync(join(dir, 'bench', 'results'), { recursive: true });
  writeFileSync(join(dir, 'bench', 'results', 'a.md'), '# a\n\nRun on AMD EPYC, command `npm run bench`.\n');
  writeFileSync(join(dir, 'bench', 'results', 'b.json'), JSON.stringify({ date: '2026-12-08', machine: {} }));
  expect(readmeFigureProblems(readme, dir)).toEqual([
    'bench/results/a.md does not name its date near its top',
    'bench/results/b.json does not name its command',
    'bench/results/gone.md is cited but missing',
  ]);
});

it("the repository's README passes the guard, as `npm run lint` checks it", async () => {
  const { stdout, stderr } = await run('npx', ['tsx', 'scripts/readme-figures.ts'], { cwd: REPO_ROOT });
  expect(stdout + stderr).toBe('');
  expect(readmeFigureProblems(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'), REPO_ROOT)).toEqual([]);
});

/**
 * `npx tsx scripts/compare-demo-layouts.ts [--epochs N] [--timeout-s S]`: the demo once in one process of all
 * threads (the default before 2026-12-08, `--nproc-per-node 1`) and once at config.yaml's layout (`auto`),
 * each with `--record`, then prints both records' demo and training time, their ratio and the final val CERs
 * against the issue's bar (training ≥ 1.25× faster at the same final val CER ± 0.5 points). Run it on an idle
 * machine (it prints the load average), then `npx tsx scripts/readme-figures.ts --write` for the README.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readDemoRecords, type DemoRecord } from '../bench/lib/demo-record.js';
import { loadAverage } from '../bench/lib/report.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LAYOUTS = ['1', 'auto'] as const;

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  return index < 0 ? fallback : Number(process.argv[index + 1]);
}

const epochs = option('--epochs', 20);
const timeoutS = option('--timeout-s', 900);
const say = (line: string) => process.stdout.write(`${line}\n`);

const runs = new Map<string, DemoRecord>();
for (const nproc of LAYOUTS) {
  say(`compare: demo at --nproc-per-node ${nproc}, load average ${loadAverage().join(' ')}`);
  const startedAt = new Date().toISOString();
  // The demo script itself, not `npm run demo`: its set-up step belongs to a fresh checkout, not to a measurement.
  const result = spawnSync(
    'npx',
    ['tsx', join(ROOT, 'scripts', 'demo.ts'), '--record', '--nproc-per-node', nproc, '--epochs', String(epochs)],
    { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], timeout: timeoutS * 1000 },
  );
  if (result.error || result.signal) {
    say(`compare: the demo at --nproc-per-node ${nproc} did not finish within ${timeoutS} s (${result.signal ?? ''})`);
    process.exit(1);
  }
  const record = readDemoRecords(ROOT)
    .map((r) => r.record)
    .find((r) => r.date >= startedAt && String(r.layout.nproc_per_node) === nproc);
  if (!record) {
    say(`compare: the demo at --nproc-per-node ${nproc} wrote no record`);
    process.exit(1);
  }
  runs.set(nproc, record);
}

const before = runs.get('1')!;
const after = runs.get('auto')!;
const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(2)}%`);
const points = (a: number | null, b: number | null) => (a === null || b === null ? NaN : (b - a) * 100);
for (const [label, r] of [
  ['one process', before],
  ['auto', after],
] as const) {
  say(
    `compare: ${label} (${r.layout.workers} × ${r.layout.threads_per_worker} threads): demo ${r.demo_time_s} s, ` +
      `training ${r.training_time_s} s, val CER ${pct(r.final.val_cer)}, moving average ${pct(r.final.val_cer_ema)}, ` +
      `load ${r.load_average_at_start[0]} → ${r.load_average_at_end[0]}`,
  );
}
const speedup = before.training_time_s / after.training_time_s;
const raw = points(before.final.val_cer, after.final.val_cer);
const ema = points(before.final.val_cer_ema, after.final.val_cer_ema);
say(
  `compare: training ${speedup.toFixed(2)}× faster at auto (goal ≥ 1.25×), demo ${(before.demo_time_s / after.demo_time_s).toFixed(2)}×; ` +
    `val CER ${raw >= 0 ? '+' : ''}${raw.toFixed(2)} points raw, ${ema >= 0 ? '+' : ''}${ema.toFixed(2)} moving average (goal within ±0.5)`,
);

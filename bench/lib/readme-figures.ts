/**
 * The README's measured figures, written from the results files that hold them, so a figure cannot
 * outlive its measurement: each generated block sits between `<!-- figures:NAME -->` and
 * `<!-- /figures:NAME -->` and is rewritten from bench/results by scripts/readme-figures.ts --write;
 * `npm run lint` fails while a block differs from what its files say, or while the README cites a results
 * file that is missing or does not name its date, machine and command.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_EPOCHS, DEMO_RESULTS_DIR, readDemoRecords, type DemoRecord } from './demo-record.js';
import { describeMachine } from './report.js';

export const WRITE_COMMAND = 'npx tsx scripts/readme-figures.ts --write';

/** A block's text (between its markers), made from the results under the repository root. */
type Renderer = (root: string) => string;

const pct = (x: number | null | undefined): string => (typeof x === 'number' ? `${(x * 100).toFixed(2)}%` : 'n/a');

function minutes(seconds: number): string {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function when(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

function layoutText(record: DemoRecord): string {
  const { workers, threads_per_worker, nproc_per_node } = record.layout;
  const threads = `${threads_per_worker} thread${threads_per_worker === 1 ? '' : 's'}`;
  const shape = workers === 1 ? `1 process × ${threads}` : `${workers} worker processes × ${threads} each`;
  return `${shape} (nproc_per_node: ${nproc_per_node})`;
}

function sameMachine(a: DemoRecord, b: DemoRecord): boolean {
  return describeMachine(a.machine) === describeMachine(b.machine);
}

/**
 * The newest full-length demo record of each layout on the newest such record's machine, the default layout
 * (auto) first. Shortened demos (`--epochs`) are recorded too, but are not the demo the README describes.
 */
function demoFigures(root: string): string {
  const records = readDemoRecords(root).filter(({ record }) => record.epochs === DEMO_EPOCHS);
  if (records.length === 0) return `No demo recorded yet: \`npm run demo -- --record\`, then \`${WRITE_COMMAND}\`.`;
  const newest = records[records.length - 1].record;
  const byLayout = new Map<string, { file: string; record: DemoRecord }>();
  for (const entry of records) {
    if (sameMachine(entry.record, newest)) byLayout.set(layoutText(entry.record), entry);
  }
  const shown = [...byLayout.values()].sort(
    (a, b) => Number(b.record.layout.nproc_per_node === 'auto') - Number(a.record.layout.nproc_per_node === 'auto'),
  );
  return shown
    .map(({ file, record }) => {
      const epochsAveraged = record.average ? ` (\`${record.average.name}\`)` : '';
      return (
        `- ${layoutText(record)}: measured ${when(record.date)} on ${describeMachine(record.machine)}, load average ` +
        `${record.load_average_at_start[0]} at the start, \`${record.command}\` at commit ${record.commit} ` +
        `(\`${file}\`): the whole demo took **${minutes(record.demo_time_s)}** (training ` +
        `${minutes(record.training_time_s)} of it), final val CER **${pct(record.final.val_cer)}** for the trained ` +
        `weights and **${pct(record.final.val_cer_ema)}** for their moving average (epoch ${record.final.epoch}), ` +
        `${pct(record.average?.val_cer)} for the average of the last epoch checkpoints${epochsAveraged}; on the ` +
        `held-out set ${pct(record.best_single?.held_out_cer)} (the best single checkpoint) and ` +
        `${pct(record.average?.held_out_cer)} (the average).`
      );
    })
    .join('\n');
}

export const RENDERERS: Record<string, Renderer> = { demo: demoFigures };

/** A block: its opening line, its body (whole lines), its closing marker. */
const BLOCK = /(<!-- figures:([a-z-]+) -->\n)([\s\S]*?)(<!-- \/figures:\2 -->)/g;
const OPENING = /<!-- figures:([a-z-]+) -->/g;

/** The README with every known block rewritten from its results; unknown block names are left alone. */
export function renderReadme(readme: string, root: string): string {
  return readme.replace(BLOCK, (whole, open: string, name: string, _body: string, close: string) => {
    const render = RENDERERS[name];
    return render ? `${open}${render(root)}\n${close}` : whole;
  });
}

/** Results files the README cites (`bench/results/…`, globs and `{a,b}` lists left out). */
function citedResults(readme: string): string[] {
  const cited = readme.match(/bench\/results\/[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.(?:md|json)/g) ?? [];
  return [...new Set(cited)];
}

/** A results file names its date, machine and command: JSON keys, or the words of a markdown report. */
function provenanceProblem(root: string, file: string): string | null {
  const path = join(root, file);
  if (!existsSync(path)) return `${file} is cited but missing`;
  const text = readFileSync(path, 'utf8');
  if (file.endsWith('.json')) {
    const json = JSON.parse(text) as Record<string, unknown>;
    const missing = ['date', 'machine', 'command'].filter((k) => json[k] === undefined);
    return missing.length > 0 ? `${file} does not name its ${missing.join(', ')}` : null;
  }
  const head = text.slice(0, 1500);
  const missing = [
    ['date', /\b20\d\d-\d\d-\d\d(?!\d)/],
    ['machine', /\b(AMD|Intel|EPYC|Xeon|H100|H200|GPU machine|VM)\b/],
    ['command', /`[^`]*(npm run|tsx|asr_bench|scripts\/|asr-trainer)[^`]*`/],
  ]
    .filter(([, pattern]) => !(pattern as RegExp).test(head))
    .map(([what]) => what as string);
  return missing.length > 0 ? `${file} does not name its ${missing.join(', ')} near its top` : null;
}

/** What keeps the README's figures from being true to their files; empty when nothing does. */
export function readmeFigureProblems(readme: string, root: string): string[] {
  const problems: string[] = [];
  const blocks = [...readme.matchAll(BLOCK)].map((m) => m[2]);
  const opened = [...readme.matchAll(OPENING)].map((m) => m[1]);
  if (opened.length !== blocks.length) {
    problems.push(`README opens ${opened.length} figure blocks but closes ${blocks.length} (<!-- /figures:NAME -->)`);
  }
  for (const name of blocks) {
    if (!RENDERERS[name]) problems.push(`README block figures:${name} has no renderer in bench/lib/readme-figures.ts`);
  }
  const rendered = renderReadme(readme, root);
  for (const name of blocks.filter((n) => RENDERERS[n])) {
    const pick = (text: string) => [...text.matchAll(BLOCK)].find((m) => m[2] === name)?.[3];
    if (pick(rendered) !== pick(readme)) {
      problems.push(`README block figures:${name} differs from ${sourceOf(name)}: run \`${WRITE_COMMAND}\``);
    }
  }
  for (const file of citedResults(readme)) {
    const problem = provenanceProblem(root, file);
    if (problem) problems.push(problem);
  }
  return problems;
}

function sourceOf(name: string): string {
  return name === 'demo' ? `${DEMO_RESULTS_DIR}/*.json` : 'its results files';
}

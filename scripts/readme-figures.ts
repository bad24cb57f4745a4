/**
 * `npx tsx scripts/readme-figures.ts`: fails (exit 1) when a figure block of README.md differs from the
 * bench/results files it is made from, or the README cites a results file that is missing or does not name
 * its date, machine and command (`npm run lint` runs it). `--write` rewrites the blocks from the files.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readmeFigureProblems, renderReadme } from '../bench/lib/readme-figures.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const readmePath = path.join(root, 'README.md');
const readme = readFileSync(readmePath, 'utf8');

if (process.argv.includes('--write')) {
  const rendered = renderReadme(readme, root);
  if (rendered !== readme) writeFileSync(readmePath, rendered);
  process.stdout.write(
    rendered !== readme ? 'README.md: figure blocks rewritten\n' : 'README.md: figure blocks current\n',
  );
}
const problems = readmeFigureProblems(readFileSync(readmePath, 'utf8'), root);
for (const problem of problems) process.stderr.write(`README figures: ${problem}\n`);
process.exitCode = problems.length > 0 ? 1 : 0;

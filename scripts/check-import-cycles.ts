/**
 * Fails when the modules under src/ import each other in a circle (type-only imports count: a type that
 * parts of a facade need belongs below the facade). `npm run lint` runs it. Written on TypeScript's own
 * parser and resolver, which the project has already, rather than adding a dependency-graph package.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const srcRoot = path.join(repoRoot, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

const { config } = ts.readConfigFile(path.join(repoRoot, 'tsconfig.json'), (file) => ts.sys.readFile(file));
const { options } = ts.parseJsonConfigFileContent(config, ts.sys, repoRoot);

/** Each file's imports (static, dynamic and `import type`) that resolve to another file under src/. */
function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles
      .map(({ fileName }) => ts.resolveModuleName(fileName, file, options, ts.sys).resolvedModule?.resolvedFileName)
      .filter((target): target is string => target !== undefined && target.startsWith(srcRoot + path.sep));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** One circle through `start` (a shortest one, by breadth-first search), as the files in import order. */
function circleThrough(graph: Map<string, string[]>, start: string): string[] | null {
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const next of graph.get(file) ?? []) {
      if (next === start) {
        const circle = [file];
        while (circle[0] !== start) circle.unshift(cameFrom.get(circle[0]!)!);
        return [...circle, start];
      }
      if (!cameFrom.has(next)) {
        cameFrom.set(next, file);
        queue.push(next);
      }
    }
  }
  return null;
}

const graph = importGraph(sourceFiles(srcRoot));
const reported = new Set<string>();
for (const file of [...graph.keys()].sort()) {
  if (reported.has(file)) continue;
  const circle = circleThrough(graph, file);
  if (circle === null) continue;
  for (const member of circle) reported.add(member);
  console.error(`import circle: ${circle.map((f) => path.relative(repoRoot, f)).join(' → ')}`);
}
if (reported.size > 0) process.exit(1);

/**
 * (6) Data-parallel training on this machine's cores: the same global batches of the mini corpus (xs,
 * batch 16) trained by world 2 × 1 intra-op thread (two processes over Gloo on 127.0.0.1) against world
 * 1 × 2 threads (one process), in alternating rounds; and the share of a world-2 step spent waiting for
 * the gradient allreduce after backward. Both columns are the project: the "reference" column here is the
 * single process, which is what a user would run instead.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { REPO } from '../lib/corpus.js';
import type { Row } from '../lib/report.js';
import { summarize } from '../lib/stats.js';

interface WorkerResult {
  world_size: number;
  wall_s: number;
  step_s: number[];
  allreduce_s: number[];
  utterances: number;
}

const WORKER = join(REPO, 'bench', 'lib', 'data-parallel-worker.ts');
const TSX = join(REPO, 'node_modules', '.bin', 'tsx');

/** Runs one world (all ranks on 127.0.0.1) and returns rank 0's result. */
async function runWorld(
  worldSize: number,
  threads: number,
  port: number,
  common: Record<string, string>,
): Promise<WorkerResult> {
  const ranks = Array.from({ length: worldSize }, (_, rank) => {
    const child = spawn(TSX, [WORKER], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        ...common,
        OMP_NUM_THREADS: String(threads),
        BENCH_THREADS: String(threads),
        RANK: String(rank),
        LOCAL_RANK: String(rank),
        WORLD_SIZE: String(worldSize),
        LOCAL_WORLD_SIZE: String(worldSize),
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    return new Promise<string>((resolve, reject) => {
      child.on('close', (code, signal) => {
        if (code === 0) resolve(stdout);
        else
          reject(new Error(`data-parallel worker rank ${rank} ended with ${signal ?? code}: ${stderr.slice(-2000)}`));
      });
    });
  });
  const outputs = await Promise.all(ranks);
  return JSON.parse(outputs[0].trim().split('\n').pop() ?? '') as WorkerResult;
}

export async function distributedSuite(opts: {
  cores: number;
  rounds: number;
  steps: number;
  cacheDir: string;
  log: (l: string) => void;
}): Promise<Row[]> {
  if (opts.cores < 2) {
    opts.log('distributed: skipped, it needs 2 cores (world 2 × 1 thread against world 1 × 2 threads)');
    return [];
  }
  const common = {
    BENCH_BATCH: '16',
    BENCH_STEPS: String(opts.steps),
    BENCH_WARMUP: '2',
    BENCH_CACHE: opts.cacheDir,
  };
  const throughput: Record<1 | 2, number[]> = { 1: [], 2: [] };
  const allreduceShare: number[] = [];
  for (let round = 0; round < opts.rounds; round++) {
    const single = await runWorld(1, 2, 0, common);
    throughput[1].push(single.utterances / single.wall_s);
    // A fresh port per round: the previous rank 0's listening socket may linger in TIME_WAIT.
    const pair = await runWorld(2, 1, 29600 + round, common);
    throughput[2].push(pair.utterances / pair.wall_s);
    pair.step_s.forEach((s, i) => allreduceShare.push((100 * pair.allreduce_s[i]) / s));
    opts.log(
      `distributed round ${round + 1}: world 1 × 2 threads ${throughput[1].at(-1)?.toFixed(1)} utt/s, ` +
        `world 2 × 1 thread ${throughput[2].at(-1)?.toFixed(1)} utt/s`,
    );
  }
  const project = summarize(throughput[2]);
  const single = summarize(throughput[1]);
  const share = summarize(allreduceShare);
  return [
    {
      suite: 'distributed',
      case: 'xs, batch 16: world 2 × 1 thread (project) vs world 1 × 2 threads (reference column)',
      metric: 'throughput',
      unit: 'utt/s',
      project,
      reference: single,
      better: 'higher',
      target: '≥ 0.90×',
      met: project.median / single.median >= 0.9,
    },
    {
      suite: 'distributed',
      case: 'xs, batch 16, world 2 × 1 thread: allreduce wait after backward',
      metric: 'share of step',
      unit: '%',
      project: share,
      reference: null,
      better: 'lower',
      target: '≤ 10%',
      met: share.median <= 10,
    },
  ];
}

/**
 * How many worker processes train on this machine, and with how many intra-op threads each, when
 * config.yaml leaves it to us (`distributed.nproc_per_node: auto`, `training.threads: auto`).
 *
 * Why two processes on a CPU: on the 2-core AMD EPYC VM two workers of 1 thread each stepped xs 1.33×
 * faster than one process of 2 threads on the same global batches (bench/results/distributed/), and far
 * more under load, where a preempted thread stalls a whole OpenMP team (bench/results/layout/). More than
 * two workers was not measured, so auto stops at two and gives each its share of the cores. A GPU keeps
 * one process: what was measured there is one process per run. The global batch, the schedule and the
 * results guarantee are the data-parallel run's (README "Distributed training").
 */
import { availableParallelism } from 'node:os';
import { readdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import type { AsrConfig, DistributedConfig, TrainingConfig } from '../config/schema.js';

/** What the choice depends on. */
export interface Machine {
  cores: number;
  /** An NVIDIA GPU is present (the driver lists one), so `training.device: auto` may train on CUDA. */
  gpu: boolean;
}

/** The worker count auto picks on a CPU with at least this many cores (the measured layout). */
export const AUTO_CPU_WORKERS = 2;

/** The distributed section with the worker count known. */
export type ResolvedDistributed = DistributedConfig & { nproc_per_node: number };
export type ResolvedConfig<C extends AsrConfig = AsrConfig> = C & { distributed: ResolvedDistributed };

/** This machine, read without loading LibTorch (the API process never does). */
export function thisMachine(): Machine {
  let gpu = false;
  try {
    gpu = readdirSync('/proc/driver/nvidia/gpus').length > 0;
  } catch {
    // no NVIDIA driver
  }
  return { cores: availableParallelism(), gpu };
}

/** The training device is the CPU: set so, or `auto` on a machine without a GPU. */
function trainsOnCpu(config: AsrConfig, machine: Machine): boolean {
  const { device } = config.training;
  return device === 'cpu' || (device === 'auto' && !machine.gpu);
}

/**
 * `distributed.nproc_per_node` on this machine: a number as configured; `auto` is AUTO_CPU_WORKERS on a
 * single machine that trains on a CPU with that many cores, else 1. Several machines (nnodes > 1) must
 * agree on the count, which only a number guarantees, so auto is 1 there.
 */
export function workersPerNode(config: AsrConfig, machine: Machine = thisMachine()): number {
  const { nproc_per_node, nnodes } = config.distributed;
  if (nproc_per_node !== 'auto') return nproc_per_node;
  return nnodes === 1 && trainsOnCpu(config, machine) && machine.cores >= AUTO_CPU_WORKERS ? AUTO_CPU_WORKERS : 1;
}

/** The config with `nproc_per_node` resolved for this machine. */
export function withResolvedLayout<C extends AsrConfig>(
  config: C,
  machine: Machine = thisMachine(),
): ResolvedConfig<C> {
  return { ...config, distributed: { ...config.distributed, nproc_per_node: workersPerNode(config, machine) } };
}

/**
 * `training.threads` for one of `localWorkers` worker processes on this machine: as set, and `auto`
 * divided among the workers (two workers on two cores take one thread each instead of both fighting over
 * both). One process keeps `auto`: every core.
 */
export function threadsOfLocalWorker(
  threads: TrainingConfig['threads'],
  localWorkers: number,
  cores: number = thisMachine().cores,
): TrainingConfig['threads'] {
  if (threads !== 'auto' || localWorkers <= 1) return threads;
  return Math.max(1, Math.floor(cores / localWorkers));
}

/**
 * A TCP port free on `host` now, for the rendezvous of a world that auto laid out on this machine alone:
 * nothing outside needs to know it, and two such runs (two servers, a demo beside a server) must not meet
 * on distributed.master_port. A port set in the config is for worlds that name their layout.
 */
export async function freeRendezvousPort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** This machine's part of a run: its worker processes and each one's intra-op threads. */
export interface LocalLayout {
  workers: number;
  threads_per_worker: number;
}

export function localLayoutOf(config: ResolvedConfig, machine: Machine = thisMachine()): LocalLayout {
  const workers = config.distributed.nproc_per_node;
  const threads = threadsOfLocalWorker(config.training.threads, workers, machine.cores);
  return { workers, threads_per_worker: threads === 'auto' ? machine.cores : threads };
}

/** "2 worker processes × 1 thread", "1 process × 2 threads". */
export function describeLocalLayout({ workers, threads_per_worker }: LocalLayout): string {
  const processes = workers === 1 ? '1 process' : `${workers} worker processes`;
  return `${processes} × ${threads_per_worker} thread${threads_per_worker === 1 ? '' : 's'}`;
}

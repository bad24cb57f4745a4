/**
 * A worker's place in a data-parallel run, as torchrun's environment names it (RANK, LOCAL_RANK,
 * WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT): read by every worker, whoever started it (our
 * supervisor, torchrun --no-python, srun, a Kubernetes Job), and written by the supervisor for the
 * workers it forks. These names are the contract (README "Distributed training"), so any launcher works.
 * torchrun's static rendezvous also says that its agent already serves the c10d store at MASTER_PORT.
 */
import { AsrTrainerError } from '../errors.js';
import type { WorldPlace } from '../native/types.js';
import type { ResolvedDistributed } from './layout.js';

export type WorkerPlace = WorldPlace;

export const WORLD_ENV_NAMES = [
  'RANK',
  'LOCAL_RANK',
  'WORLD_SIZE',
  'LOCAL_WORLD_SIZE',
  'MASTER_ADDR',
  'MASTER_PORT',
] as const;

const HOW_TO =
  'set all six (torchrun, srun and the supervisor do), or none to train in one process (README "Distributed training")';

/** torchrun's own store (WorldPlace.agent_store): its static rendezvous sets these beside the six. */
const AGENT_STORE_ENV = 'TORCHELASTIC_USE_AGENT_STORE';
const RESTART_COUNT_ENV = 'TORCHELASTIC_RESTART_COUNT';

function count(env: NodeJS.ProcessEnv, name: string, minimum: number): number {
  const text = env[name]!.trim();
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < minimum) {
    throw new AsrTrainerError('E_INVALID_ARGUMENT', `${name} must be an integer ≥ ${minimum}, got '${env[name]}'`);
  }
  return value;
}

/**
 * The place the environment describes, or null when it names none (a process on its own). Part of the
 * names, or a value out of range, is E_INVALID_ARGUMENT naming the variable.
 */
export function readWorkerPlace(env: NodeJS.ProcessEnv = process.env): WorkerPlace | null {
  const missing = WORLD_ENV_NAMES.filter((name) => env[name] === undefined || env[name] === '');
  if (missing.length === WORLD_ENV_NAMES.length) return null;
  if (missing.length > 0) {
    throw new AsrTrainerError(
      'E_INVALID_ARGUMENT',
      `The worker environment lacks ${missing.join(', ')} (${WORLD_ENV_NAMES.length - missing.length} of ${WORLD_ENV_NAMES.join(', ')} are set): ${HOW_TO}`,
    );
  }
  const place: WorkerPlace = {
    rank: count(env, 'RANK', 0),
    local_rank: count(env, 'LOCAL_RANK', 0),
    world_size: count(env, 'WORLD_SIZE', 1),
    local_world_size: count(env, 'LOCAL_WORLD_SIZE', 1),
    master_addr: env.MASTER_ADDR!.trim(),
    master_port: count(env, 'MASTER_PORT', 1),
  };
  // torch's own test (str(True)): its c10d rendezvous sets "False", and rank 0 then serves the store.
  if (env[AGENT_STORE_ENV] === 'True') {
    place.agent_store = true;
    place.restart_count = env[RESTART_COUNT_ENV] ? count(env, RESTART_COUNT_ENV, 0) : 0;
  }
  const problems: [boolean, string][] = [
    [place.rank >= place.world_size, `RANK (${place.rank}) must be below WORLD_SIZE (${place.world_size})`],
    [
      place.local_rank >= place.local_world_size,
      `LOCAL_RANK (${place.local_rank}) must be below LOCAL_WORLD_SIZE (${place.local_world_size})`,
    ],
    [
      place.local_world_size > place.world_size,
      `LOCAL_WORLD_SIZE (${place.local_world_size}) must not exceed WORLD_SIZE (${place.world_size})`,
    ],
    [place.master_port > 65535, `MASTER_PORT (${place.master_port}) must be a TCP port (1..65535)`],
  ];
  for (const [bad, message] of problems) if (bad) throw new AsrTrainerError('E_INVALID_ARGUMENT', message);
  return place;
}

/** Processes in the whole run: nproc_per_node × nnodes (1: today's single trainer, no process group). */
export function worldSizeOf(distributed: ResolvedDistributed): number {
  return distributed.nproc_per_node * distributed.nnodes;
}

/** The places of this node's workers, local rank 0 first (ranks count node by node, as torchrun's do). */
export function localPlaces(distributed: ResolvedDistributed): WorkerPlace[] {
  const { nproc_per_node, node_rank, master_addr, master_port } = distributed;
  return Array.from({ length: nproc_per_node }, (_, local) => ({
    rank: node_rank * nproc_per_node + local,
    local_rank: local,
    world_size: worldSizeOf(distributed),
    local_world_size: nproc_per_node,
    master_addr,
    master_port,
  }));
}

/** The environment that puts a forked worker at `place`. */
export function placeEnvironment(place: WorkerPlace): Record<(typeof WORLD_ENV_NAMES)[number], string> {
  return {
    RANK: String(place.rank),
    LOCAL_RANK: String(place.local_rank),
    WORLD_SIZE: String(place.world_size),
    LOCAL_WORLD_SIZE: String(place.local_world_size),
    MASTER_ADDR: place.master_addr,
    MASTER_PORT: String(place.master_port),
  };
}

/** `env` without the world's names: a single trainer must not join a world its parent happened to be in. */
export function withoutPlace(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const name of WORLD_ENV_NAMES) delete out[name];
  return out;
}

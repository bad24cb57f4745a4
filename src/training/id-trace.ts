/**
 * ASR_TRAINER_TRACE_IDS=FILE: every process of a run appends, per global step, the utterance ids it
 * trained, one JSON line `{rank, world_size, epoch, global_step, ids}` each. It is how a test (or a
 * doubtful user) checks that a resume at another world size trains every utterance of an epoch exactly
 * once. A run on its own logs its whole batch; a rank of a world logs its share (StepResult.ids).
 * Written synchronously: a line per step is small, and a process killed mid-run keeps what it did.
 */
import { appendFileSync } from 'node:fs';
import type { World } from '../native/types.js';

export const TRACE_IDS_ENV = 'ASR_TRAINER_TRACE_IDS';

export interface TracedStep {
  rank: number;
  world_size: number;
  epoch: number;
  global_step: number;
  ids: string[];
}

export class IdTrace {
  private constructor(
    readonly path: string,
    private readonly world: World | null,
  ) {}

  /** The trace the environment asks for, or null (the usual case: nothing is written). */
  static fromEnv(world: World | null, env: NodeJS.ProcessEnv = process.env): IdTrace | null {
    const path = env[TRACE_IDS_ENV];
    return path ? new IdTrace(path, world) : null;
  }

  record(epoch: number, globalStep: number, ids: string[]): void {
    const line: TracedStep = {
      rank: this.world?.rank ?? 0,
      world_size: this.world?.size ?? 1,
      epoch,
      global_step: globalStep,
      ids,
    };
    appendFileSync(this.path, `${JSON.stringify(line)}\n`);
  }
}

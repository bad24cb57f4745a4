/**
 * Which checkpoints an average is made of: the ones named, or the newest N epoch checkpoints by epoch,
 * each a valid epoch checkpoint of the pair whose bytes match its sidecar. Only epoch ends: an average
 * carries its last input's position, and a mid-epoch position would make a resume from it start inside
 * an epoch whose other batches the average's weights never saw.
 */
import path from 'node:path';
import { AsrTrainerError } from '../errors.js';
import { lstatOrNull } from './files.js';
import {
  checkpointNameCandidates,
  parseCheckpointName,
  validateDatasetName,
  validateModelName,
  validatePlainFileName,
} from './names.js';
import { scanOne, scanPair, type Scanned } from './scan.js';
import type { Log } from '../log.js';
import { hashProblem } from './verify.js';

export interface AverageInputsRequest {
  model: string;
  dataset: string;
  /** Checkpoint file names (with or without `.pt`); exactly one of `names` and `last_n`. */
  names?: string[];
  /** The newest N epoch checkpoints by epoch (the most recent run's first where two timelines share an epoch). */
  last_n?: number;
}

/** An average of one checkpoint is a copy of it. */
export const MIN_AVERAGE_INPUTS = 2;

/** The inputs in epoch order (an average carries its last input's position), verified; see the file comment. */
export async function selectAverageInputs(dir: string, log: Log, request: AverageInputsRequest): Promise<Scanned[]> {
  const model = validateModelName(request.model);
  const dataset = validateDatasetName(request.dataset);
  const { names, last_n: lastN } = request;
  if ((names === undefined) === (lastN === undefined)) {
    throw new AsrTrainerError(
      'E_INVALID_ARGUMENT',
      'Give exactly one of names (the checkpoints to average) and last_n (the newest N epoch checkpoints)',
    );
  }
  const count = names?.length ?? lastN!;
  if (!Number.isSafeInteger(count) || count < MIN_AVERAGE_INPUTS) {
    throw new AsrTrainerError(
      'E_INVALID_ARGUMENT',
      `An average needs at least ${MIN_AVERAGE_INPUTS} checkpoints, got ${names !== undefined ? `${count} name(s)` : `last_n ${String(lastN)}`}`,
    );
  }
  const inputs =
    names !== undefined ? await named(dir, model, dataset, names) : await newest(dir, log, model, dataset, count);
  return inputs.sort((a, b) => a.parsed.epoch - b.parsed.epoch || a.parsed.version - b.parsed.version);
}

async function named(dir: string, model: string, dataset: string, names: string[]): Promise<Scanned[]> {
  const inputs: Scanned[] = [];
  for (const requested of names) {
    const plain = validatePlainFileName(requested);
    let found: Scanned | null = null;
    for (const candidate of checkpointNameCandidates(plain)) {
      const parsed = parseCheckpointName(candidate);
      const stats = await lstatOrNull(path.join(dir, candidate));
      if (parsed === null || stats === null || !stats.isFile()) continue;
      found = await scanOne(dir, candidate, parsed, stats, { model, dataset });
      if (found !== null) break;
    }
    if (found === null || found.entry.model_name !== model || found.entry.dataset_name !== dataset) {
      throw new AsrTrainerError(
        'E_CHECKPOINT_NOT_FOUND',
        `Specified checkpoint '${plain}' not found among the checkpoints of model '${model}' and dataset '${dataset}'; name files from GET /api/checkpoints`,
        { checkpoint: plain },
      );
    }
    const name = found.entry.name;
    if (inputs.some((s) => s.entry.name === name)) {
      throw new AsrTrainerError('E_INVALID_ARGUMENT', `Checkpoint '${name}' is named twice; name each input once`, {
        checkpoint: name,
      });
    }
    if (found.parsed.kind !== 'epoch') {
      throw new AsrTrainerError(
        'E_INVALID_ARGUMENT',
        `Checkpoint '${name}' is ${found.parsed.kind === 'step' ? 'a mid-epoch save' : 'an average'}; average epoch checkpoints ('…-epoch-N.pt')`,
        { checkpoint: name },
      );
    }
    const problem = found.entry.problem ?? (await hashProblem(dir, found));
    if (problem !== null) {
      throw new AsrTrainerError('E_CHECKPOINT_CORRUPT', `Checkpoint '${name}' cannot be averaged: ${problem}`, {
        checkpoint: name,
        problem,
      });
    }
    inputs.push(found);
  }
  return inputs;
}

async function newest(dir: string, log: Log, model: string, dataset: string, count: number): Promise<Scanned[]> {
  // scanPair's order (the most recent run first) breaks ties between timelines; the sort is stable.
  const epochs = (await scanPair(dir, model, dataset))
    .filter((s) => s.parsed.kind === 'epoch' && s.entry.valid)
    .sort((a, b) => b.parsed.epoch - a.parsed.epoch);
  if (epochs.length === 0) {
    throw new AsrTrainerError('E_NO_CHECKPOINT', `No checkpoint found for model '${model}' and dataset '${dataset}'`, {
      model_name: model,
      dataset_name: dataset,
    });
  }
  const inputs: Scanned[] = [];
  for (const s of epochs) {
    if (inputs.length === count) break;
    const problem = await hashProblem(dir, s);
    if (problem === null) inputs.push(s);
    else log('warning', `Skipping checkpoint '${s.entry.name}' for the average: ${problem}`);
  }
  if (inputs.length < count) {
    throw new AsrTrainerError(
      'E_INVALID_ARGUMENT',
      `last_n ${count} asks for more epoch checkpoints than model '${model}' and dataset '${dataset}' have (${inputs.length} valid); ask for at most ${inputs.length}`,
      { last_n: count, available: inputs.length },
    );
  }
  return inputs;
}

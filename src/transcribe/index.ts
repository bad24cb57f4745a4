/**
 * Transcription with a trained checkpoint: the one code path behind `asr-trainer transcribe` and
 * POST /api/transcribe. A Transcriber holds one loaded model; audio goes through the same features as
 * training (FeatureStore.fromAudio) and CTC decoding (Trainer.transcribe: greedy, or a prefix beam search with
 * `beam`), with the checkpoint's moving average of the weights when it has one (training.ema_decay > 0),
 * else its trained weights. The CLI runs it in its own process; the API through TranscriptionProcess
 * (./process.ts), which runs it in ./child.ts.
 */

import { CheckpointStore, isLinkNameFor, linkName } from '../checkpoints/index.js';
import type { CheckpointEntry } from '../contract/index.js';
import type { AsrConfig } from '../config/schema.js';
import { AsrTrainerError } from '../errors.js';
import { loadNative, type Trainer, type TranscribeOptions, type WeightsKind } from '../native/index.js';

export interface TranscribeTarget {
  /** A checkpoint name from the listing, or `{model}-{dataset}-best.pt` / `-latest.pt`; absent: the best. */
  checkpoint?: string | null;
  /** Which run's best checkpoint to use when `checkpoint` is absent (default: the most recent run's). */
  model_name?: string | null;
  dataset_name?: string | null;
}

export interface AudioInput {
  id: string;
  samples: Float32Array;
  sample_rate: number;
}

export interface Transcription {
  id: string;
  text: string;
}

/**
 * FeatureStore drops utterances with an empty text (it is a training store); inference passes a
 * one-letter stand-in, which only matters for its "too short" rule: a clip must give one output frame.
 */
const PLACEHOLDER_TEXT = 'a';

function notFound(name: string): AsrTrainerError {
  return new AsrTrainerError('E_CHECKPOINT_NOT_FOUND', `Specified checkpoint '${name}' not found`, {
    checkpoint: name,
  });
}

/** The model/dataset pair a checkpoint name belongs to, read from the listing (names alone are ambiguous). */
function pairOf(name: string, entries: CheckpointEntry[]): { model: string; dataset: string } | null {
  for (const e of entries) {
    if (e.name === name || isLinkNameFor(name, e.model_name, e.dataset_name)) {
      return { model: e.model_name, dataset: e.dataset_name };
    }
  }
  return null;
}

/** Resolves the target to a valid checkpoint file (sha256 checked), naming what the user can do instead. */
export async function resolveTranscribeCheckpoint(
  config: AsrConfig,
  target: TranscribeTarget,
): Promise<{ name: string; path: string; sha256: string; model_name: string; dataset_name: string }> {
  const store = new CheckpointStore({ dir: config.paths.checkpoints });
  const entries = await store.list();
  let model: string;
  let dataset: string;
  let specific: string | null = target.checkpoint ?? null;
  if (specific) {
    const pair = pairOf(specific, entries);
    if (!pair) throw notFound(specific);
    ({ model, dataset } = pair);
  } else {
    const newest = entries.find(
      (e) =>
        e.valid &&
        (!target.model_name || e.model_name === target.model_name) &&
        (!target.dataset_name || e.dataset_name === target.dataset_name),
    );
    model = target.model_name ?? newest?.model_name ?? '';
    dataset = target.dataset_name ?? newest?.dataset_name ?? '';
    if (!newest || !model || !dataset) {
      const which = model && dataset ? ` for model '${model}' and dataset '${dataset}'` : '';
      throw new AsrTrainerError('E_NO_CHECKPOINT', `No checkpoint found${which}: train a model first`, {
        model_name: model || null,
        dataset_name: dataset || null,
      });
    }
    // The best by val CER; before the first validation there is no best link, so the newest valid one.
    specific = entries.some((e) => e.model_name === model && e.dataset_name === dataset && e.is_best)
      ? linkName(model, dataset, 'best')
      : null;
  }
  const resolved = await store.resolveForResume({ model, dataset, specific });
  return {
    name: resolved.name,
    path: resolved.path,
    sha256: resolved.sidecar.sha256,
    model_name: model,
    dataset_name: dataset,
  };
}

export class Transcriber {
  private constructor(
    private readonly trainer: Trainer,
    /** The checkpoint file loaded (the link's target when `-best.pt` was asked for). */
    readonly checkpoint: string,
    readonly model_name: string,
    readonly dataset_name: string,
    /** 'ema' when the checkpoint holds a moving average of the weights (it usually decodes better). */
    readonly weights: WeightsKind,
  ) {}

  static async open(config: AsrConfig, target: TranscribeTarget = {}): Promise<Transcriber> {
    const resolved = await resolveTranscribeCheckpoint(config, target);
    const native = loadNative();
    const modelConfig = await native.readCheckpointModelConfig(resolved.path);
    const threads = config.training.threads === 'auto' ? 0 : config.training.threads;
    const trainer = new native.Trainer(modelConfig, { threads, device: config.training.device });
    await trainer.load(resolved.path);
    const weights = trainer.emaWeights ? 'ema' : 'raw';
    return new Transcriber(trainer, resolved.name, resolved.model_name, resolved.dataset_name, weights);
  }

  async transcribe(inputs: AudioInput[], options: TranscribeOptions = {}): Promise<Transcription[]> {
    if (inputs.length === 0) return [];
    const native = loadNative();
    const store = await native.FeatureStore.fromAudio(
      inputs.map((input) => ({
        id: input.id,
        samples: input.samples,
        sample_rate: input.sample_rate,
        text: PLACEHOLDER_TEXT,
      })),
    );
    if (store.skipped.length > 0) {
      const reasons = store.skipped.map((s) => `${s.id}: ${s.reason}`).join('; ');
      throw new AsrTrainerError('E_AUDIO_READ', `Cannot transcribe audio: ${reasons}`, { skipped: store.skipped });
    }
    const texts = await this.trainer.transcribe(
      store,
      Array.from({ length: store.size }, (_, i) => i),
      { weights: this.weights, ...options },
    );
    const byId = new Map(store.ids().map((id, i) => [id, texts[i] ?? '']));
    return inputs.map((input) => ({ id: input.id, text: byId.get(input.id) ?? '' }));
  }

  /** WAV (or any libsndfile format) files, read and resampled to 16 kHz by the addon. */
  async transcribeFiles(paths: string[], options: TranscribeOptions = {}): Promise<Transcription[]> {
    const native = loadNative();
    const inputs: AudioInput[] = [];
    for (const [i, path] of paths.entries()) {
      const audio = await native.readAudio(path);
      inputs.push({ id: `${i}`, samples: audio.samples, sample_rate: audio.sample_rate });
    }
    const results = await this.transcribe(inputs, options);
    return results.map((r, i) => ({ id: paths[i], text: r.text }));
  }
}

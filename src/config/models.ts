/**
 * The dimensions a `models.<name>` entry resolves to: its preset overlaid with its own keys. The presets and
 * the check of a model's dimensions are the core's (native/core/src/model.cpp), read through the addon.
 */
import { AsrTrainerError } from '../errors.js';
import { loadNative, type ModelConfig } from '../native/index.js';
import { DEFAULT_MODEL_PRESET, ModelSchema, type AsrConfig, type ModelEntryConfig } from './schema.js';

/** The encoder's shape: the ModelConfig fields a config entry sets (n_mels and vocab_size follow the data). */
export type ModelDimensions = Required<Omit<ModelEntryConfig, 'preset'>>;

const DIMENSION_KEYS = Object.keys(ModelSchema.properties).filter(
  (key): key is keyof ModelDimensions => key !== 'preset',
);

let presets: Readonly<Record<string, Readonly<ModelConfig>>> | undefined;

/** The core's presets by name (read from the addon once). */
export function modelPresets(): Readonly<Record<string, Readonly<ModelConfig>>> {
  presets ??= loadNative().modelPresets();
  return presets;
}

/** The whole ModelConfig the core builds for the entry: its preset (or the default one) under its own keys. */
function modelConfigOf(entry: ModelEntryConfig): ModelConfig {
  const preset = entry.preset ?? DEFAULT_MODEL_PRESET;
  const base = Object.hasOwn(modelPresets(), preset) ? modelPresets()[preset] : undefined;
  if (!base) throw new AsrTrainerError('E_CONFIG_INVALID', `preset ${unknownPresetMessage(preset)}`, { preset });
  const config = { ...base };
  for (const key of DIMENSION_KEYS) config[key] = entry[key] ?? base[key];
  return config;
}

/** The entry's dimensions: its preset's, with its own keys over them. */
export function modelDimensionsOf(entry: ModelEntryConfig): ModelDimensions {
  const config = modelConfigOf(entry);
  const dimensions = {} as ModelDimensions;
  for (const key of DIMENSION_KEYS) dimensions[key] = config[key];
  return dimensions;
}

/**
 * What keeps a (type-checked) entry from building a model, as `key: message` pairs: a preset the core does not
 * define, else every problem the core finds in the resolved config.
 */
export function modelEntryProblems(entry: ModelEntryConfig): Array<{ key: string; message: string }> {
  if (entry.preset !== undefined && !Object.hasOwn(modelPresets(), entry.preset)) {
    return [{ key: 'preset', message: unknownPresetMessage(entry.preset) }];
  }
  return loadNative()
    .modelConfigProblems(modelConfigOf(entry))
    .map((problem) => ({ key: problem.field, message: problem.message }));
}

function unknownPresetMessage(preset: string): string {
  return `must be one of ${Object.keys(modelPresets()).join(', ')} (got ${JSON.stringify(preset)})`;
}

/** The resolved dimensions of a configured model; unknown names fail with the known ones listed. */
export function resolveModelDimensions(config: Pick<AsrConfig, 'models'>, modelName: string): ModelDimensions {
  const entry = Object.hasOwn(config.models, modelName) ? config.models[modelName] : undefined;
  if (!entry) {
    const known = Object.keys(config.models);
    throw new AsrTrainerError(
      'E_UNKNOWN_MODEL',
      `Unknown model '${modelName}'. Configured models: ${known.join(', ') || '(none)'}`,
      { model_name: modelName, known },
    );
  }
  return modelDimensionsOf(entry);
}

/** Model presets and the dimensions a `models.<name>` entry resolves to. */
import { AsrTrainerError } from '../errors.js';
import type { AsrConfig, ModelEntryConfig, ModelPresetName } from './schema.js';

/** The encoder's shape; field names are the config's (and the C++ ModelConfig's). */
export interface ModelDimensions {
  d_model: number;
  num_layers: number;
  num_heads: number;
  ffn_dim: number;
  conv_kernel: number;
  dropout: number;
}

/** xs is the 2.5M-parameter model of the benchmark; s/m/l follow the Conformer paper's S/M/L. */
export const MODEL_PRESET_DIMENSIONS: Readonly<Record<ModelPresetName, Readonly<ModelDimensions>>> = {
  xs: { d_model: 144, num_layers: 4, num_heads: 4, ffn_dim: 576, conv_kernel: 31, dropout: 0.1 },
  s: { d_model: 144, num_layers: 16, num_heads: 4, ffn_dim: 576, conv_kernel: 31, dropout: 0.1 },
  m: { d_model: 256, num_layers: 16, num_heads: 4, ffn_dim: 1024, conv_kernel: 31, dropout: 0.1 },
  l: { d_model: 512, num_layers: 17, num_heads: 8, ffn_dim: 2048, conv_kernel: 31, dropout: 0.1 },
};

/** Preset (default xs) overlaid with the entry's own keys. */
export function modelDimensionsOf(entry: ModelEntryConfig): ModelDimensions {
  const base = MODEL_PRESET_DIMENSIONS[entry.preset ?? 'xs'];
  return {
    d_model: entry.d_model ?? base.d_model,
    num_layers: entry.num_layers ?? base.num_layers,
    num_heads: entry.num_heads ?? base.num_heads,
    ffn_dim: entry.ffn_dim ?? base.ffn_dim,
    conv_kernel: entry.conv_kernel ?? base.conv_kernel,
    dropout: entry.dropout ?? base.dropout,
  };
}

/** Problems a combination of valid single values still has, as `key: message` pairs. */
export function modelDimensionProblems(dims: ModelDimensions): Array<{ key: keyof ModelDimensions; message: string }> {
  const problems: Array<{ key: keyof ModelDimensions; message: string }> = [];
  if (dims.d_model % dims.num_heads !== 0) {
    problems.push({
      key: 'd_model',
      message: `must be divisible by num_heads (${dims.num_heads}) (got ${dims.d_model})`,
    });
  }
  // A 'same'-padded depthwise convolution keeps the length only with an odd kernel.
  if (dims.conv_kernel % 2 === 0) {
    problems.push({ key: 'conv_kernel', message: `must be an odd integer >= 1 (got ${dims.conv_kernel})` });
  }
  return problems;
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

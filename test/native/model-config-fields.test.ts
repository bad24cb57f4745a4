import { describe, expect, it } from 'vitest';

import type { ModelConfig } from '../../src/native/index.js';
import { native } from './helpers.js';

// Exactly the keys of the TS interface, no more, no fewer (the compiler checks both ways).
const TS_FIELDS = {
  n_mels: true,
  d_model: true,
  num_layers: true,
  num_heads: true,
  ffn_dim: true,
  conv_kernel: true,
  vocab_size: true,
  dropout: true,
} satisfies Record<keyof ModelConfig, true>;

describe('ModelConfig fields (real addon)', () => {
  it("the TS interface names the C++ field table's fields, in its order", () => {
    // The addon builds every ModelConfig object from ASR_MODEL_CONFIG_FIELDS (model.h).
    expect(Object.keys(native.modelPreset('xs'))).toEqual(Object.keys(TS_FIELDS));
  });

  it('a field outside the table is rejected by name', () => {
    expect(() => new native.Trainer({ ...native.modelPreset('xs'), heads: 4 } as never)).toThrow(
      /unknown field 'heads' in model config \(known: n_mels, d_model, num_layers, num_heads, ffn_dim, conv_kernel, vocab_size, dropout\)/,
    );
  });
});

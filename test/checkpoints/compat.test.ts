import { describe, expect, it } from 'vitest';
import { AsrTrainerError } from '../../src/errors.js';
import { checkResumeCompatibility } from '../../src/checkpoints/index.js';

const saved = { model_config: { d_model: 144, num_layers: 4, num_heads: 4, dropout: 0.1 }, batch_size: 16 };

describe('resume compatibility', () => {
  it('allows the same model config without warnings', () => {
    expect(checkResumeCompatibility('c.pt', saved, { ...saved })).toEqual({ warnings: [] });
  });

  it('refuses a different model config, naming every differing key', () => {
    let caught: unknown;
    try {
      checkResumeCompatibility('c.pt', saved, {
        model_config: { ...saved.model_config, d_model: 256, num_layers: 6 },
        batch_size: 16,
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AsrTrainerError);
    const error = caught as AsrTrainerError;
    expect(error.code).toBe('E_CHECKPOINT_INCOMPATIBLE');
    expect(error.message).toContain('d_model (checkpoint 144, requested 256)');
    expect(error.message).toContain('num_layers (checkpoint 4, requested 6)');
    expect(error.details?.differing_keys).toEqual(['d_model', 'num_layers']);
  });

  it('names a key only one side has', () => {
    expect(() =>
      checkResumeCompatibility('c.pt', saved, { model_config: { ...saved.model_config, conv_kernel: 31 } }),
    ).toThrow(/conv_kernel \(checkpoint \(not set\), requested 31\)/);
  });

  it('allows a different batch size with a warning that the resume is not exact', () => {
    const { warnings } = checkResumeCompatibility('c.pt', saved, { ...saved, batch_size: 8 });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/batch_size 8 instead of 16.*no longer exact/);
  });
});

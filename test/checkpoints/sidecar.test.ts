import { describe, expect, it } from 'vitest';
import {
  SIDECAR_FORMAT_VERSION,
  parseSidecar,
  serializeSidecar,
  type CheckpointSidecar,
} from '../../src/checkpoints/index.js';
import { sidecarMismatch } from '../../src/checkpoints/sidecar.js';

function sample(): CheckpointSidecar {
  return {
    format_version: SIDECAR_FORMAT_VERSION,
    name: 'conformer-ljspeech-epoch-2.pt',
    model_name: 'conformer',
    dataset_name: 'ljspeech',
    kind: 'epoch',
    epoch: 2,
    step: 100,
    global_step: 200,
    sha256: 'a'.repeat(64),
    size: 1234,
    metrics: { val_loss: 1.5, val_cer: 0.25, val_wer: null },
    config_hash: 'abc',
    created_at: '2026-11-26T12:00:00.000Z',
    run_id: 'run-1',
    model_config: { d_model: 144 },
    batch_size: 16,
  };
}

describe('sidecar', () => {
  it('reads back what it writes', () => {
    const check = parseSidecar(serializeSidecar(sample()));
    expect(check).toEqual({ ok: true, sidecar: sample() });
  });

  it('reports a truncated sidecar as invalid JSON', () => {
    const text = serializeSidecar(sample());
    const check = parseSidecar(text.slice(0, text.length / 2));
    expect(check.ok).toBe(false);
    expect(!check.ok && check.problem).toMatch(/not valid JSON/);
  });

  it.each([
    ['sha256', 'xyz', /sha256/],
    ['size', -1, /'size'/],
    ['epoch', 1.5, /'epoch'/],
    ['kind', 'half', /'kind'/],
    ['metrics', { val_cer: 'low' }, /'metrics'/],
    ['created_at', 'yesterday', /created_at/],
    ['run_id', undefined, /'run_id'/],
  ])('names the bad field %s', (key, value, problem) => {
    const bad = { ...sample(), [key]: value };
    const check = parseSidecar(JSON.stringify(bad));
    expect(check.ok).toBe(false);
    expect(!check.ok && check.problem).toMatch(problem);
  });

  it('refuses a sidecar from a newer format with the fix', () => {
    const check = parseSidecar(JSON.stringify({ ...sample(), format_version: SIDECAR_FORMAT_VERSION + 1 }));
    expect(!check.ok && check.problem).toMatch(/newer.*upgrade/);
  });

  it('tells a sidecar that does not describe the file', () => {
    const s = sample();
    expect(sidecarMismatch(s, { name: s.name, size: 1234, epoch: 2, kind: 'epoch' })).toBeNull();
    expect(sidecarMismatch(s, { name: s.name, size: 99, epoch: 2, kind: 'epoch' })).toMatch(/99 bytes.*1234/);
    expect(sidecarMismatch(s, { name: 'other.pt', size: 1234, epoch: 2, kind: 'epoch' })).toMatch(/names/);
  });
});

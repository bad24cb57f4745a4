/**
 * FLOPs of one Conformer-CTC training step, counted from the shapes (multiply-add = 2 FLOPs): every
 * matmul and convolution of the forward pass, and twice that for the backward pass (gradients of the
 * inputs and of the weights), except the first convolution whose input needs no gradient. Element-wise
 * work (norms, activations, softmax, dropout, the optimizer) is left out, as MFU figures usually do, so
 * the utilisation is that of the matmul-shaped work against the measured matmul peak.
 */
import type { ModelConfig } from '../../src/native/index.js';

export function subsampledLength(frames: number): number {
  return Math.max(0, Math.floor((Math.floor((frames - 1) / 2) - 1) / 2));
}

export function trainStepFlops(m: ModelConfig, batch: number, frames: number): number {
  const d = m.d_model;
  const t1 = Math.floor((frames - 1) / 2);
  const f1 = Math.floor((m.n_mels - 1) / 2);
  const t = subsampledLength(frames);
  const f2 = Math.floor((f1 - 1) / 2);
  const n = batch * t;
  const conv1 = 2 * batch * d * t1 * f1 * 9;
  const conv2 = 2 * batch * d * t * f2 * d * 9;
  const front = 2 * n * d * f2 * d;
  const ffn = 2 * (2 * 2 * n * d * m.ffn_dim);
  const attention = 2 * n * d * 3 * d + 2 * 2 * batch * t * t * d + 2 * n * d * d;
  const convModule = 2 * n * d * 2 * d + 2 * n * d * m.conv_kernel + 2 * n * d * d;
  const head = 2 * n * d * m.vocab_size;
  const forward = conv1 + conv2 + front + m.num_layers * (ffn + attention + convModule) + head;
  return 3 * forward - conv1;
}

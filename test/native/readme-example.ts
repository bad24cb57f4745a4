// The README's plain-script example (run: npx tsx example.ts); test/native/readme-example.test.ts runs it.
import { loadNative } from '../../src/native.js';

const { FeatureStore, Trainer, modelPreset } = loadNative();
const tone = (hz: number) => Float32Array.from({ length: 16000 }, (_, i) => 0.3 * Math.sin((2 * Math.PI * hz * i) / 16000));
const store = await FeatureStore.fromAudio([
  { id: 'a', samples: tone(220), sample_rate: 16000, text: 'hello world' },
  { id: 'b', samples: tone(440), sample_rate: 16000, text: 'good morning' },
]);
const trainer = new Trainer({ ...modelPreset('xs'), num_layers: 2 }, { warmup_steps: 0, learning_rate: 1e-3 });
await trainer.train(store, [[0, 1], [0, 1], [0, 1]], {
  onStep: (s) => console.log(`step ${s.global_step}: loss ${s.loss.toFixed(3)}`),
});
await trainer.save(process.argv[2] ?? 'tiny.pt', { epoch: 1, global_step: trainer.globalStep });
console.log(`saved ${process.argv[2] ?? 'tiny.pt'}`);

/**
 * (6) Feature speed at one thread: Kaldi fbank of 16 kHz audio, and resampling 22.05 kHz (the mini
 * corpus's rate) to 16 kHz followed by fbank, as × real time per core. Project: addon.fbank (libsoxr HQ
 * for the resampling); reference: torchaudio.functional.resample + torchaudio.compliance.kaldi.fbank.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { NativeAddon, UtteranceSpec } from '../../src/native/index.js';
import type { ReferenceWorker } from '../lib/reference.js';
import type { Row } from '../lib/report.js';
import { summarize } from '../lib/stats.js';

/** Mono 16-bit PCM samples of a RIFF/WAVE file, as floats in [-1, 1]. */
function readPcm16(path: string): { samples: Float32Array; rate: number } {
  const buf = readFileSync(path);
  let at = 12;
  let rate = 0;
  while (at + 8 <= buf.length) {
    const id = buf.toString('ascii', at, at + 4);
    const size = buf.readUInt32LE(at + 4);
    if (id === 'fmt ') rate = buf.readUInt32LE(at + 12);
    if (id === 'data') {
      const n = Math.min(size, buf.length - at - 8) >> 1;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = buf.readInt16LE(at + 8 + 2 * i) / 32768;
      return { samples: out, rate };
    }
    at += 8 + size + (size & 1);
  }
  throw new Error(`${path}: no data chunk`);
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

export async function featuresSuite(
  addon: NativeAddon,
  ref: ReferenceWorker,
  dir: string,
  specs: UtteranceSpec[],
  seconds: number,
  reps: number,
  threads: number,
): Promise<Row[]> {
  const native: Float32Array[] = [];
  let rate = 0;
  let total = 0;
  for (const spec of specs) {
    if (total >= seconds) break;
    const wav = readPcm16(spec.wav_path);
    rate = wav.rate;
    native.push(wav.samples);
    total += wav.samples.length / wav.rate;
  }
  const audio22 = concat(native);
  const audio16 = (await Promise.all(specs.slice(0, native.length).map((s) => addon.readAudio(s.wav_path)))).map(
    (a) => a.samples,
  );
  const flat16 = concat(audio16);
  const file16 = join(dir, 'features-16k.f32');
  const file22 = join(dir, 'features-22k.f32');
  writeFileSync(file16, Buffer.from(flat16.buffer));
  writeFileSync(file22, Buffer.from(audio22.buffer));
  const audioSeconds = flat16.length / 16000;

  const cases = [
    { name: `fbank, ${audioSeconds.toFixed(0)} s at 16 kHz`, samples: flat16, rate: 16000, file: file16 },
    { name: `resample ${rate} Hz → 16 kHz + fbank`, samples: audio22, rate, file: file22 },
  ];
  const rows: Row[] = [];
  addon.setThreads(1);
  try {
    for (const c of cases) {
      await addon.fbank(c.samples, c.rate);
      const p: number[] = [];
      const q: number[] = [];
      for (let r = 0; r < reps; r++) {
        const t = performance.now();
        await addon.fbank(c.samples, c.rate);
        p.push(audioSeconds / ((performance.now() - t) / 1000));
        const a = await ref.call({ cmd: 'fbank', audio: c.file, rate: c.rate, reps: 1 });
        q.push(audioSeconds / (a.seconds as number[])[0]);
      }
      rows.push({
        suite: 'features',
        case: c.name,
        metric: '× real time, one core',
        unit: 'x',
        project: summarize(p),
        reference: summarize(q),
        better: 'higher',
      });
    }
  } finally {
    addon.setThreads(threads);
  }
  return rows;
}

/**
 * Tiny corpora in every format the trainer reads, made from espeak-ng clips with Debian's encoders
 * (`flac`, `lame`, `oggenc`, `opusenc`; scripts/setup.sh installs them): a LibriSpeech folder (flac), a
 * Common Voice release (mp3 + tsv), NeMo manifests whose lines are stretches of one long wav, a Kaldi data
 * directory with segments, and single ogg/opus clips. Clip i speaks SENTENCES[i % n].
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readWavInfo } from '../../src/data/wav-header.js';

export const SENTENCES = ['go left', 'turn on', 'red one', 'blue two', 'stop now', 'open it'];
export const CODEC_TOOLS = ['espeak-ng', 'flac', 'lame', 'oggenc', 'opusenc'] as const;

/** Null when every encoder is on PATH; otherwise which are missing and how to get them. */
export function missingCodecTools(): string | null {
  const missing = CODEC_TOOLS.filter((tool) => {
    try {
      execFileSync('which', [tool], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  return missing.length === 0
    ? null
    : `${missing.join(', ')} not installed (apt-get install espeak-ng flac lame vorbis-tools opus-tools)`;
}

export interface Clip {
  text: string;
  /** espeak-ng's 22050 Hz 16-bit mono wav. */
  wav: string;
}

/** `count` clips spoken into `dir` (clip-<i>.wav). */
export function speak(dir: string, count: number): Clip[] {
  mkdirSync(dir, { recursive: true });
  return Array.from({ length: count }, (_, i) => {
    const text = SENTENCES[i % SENTENCES.length];
    const wav = path.join(dir, `clip-${i}.wav`);
    execFileSync('espeak-ng', ['-s', String(150 + 10 * i), '-w', wav, text]);
    return { text, wav };
  });
}

export type Codec = 'flac' | 'mp3' | 'ogg' | 'opus';

/** `wav` encoded to `out` (whose extension should match `codec`) by the codec's Debian tool. */
export function encode(wav: string, out: string, codec: Codec): string {
  mkdirSync(path.dirname(out), { recursive: true });
  const commands: Record<Codec, [string, string[]]> = {
    flac: ['flac', ['--silent', '--force', '-o', out, wav]],
    mp3: ['lame', ['--quiet', wav, out]],
    ogg: ['oggenc', ['--quiet', '-o', out, wav]],
    opus: ['opusenc', ['--quiet', wav, out]],
  };
  const [tool, args] = commands[codec];
  execFileSync(tool, args);
  return out;
}

/** LibriSpeech layout: `<root>/<split>/<spk>/<chapter>/<spk>-<chapter>-<n>.flac` + `.trans.txt`. */
export function makeLibriSpeech(root: string, splits: Record<string, Clip[]>): void {
  Object.entries(splits).forEach(([split, clips], s) => {
    const speaker = String(100 + s);
    const chapter = '2000';
    const folder = path.join(root, split, speaker, chapter);
    const rows = clips.map((clip, i) => {
      const id = `${speaker}-${chapter}-${String(i).padStart(4, '0')}`;
      encode(clip.wav, path.join(folder, `${id}.flac`), 'flac');
      return `${id} ${clip.text.toUpperCase()}`;
    });
    writeFileSync(path.join(folder, `${speaker}-${chapter}.trans.txt`), `${rows.join('\n')}\n`);
  });
}

/** Common Voice layout: `<root>/clips/*.mp3` and `<root>/<split>.tsv` (the release's columns). */
export function makeCommonVoice(root: string, splits: Record<string, Clip[]>): void {
  const header = 'client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\tsegment';
  for (const [split, clips] of Object.entries(splits)) {
    const rows = clips.map((clip, i) => {
      const name = `common_voice_en_${split}_${i}.mp3`;
      encode(clip.wav, path.join(root, 'clips', name), 'mp3');
      return `speaker${i}\t${name}\t${clip.text[0].toUpperCase()}${clip.text.slice(1)}.\t2\t0\t\t\t\ten\t`;
    });
    writeFileSync(path.join(root, `${split}.tsv`), `${[header, ...rows].join('\n')}\n`);
  }
}

/** Where each clip sits in a recording made by `concatenate`, in seconds. */
export interface Placement {
  clip: Clip;
  offset: number;
  duration: number;
}

/**
 * One wav of the clips one after another, 0.25 s of silence between (same format as the clips), and
 * where each landed. What NeMo offsets and Kaldi segments cut back out.
 */
export function concatenate(clips: Clip[], out: string): Placement[] {
  const info = readWavInfo(clips[0].wav);
  const bytesPerFrame = (info.bitsPerSample / 8) * info.channels;
  const gap = Buffer.alloc(Math.round(info.sampleRate / 4) * bytesPerFrame);
  const parts: Buffer[] = [];
  const placements: Placement[] = [];
  let frames = 0;
  for (const clip of clips) {
    const clipInfo = readWavInfo(clip.wav);
    const bytes = readFileSync(clip.wav);
    const data = bytes.subarray(bytes.length - clipInfo.dataBytes);
    placements.push({ clip, offset: frames / info.sampleRate, duration: clipInfo.frames / info.sampleRate });
    parts.push(data, gap);
    frames += clipInfo.frames + gap.length / bytesPerFrame;
  }
  const data = Buffer.concat(parts);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(info.channels, 22);
  header.writeUInt32LE(info.sampleRate, 24);
  header.writeUInt32LE(info.sampleRate * bytesPerFrame, 28);
  header.writeUInt16LE(bytesPerFrame, 32);
  header.writeUInt16LE(info.bitsPerSample, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, Buffer.concat([header, data]));
  return placements;
}

/** A NeMo manifest of the placements in `recording` (audio paths relative to the manifest's folder). */
export function writeNemoManifest(manifest: string, recording: string, placements: Placement[]): void {
  const audio = path.relative(path.dirname(manifest), recording);
  const lines = placements.map(({ clip, offset, duration }) =>
    JSON.stringify({ audio_filepath: audio, offset, duration, text: clip.text }),
  );
  writeFileSync(manifest, `${lines.join('\n')}\n`);
}

/**
 * A Kaldi data directory: one recording (`rec1`, its wav relative to `dir`) cut by `segments`; the
 * utterance of placement i is `spk1-utt<first + i>`.
 */
export function makeKaldiDir(dir: string, recording: string, placements: Placement[], first = 0): void {
  mkdirSync(dir, { recursive: true });
  const ids = placements.map((_, i) => `spk1-utt${first + i}`);
  const table = (rows: string[]) => `${rows.join('\n')}\n`;
  writeFileSync(path.join(dir, 'wav.scp'), table([`rec1 ${path.relative(dir, recording)}`]));
  writeFileSync(path.join(dir, 'text'), table(placements.map((p, i) => `${ids[i]} ${p.clip.text}`)));
  writeFileSync(path.join(dir, 'utt2spk'), table(ids.map((id) => `${id} spk1`)));
  writeFileSync(
    path.join(dir, 'segments'),
    table(placements.map((p, i) => `${ids[i]} rec1 ${p.offset.toFixed(6)} ${(p.offset + p.duration).toFixed(6)}`)),
  );
}

export interface Corpora {
  clips: Clip[];
  /** The clips' places in long/session.wav. */
  placements: Placement[];
}

/**
 * Six clips laid out under `root` in every format, each split the same way (clips 0-3 train, 4
 * validation, 5 test): LibriSpeech/ (train-clean-100, dev-clean, test-clean, and test-other of clips 0-1),
 * cv/ (train/dev/test.tsv), manifests/{train,dev,test}.json cutting long/session.wav, kaldi/{train,dev,eval}
 * with segments of the same recording, and codecs/clip.{ogg,opus} of clip 0.
 */
export function makeCorpora(root: string): Corpora {
  const clips = speak(path.join(root, 'spoken'), 6);
  const roles = { train: [0, 4], dev: [4, 5], test: [5, 6] } as const;
  const part = <T>(items: T[], role: keyof typeof roles) => items.slice(...roles[role]);
  makeLibriSpeech(path.join(root, 'LibriSpeech'), {
    'train-clean-100': part(clips, 'train'),
    'dev-clean': part(clips, 'dev'),
    'test-clean': part(clips, 'test'),
    'test-other': clips.slice(0, 2),
  });
  makeCommonVoice(path.join(root, 'cv'), {
    train: part(clips, 'train'),
    dev: part(clips, 'dev'),
    test: part(clips, 'test'),
  });
  const session = path.join(root, 'long', 'session.wav');
  const placements = concatenate(clips, session);
  mkdirSync(path.join(root, 'manifests'), { recursive: true });
  const kaldiNames = { train: 'train', dev: 'dev', test: 'eval' } as const;
  for (const role of ['train', 'dev', 'test'] as const) {
    writeNemoManifest(path.join(root, 'manifests', `${role}.json`), session, part(placements, role));
    makeKaldiDir(path.join(root, 'kaldi', kaldiNames[role]), session, part(placements, role), roles[role][0]);
  }
  encode(clips[0].wav, path.join(root, 'codecs', 'clip.ogg'), 'ogg');
  encode(clips[0].wav, path.join(root, 'codecs', 'clip.opus'), 'opus');
  return { clips, placements };
}

/**
 * The corpus formats, one reader each (ljspeech.ts, librispeech.ts, commonvoice.ts, nemo.ts, kaldi.ts),
 * detection and default roles (layout.ts). Every reader turns one source into CorpusUtterances.
 */
import type { CorpusFormat } from '../../contract/datasets.js';
import { readCommonVoiceTsv } from './commonvoice.js';
import type { SourceContents } from './corpus-utterance.js';
import { readKaldiDir } from './kaldi.js';
import { readLibriSpeechSplit } from './librispeech.js';
import { readLjspeechFolder } from './ljspeech.js';
import { readNemoManifest } from './nemo.js';

export type { CorpusUtterance, SourceContents } from './corpus-utterance.js';
export { defaultSources, detectFormat, resolveSource, splitName } from './layout.js';

const READERS: Record<CorpusFormat, (source: string) => SourceContents> = {
  ljspeech: readLjspeechFolder,
  librispeech: readLibriSpeechSplit,
  commonvoice: readCommonVoiceTsv,
  nemo: readNemoManifest,
  kaldi: readKaldiDir,
};

export function readSource(format: CorpusFormat, source: string): SourceContents {
  return READERS[format](source);
}

/**
 * Corpus formats and split roles (config.yaml's datasets, the readers in src/data/formats): one list of
 * each, so the config's validation, the readers and the routes agree.
 */

export const CORPUS_FORMATS = ['ljspeech', 'librispeech', 'commonvoice', 'nemo', 'kaldi'] as const;
export type CorpusFormat = (typeof CORPUS_FORMATS)[number];

/** The roles a dataset's splits play; `--split` names a role or one entry of a role's list. */
export const SPLIT_ROLES = ['train', 'validation', 'test'] as const;
export type SplitRole = (typeof SPLIT_ROLES)[number];

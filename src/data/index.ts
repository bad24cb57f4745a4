/**
 * Datasets: the corpus formats' readers (formats/), their named splits (named-splits.ts), metadata.csv
 * parsing and text normalisation (metadata.ts, text.ts), the train/validation split (split.ts), skip rules
 * and their share check (skips.ts), a dataset from the config with its roles and combinations (dataset.ts), and the generated corpora spoken by espeak-ng: the bundled mini corpus
 * (mini-corpus.ts, sentence-grammar.ts) and its held-out set (held-out-corpus.ts, held-out-sentences.ts),
 * with their speakers (corpus-voices.ts), synthesis (espeak.ts) and folder (corpus-folder.ts, wav-header.ts).
 * Features are the addon's (FeatureStore).
 */
export * from './text.js';
export * from './metadata.js';
export * from './split.js';
export * from './dataset.js';
export * from './skips.js';
export * from './sentence-grammar.js';
export * from './wav-header.js';
export * from './corpus-voices.js';
export * from './espeak.js';
export * from './mini-corpus.js';
export * from './held-out-sentences.js';
export * from './held-out-corpus.js';

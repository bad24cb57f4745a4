/**
 * Datasets in LJSpeech layout: metadata.csv parsing and text normalisation (metadata.ts, text.ts), the
 * train/validation split (split.ts), skip rules and their share check (skips.ts), locating a dataset from
 * the config (dataset.ts), and the bundled mini corpus spoken by espeak-ng from a sentence grammar
 * (mini-corpus.ts, sentence-grammar.ts, wav-header.ts). Features are the addon's (FeatureStore).
 */
export * from './text.js';
export * from './metadata.js';
export * from './split.js';
export * from './dataset.js';
export * from './skips.js';
export * from './sentence-grammar.js';
export * from './wav-header.js';
export * from './mini-corpus.js';

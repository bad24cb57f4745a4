export * from './text.js';
export * from './metadata.js';
export * from './split.js';
export * from './dataset.js';
export * from './skips.js';
export * from './sentence-grammar.js';
export * from './wav-header.js';
export * from './mini-corpus.js';

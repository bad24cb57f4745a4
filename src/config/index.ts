/**
 * config.yaml (config.yaml, commented; docs/architecture.md §4): the schema with its defaults (schema.ts),
 * loading with paths resolved against the file's folder and errors naming the key path (load.ts), a model
 * entry's dimensions from the core's presets and checks (models.ts), and the run's config snapshot and hash
 * that checkpoints record (snapshot.ts, hash.ts). The addon is asked only for model presets and checks; the
 * disk only for the file.
 */
export * from './schema.js';
export * from './models.js';
export * from './hash.js';
export * from './load.js';
export * from './snapshot.js';

/**
 * Finding, reading and validating config.yaml. Every problem becomes one AsrTrainerError
 * ('E_CONFIG_INVALID') that names the file and each bad key by its dotted path.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { parseDocument } from 'yaml';
import { nameProblem } from '../contract/names.js';
import { AsrTrainerError } from '../errors.js';
import { packageRoot } from '../package-root.js';
import { datasetEntryProblems, resolveDatasetPaths } from './dataset-entries.js';
import { modelEntryProblems } from './models.js';
import {
  AsrConfigSchema,
  DatasetSchema,
  DEFAULT_DATASETS,
  DEFAULT_MODELS,
  ModelSchema,
  PathsSchema,
  ServerSchema,
  TrainingSchema,
  DistributedSchema,
  type AnySchema,
  type AsrConfig,
} from './schema.js';

export const CONFIG_FILE_NAME = 'config.yaml';

/** A loaded config and where it came from. */
export type LoadedConfig = AsrConfig & {
  /** Absolute path of the file read; relative paths in it were resolved against its folder. */
  configPath: string;
};

export interface ConfigLocationOptions {
  /** `--config PATH`; wins over ASR_CONFIG. */
  path?: string;
  /** Environment to read ASR_CONFIG and ASR_API_TOKEN from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Folder that relative `path`/ASR_CONFIG and the default `config.yaml` are looked up in (default cwd). */
  cwd?: string;
}

/**
 * The config file to use: `path` (from --config), else ASR_CONFIG, else ./config.yaml, else the
 * config.yaml at the package root (so the installed CLI works from any folder).
 */
export function resolveConfigPath(options: ConfigLocationOptions = {}): string {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const chosen = options.path
    ? { file: options.path, from: '--config' }
    : env.ASR_CONFIG
      ? { file: env.ASR_CONFIG, from: 'ASR_CONFIG' }
      : undefined;
  if (chosen) {
    const file = path.resolve(cwd, chosen.file);
    if (!existsSync(file)) {
      const message = `Config file not found: ${file} (given by ${chosen.from}). Check the path.`;
      throw new AsrTrainerError('E_CONFIG_INVALID', message, { file });
    }
    return file;
  }
  const tried = [path.resolve(cwd, CONFIG_FILE_NAME)];
  const root = packageRoot();
  if (root !== null) tried.push(path.join(root, CONFIG_FILE_NAME));
  const found = tried.find((file) => existsSync(file));
  if (!found) {
    throw new AsrTrainerError(
      'E_CONFIG_INVALID',
      `No config file found (tried ${tried.join(', ')}). Pass --config PATH or set ASR_CONFIG.`,
      { tried },
    );
  }
  return found;
}

/** Reads, defaults and validates the config chosen by `resolveConfigPath(options)`. */
export function loadConfig(options: ConfigLocationOptions = {}): LoadedConfig {
  const file = resolveConfigPath(options);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new AsrTrainerError('E_CONFIG_INVALID', `Cannot read config file ${file}: ${(error as Error).message}`, {
      file,
    });
  }
  const raw = parseYaml(text, file);
  const config = parseConfig(raw, { file, baseDir: path.dirname(file), env: options.env });
  return { ...config, configPath: file };
}

export interface ParseConfigOptions {
  /** Folder relative paths resolve against. */
  baseDir: string;
  /** Shown in error messages (default `<config>`). */
  file?: string;
  env?: NodeJS.ProcessEnv;
}

/** Validates an already-parsed config object (for callers that build one in code, e.g. tests). */
export function parseConfig(raw: unknown, options: ParseConfigOptions): AsrConfig {
  const env = options.env ?? process.env;
  const file = options.file ?? '<config>';
  const problems: Problem[] = [];
  const root = raw ?? {};
  if (!isMapping(root)) {
    throw configError(file, [{ path: '(top level)', message: `must be a mapping of sections (got ${show(root)})` }]);
  }
  const sectionNames = Object.keys(AsrConfigSchema.properties);
  for (const key of Object.keys(root)) {
    if (!sectionNames.includes(key)) {
      problems.push({ path: key, message: `unknown key (known keys: ${sectionNames.join(', ')})` });
    }
  }
  const server = checkValue(ServerSchema, root.server, 'server', problems);
  const paths = checkValue(PathsSchema, root.paths, 'paths', problems);
  const training = checkValue(TrainingSchema, root.training, 'training', problems);
  const distributed = checkValue(DistributedSchema, root.distributed, 'distributed', problems);
  if (Value.Check(DistributedSchema, distributed) && distributed.node_rank >= distributed.nnodes) {
    problems.push({
      path: 'distributed.node_rank',
      message: `must be below distributed.nnodes (${distributed.nnodes}): machines count from 0 (got ${distributed.node_rank})`,
    });
  }
  const datasets = checkMap(DatasetSchema, root.datasets, DEFAULT_DATASETS, 'datasets', problems);
  const models = checkMap(ModelSchema, root.models, DEFAULT_MODELS, 'models', problems);
  for (const [name, entry] of Object.entries(datasets)) {
    if (!Value.Check(DatasetSchema, entry)) continue; // already reported key by key
    for (const problem of datasetEntryProblems(entry, datasets)) {
      problems.push({ path: `datasets.${name}.${problem.key}`, message: problem.message });
    }
  }
  for (const [name, entry] of Object.entries(models)) {
    if (!Value.Check(ModelSchema, entry)) continue; // already reported key by key
    for (const problem of modelEntryProblems(entry)) {
      problems.push({ path: `models.${name}.${problem.key}`, message: problem.message });
    }
  }
  if (problems.length > 0) throw configError(file, problems);

  const resolve = (p: string) => path.resolve(options.baseDir, p);
  const config: AsrConfig = {
    server: { ...server, api_token: env.ASR_API_TOKEN || server.api_token },
    paths: {
      checkpoints: resolve(paths.checkpoints),
      runs: resolve(paths.runs),
      cache: resolve(paths.cache),
      ...(paths.backup !== undefined ? { backup: resolve(paths.backup) } : {}),
    },
    datasets: Object.fromEntries(
      Object.entries(datasets).map(([name, d]) => [name, resolveDatasetPaths(d, options.baseDir)]),
    ),
    models,
    training,
    distributed,
  };
  // The walk above is the validation; this guards the walk itself against drifting from the schema.
  if (!Value.Check(AsrConfigSchema, config)) {
    throw new AsrTrainerError('E_INTERNAL', `config from ${file} passed validation but does not match the schema`);
  }
  return config;
}

interface Problem {
  path: string;
  message: string;
}

function parseYaml(text: string, file: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((error) => {
      const line = error.linePos?.[0];
      const where = line ? `${file}:${line.line}:${line.col}` : file;
      return { path: where, message: `YAML syntax: ${error.message.split('\n')[0]}` };
    });
    throw configError(file, problems);
  }
  return doc.toJS();
}

function configError(file: string, problems: Problem[]): AsrTrainerError {
  const lines = problems.map((p) => `  ${p.path}: ${p.message}`);
  return new AsrTrainerError('E_CONFIG_INVALID', `Invalid config ${file}:\n${lines.join('\n')}`, {
    file,
    errors: problems,
  });
}

/** Applies the schema's defaults to a copy of `value` and records every error under `prefix`. */
function checkValue<S extends AnySchema>(schema: S, value: unknown, prefix: string, problems: Problem[]) {
  const withDefaults = Value.Default(schema, Value.Clone(value)) as never;
  const seen = new Set<string>();
  for (const error of Value.Errors(schema, withDefaults)) {
    const segments = error.path.split('/').filter(Boolean);
    const at = [prefix, ...segments].join('.');
    if (seen.has(at)) continue; // a missing key also fails its type check: report it once
    seen.add(at);
    problems.push({ path: at, message: describeError(schema, segments, error) });
  }
  return withDefaults as import('@sinclair/typebox').Static<S>;
}

/**
 * A `name: entry` map. TypeBox's Record neither checks key names nor applies defaults to its values,
 * so each entry is checked on its own; a map absent from the file takes the built-in one.
 */
function checkMap<S extends AnySchema>(
  schema: S,
  value: unknown,
  defaults: Record<string, unknown>,
  prefix: string,
  problems: Problem[],
): Record<string, import('@sinclair/typebox').Static<S>> {
  const map = value === undefined ? defaults : value;
  if (!isMapping(map)) {
    problems.push({ path: prefix, message: `must be a mapping of name: settings (got ${show(map)})` });
    return {};
  }
  const result: Record<string, import('@sinclair/typebox').Static<S>> = {};
  for (const [name, entry] of Object.entries(map)) {
    const problem = nameProblem(name);
    if (problem) {
      problems.push({ path: `${prefix}.${name}`, message: problem });
      continue;
    }
    result[name] = checkValue(schema, entry ?? {}, `${prefix}.${name}`, problems);
  }
  return result;
}

function describeError(root: AnySchema, segments: string[], error: ValueError): string {
  const schema = schemaAt(root, segments) ?? (error.schema as AnySchema);
  if (error.type === ValueErrorType.ObjectAdditionalProperties) {
    const parent = schemaAt(root, segments.slice(0, -1));
    const known = parent?.properties ? Object.keys(parent.properties) : [];
    return `unknown key (known keys: ${known.join(', ')})`;
  }
  if (error.type === ValueErrorType.ObjectRequiredProperty) return `missing (must be ${expectedOf(schema)})`;
  return `must be ${expectedOf(schema)} (got ${show(error.value)})`;
}

function schemaAt(root: AnySchema, segments: string[]): AnySchema | undefined {
  let schema: AnySchema | undefined = root;
  for (const segment of segments) {
    schema = schema?.properties?.[segment] as AnySchema | undefined;
  }
  return schema;
}

function expectedOf(schema: AnySchema): string {
  if (schema.expected) return schema.expected;
  if (Array.isArray(schema.anyOf)) {
    const parts = (schema.anyOf as AnySchema[]).map((s) => ('const' in s ? String(s.const) : expectedOf(s)));
    return `one of ${parts.join(', ')}`;
  }
  const bounds = [
    schema.minimum !== undefined ? `>= ${schema.minimum}` : '',
    schema.exclusiveMinimum !== undefined ? `> ${schema.exclusiveMinimum}` : '',
    schema.maximum !== undefined ? `<= ${schema.maximum}` : '',
    schema.exclusiveMaximum !== undefined ? `< ${schema.exclusiveMaximum}` : '',
  ]
    .filter(Boolean)
    .join(' and ');
  switch (schema.type) {
    case 'integer':
      return `an integer${bounds ? ` ${bounds}` : ''}`;
    case 'number':
      return `a number${bounds ? ` ${bounds}` : ''}`;
    case 'string':
      return schema.minLength ? 'a non-empty string' : 'a string';
    case 'boolean':
      return 'true or false';
    case 'object':
      return 'a mapping';
    default:
      return 'a valid value';
  }
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

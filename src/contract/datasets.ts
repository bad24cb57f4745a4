/**
 * Corpus formats, split roles and the per-split evaluation result (config.yaml's datasets, `asr-trainer
 * evaluate`, POST /api/evaluate, the sidecar's `test` figures): one list of each, so the config's
 * validation, the readers and the routes agree.
 */
import { Type, type Static } from '@sinclair/typebox';
import { CheckpointNameSchema, NameSchema } from './names.js';
import { MAX_BEAM_WIDTH } from './transcribe.js';

export const CORPUS_FORMATS = ['ljspeech', 'librispeech', 'commonvoice', 'nemo', 'kaldi'] as const;
export type CorpusFormat = (typeof CORPUS_FORMATS)[number];

/** The roles a dataset's splits play; `--split` names a role or one entry of a role's list. */
export const SPLIT_ROLES = ['train', 'validation', 'test'] as const;
export type SplitRole = (typeof SPLIT_ROLES)[number];

export const SplitEvaluationSchema = Type.Object({
  split: Type.String({ description: 'a role (train, validation, test) or one entry of its list, e.g. test-other' }),
  utterances: Type.Integer({ minimum: 0, description: 'usable utterances scored' }),
  cer: Type.Number({ minimum: 0 }),
  wer: Type.Number({ minimum: 0 }),
});
export type SplitEvaluation = Static<typeof SplitEvaluationSchema>;

/** `asr-trainer evaluate` and the body of POST /api/evaluate. */
export const EvaluateRequestSchema = Type.Object(
  {
    model_name: NameSchema('a key of models in config.yaml: its best checkpoint on dataset_name is scored'),
    dataset_name: NameSchema('a key of datasets in config.yaml: the data scored'),
    split: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 255,
        description: 'a role (train, validation, test: each of its splits) or one split by name; default test',
      }),
    ),
    checkpoint: Type.Optional(CheckpointNameSchema()),
    beam: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_BEAM_WIDTH, description: 'default training.val_beam (1: greedy)' }),
    ),
  },
  { additionalProperties: false },
);
export type EvaluateRequest = Static<typeof EvaluateRequestSchema>;

export const EvaluateResultSchema = Type.Object({
  checkpoint: Type.String({ description: 'the checkpoint scored' }),
  dataset_name: Type.String(),
  beam: Type.Integer(),
  splits: Type.Array(SplitEvaluationSchema),
});
export type EvaluateResult = Static<typeof EvaluateResultSchema>;

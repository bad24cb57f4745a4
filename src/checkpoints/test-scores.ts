/**
 * A checkpoint's figures on its dataset's test splits: `NAME.pt.test.json` beside it, written when a run
 * ends (the best checkpoint scored on every `test` split). A file of its own, like a pin (pins.ts): the
 * sidecar is the commit record, written once and copied byte for byte to the backup folder, while test
 * figures are a later measurement that a second evaluation may replace.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { Type } from '@sinclair/typebox';
import { SplitEvaluationSchema, type SplitEvaluation } from '../contract/datasets.js';
import { writeFileAtomic } from './files.js';
import { testScoresName } from './names.js';

const TestScoresSchema = Type.Array(SplitEvaluationSchema);

export async function writeTestScores(dir: string, checkpoint: string, splits: SplitEvaluation[]): Promise<void> {
  await writeFileAtomic(path.join(dir, testScoresName(checkpoint)), `${JSON.stringify(splits, null, 2)}\n`);
}

/** The checkpoint's test figures; undefined when it has none (or the file is not what this writes). */
export async function readTestScores(dir: string, checkpoint: string): Promise<SplitEvaluation[] | undefined> {
  const text = await readFile(path.join(dir, testScoresName(checkpoint)), 'utf8').catch(() => null);
  if (text === null) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return Value.Check(TestScoresSchema, value) ? value : undefined;
  } catch {
    return undefined;
  }
}

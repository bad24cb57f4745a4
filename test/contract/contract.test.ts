/**
 * The contract is defined once: the TypeScript error codes match the C++ core's, the page takes the
 * contract's types without its runtime, and the status helpers build what the status schema accepts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import {
  ERROR_CODES,
  HTTP_ERROR_CODES,
  NATIVE_ERROR_CODES,
  StatusSchema,
  TrainingEventSchema,
  TrainRequestSchema,
  nameProblem,
} from '../../src/contract/index.js';
import { validateDatasetName, validateModelName } from '../../src/checkpoints/names.js';
import { HTTP_STATUS_BY_CODE } from '../../src/server/errors.js';
import { idleStatus, withState } from '../../src/training/status.js';

const root = join(import.meta.dirname, '..', '..');

/** The string values of `asr::codes` in the C++ header. */
function nativeCodesInHeader(): string[] {
  const header = readFileSync(join(root, 'native', 'core', 'include', 'asr', 'errors.h'), 'utf8');
  const block = /namespace codes \{([\s\S]*?)\}\s*\/\/ namespace codes/.exec(header);
  expect(block, 'errors.h has a `namespace codes { … }  // namespace codes` block').not.toBeNull();
  return [...block![1].matchAll(/constexpr\s+const\s+char\s*\*\s*k\w+\s*=\s*"(E_[A-Z0-9_]+)"/g)].map((m) => m[1]);
}

describe('error codes', () => {
  it('the C++ core and NATIVE_ERROR_CODES are the same set', () => {
    const header = nativeCodesInHeader();
    expect(header.length).toBeGreaterThan(0);
    expect(new Set(header).size).toBe(header.length);
    expect([...header].sort()).toEqual([...NATIVE_ERROR_CODES].sort());
  });

  it('every code has one HTTP status, and no code is listed twice', () => {
    const all = [...ERROR_CODES, ...HTTP_ERROR_CODES];
    expect(new Set(all).size).toBe(all.length);
    expect(Object.keys(HTTP_STATUS_BY_CODE).sort()).toEqual([...all].sort());
  });
});

describe('names', () => {
  it('one rule: lowercase, a letter or digit first, at most 100 characters', () => {
    for (const good of ['conformer', 'mini-ljspeech', 'a', '0.x_y-z', 'd'.repeat(100)])
      expect(nameProblem(good)).toBeNull();
    expect(nameProblem('Conformer')).toMatch(/lowercase.*use 'conformer'/);
    expect(nameProblem('d'.repeat(101))).toMatch(/at most 100/);
    for (const bad of ['', '-x', '.x', 'a b', 'a/b', '..']) expect(nameProblem(bad)).toMatch(/letter or digit/);
  });

  it('the train request schema applies the same rule', () => {
    const request = (model_name: string) => ({ model_name, dataset_name: 'ljspeech' });
    expect(Value.Check(TrainRequestSchema, request('conformer'))).toBe(true);
    expect(Value.Check(TrainRequestSchema, request('Conformer'))).toBe(false);
    expect(Value.Check(TrainRequestSchema, request('c'.repeat(101)))).toBe(false);
  });

  it('the checkpoint store applies the same rule to model and dataset names', () => {
    const accepts = (validate: (name: string) => string, name: string): boolean => {
      try {
        return validate(name) === name;
      } catch {
        return false;
      }
    };
    for (const name of ['conformer', 'd'.repeat(100), 'd'.repeat(101), 'Conformer', '-x', 'a/b', '..', '']) {
      const keepsRule = nameProblem(name) === null;
      expect(accepts(validateModelName, name), name).toBe(keepsRule);
      expect(accepts(validateDatasetName, name), name).toBe(keepsRule);
    }
  });
});

describe('status and events', () => {
  it('the status helpers build what the status schema (and its event) accept', () => {
    const failed = withState(idleStatus(), 'failed', {
      message: 'boom',
      code: 'E_INTERNAL',
      signal: null,
      exit_code: 1,
      last_logs: [],
    });
    for (const status of [idleStatus(), failed, withState(failed, 'starting')]) {
      expect(Value.Errors(StatusSchema, status).First()).toBeUndefined();
      expect(Value.Check(TrainingEventSchema, { type: 'status', payload: status })).toBe(true);
    }
    expect(withState(failed, 'starting')).not.toHaveProperty('error');
    // The page once allowed a string here; the contract does not.
    expect(Value.Check(StatusSchema, { ...idleStatus(), error: 'boom' })).toBe(false);
  });
});

describe('the dashboard client', () => {
  it('imports the contract as types only, so the browser bundle carries no TypeBox', () => {
    const dir = join(root, 'src', 'web', 'client');
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    let contractImports = 0;
    for (const file of files) {
      const text = readFileSync(join(dir, file), 'utf8');
      for (const match of text.matchAll(/^(import|export)\b([^;]*?)from\s+'([^']+)'/gm)) {
        const [, , clause, from] = match;
        if (from.includes('contract')) {
          contractImports += 1;
          expect(clause.trimStart().startsWith('type '), `${file}: ${match[0]}`).toBe(true);
        }
        expect(from, `${file} imports ${from}`).not.toMatch(/typebox/);
      }
    }
    expect(contractImports).toBeGreaterThan(0);
  });
});

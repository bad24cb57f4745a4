import { expect } from 'vitest';
import { AsrTrainerError } from '../../src/errors.js';

/** The AsrTrainerError `fn` throws; fails the test when it throws something else or nothing. */
export function thrown(fn: () => unknown): AsrTrainerError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AsrTrainerError);
    return error as AsrTrainerError;
  }
  throw new Error('expected an AsrTrainerError');
}

import { describe, expect, it } from 'vitest';
import {
  checkpointName,
  linkName,
  parseCheckpointName,
  versionedCheckpointName,
  validatePlainFileName,
} from '../../src/checkpoints/index.js';
import {
  checkpointNameCandidates,
  checkpointOfSidecarName,
  isLinkNameFor,
  isTempNameFor,
  parseLinkName,
} from '../../src/checkpoints/names.js';

describe('checkpoint names', () => {
  it('names epoch checkpoints as the guide does', () => {
    expect(checkpointName('conformer', 'mini-ljspeech', 3)).toBe('conformer-mini-ljspeech-epoch-3.pt');
  });

  it('names mid-epoch checkpoints with their step', () => {
    expect(checkpointName('conformer', 'ljspeech', 4, 250)).toBe('conformer-ljspeech-epoch-4-step-250.pt');
  });

  it('names the latest and best links', () => {
    expect(linkName('conformer', 'ljspeech', 'latest')).toBe('conformer-ljspeech-latest.pt');
    expect(linkName('conformer', 'ljspeech', 'best')).toBe('conformer-ljspeech-best.pt');
  });

  it('tells a link name back into its pair and role', () => {
    expect(parseLinkName('conformer-mini-ljspeech-best.pt')).toEqual({
      prefix: 'conformer-mini-ljspeech',
      role: 'best',
    });
    expect(parseLinkName('conformer-mini-ljspeech-epoch-3.pt')).toBeNull();
    expect(isLinkNameFor('conformer-mini-ljspeech-latest.pt', 'conformer', 'mini-ljspeech')).toBe(true);
    expect(isLinkNameFor('conformer-mini-ljspeech-latest.pt', 'conformer-mini', 'ljspeech')).toBe(true);
    expect(isLinkNameFor('conformer-mini-ljspeech-latest.pt', 'conformer', 'ljspeech')).toBe(false);
    expect(isLinkNameFor('conformer-mini-ljspeech-epoch-3.pt', 'conformer', 'mini-ljspeech')).toBe(false);
  });

  it('finds the checkpoint of a sidecar name', () => {
    expect(checkpointOfSidecarName('conformer-x-epoch-3.pt.json')).toBe('conformer-x-epoch-3.pt');
    expect(checkpointOfSidecarName('config.json')).toBeNull();
  });

  it('accepts a named checkpoint with or without .pt, never past NAME_MAX', () => {
    expect(checkpointNameCandidates('conformer-x-epoch-3.pt')).toEqual(['conformer-x-epoch-3.pt']);
    expect(checkpointNameCandidates('conformer-x-epoch-3')).toEqual(['conformer-x-epoch-3', 'conformer-x-epoch-3.pt']);
    expect(checkpointNameCandidates('x'.repeat(254))).toEqual(['x'.repeat(254)]);
  });

  it.each(['../x', 'a/b', 'Conformer', '', '-x', '.hidden', 'a b', 'a\u0000b', 'x'.repeat(101)])(
    'refuses model name %j so a name can never form a path',
    (bad) => {
      expect(() => checkpointName(bad, 'ljspeech', 1)).toThrow(expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }));
      expect(() => checkpointName('conformer', bad, 1)).toThrow(
        expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }),
      );
    },
  );

  it.each([-1, 1.5, Number.NaN])('refuses epoch %s', (epoch) => {
    expect(() => checkpointName('conformer', 'ljspeech', epoch)).toThrow(
      expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }),
    );
  });

  it('parses what it names', () => {
    expect(parseCheckpointName('conformer-mini-ljspeech-epoch-12.pt')).toEqual({
      prefix: 'conformer-mini-ljspeech',
      epoch: 12,
      nameStep: null,
      kind: 'epoch',
      version: 1,
    });
    expect(parseCheckpointName('conformer-mini-ljspeech-epoch-2-step-40.pt')).toEqual({
      prefix: 'conformer-mini-ljspeech',
      epoch: 2,
      nameStep: 40,
      kind: 'step',
      version: 1,
    });
  });

  it('parses the -vN names of a second timeline, for epoch and step checkpoints', () => {
    const epoch = versionedCheckpointName('conformer-mini-ljspeech-epoch-20.pt', 2);
    const step = versionedCheckpointName('conformer-mini-ljspeech-epoch-2-step-40.pt', 13);
    expect([epoch, step]).toEqual([
      'conformer-mini-ljspeech-epoch-20-v2.pt',
      'conformer-mini-ljspeech-epoch-2-step-40-v13.pt',
    ]);
    expect(parseCheckpointName(epoch)).toEqual({
      prefix: 'conformer-mini-ljspeech',
      epoch: 20,
      nameStep: null,
      kind: 'epoch',
      version: 2,
    });
    expect(parseCheckpointName(step)).toEqual({
      prefix: 'conformer-mini-ljspeech',
      epoch: 2,
      nameStep: 40,
      kind: 'step',
      version: 13,
    });
    expect(versionedCheckpointName('conformer-mini-ljspeech-epoch-20.pt', 1)).toBe(
      'conformer-mini-ljspeech-epoch-20.pt',
    );
    // v1 is the plain name and a leading zero is no version: neither parses.
    for (const name of [
      'conformer-ljspeech-epoch-1-v1.pt',
      'conformer-ljspeech-epoch-1-v02.pt',
      'conformer-ljspeech-epoch-1-v2.pt.pin',
    ]) {
      expect(parseCheckpointName(name)).toBeNull();
    }
  });

  it('does not take links, sidecars or temp files for checkpoints', () => {
    for (const name of [
      'conformer-ljspeech-latest.pt',
      'conformer-ljspeech-best.pt',
      'conformer-ljspeech-epoch-1.pt.json',
      '.conformer-ljspeech-epoch-1.pt.tmp-1-abc',
      'conformer-ljspeech-epoch-01.pt',
      'conformer-ljspeech.lock',
    ]) {
      expect(parseCheckpointName(name)).toBeNull();
    }
  });
});

describe('plain file names from users', () => {
  it('accepts a plain checkpoint name', () => {
    expect(validatePlainFileName('conformer-ljspeech-epoch-3.pt')).toBe('conformer-ljspeech-epoch-3.pt');
  });

  it.each([
    ['../x', 'parent folder'],
    ['/etc/passwd', 'absolute path'],
    ['a/b.pt', 'sub folder'],
    ['a\\b.pt', 'backslash'],
    ['x\u0000.pt', 'NUL byte'],
    ['x'.repeat(10_000), '10 kB name'],
    ['..', 'parent'],
    ['.', 'the folder'],
    ['', 'empty'],
  ])('refuses %j (%s) with E_INVALID_ARGUMENT', (name) => {
    expect(() => validatePlainFileName(name)).toThrow(expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }));
  });

  it('refuses a non-string', () => {
    expect(() => validatePlainFileName(42)).toThrow(expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }));
  });
});

describe('temp names', () => {
  it("recognises this pair's temp files and no other pair's files", () => {
    for (const temp of [
      '.conformer-x-epoch-3.pt.tmp-12-abc',
      'conformer-x-epoch-3.pt.tmp',
      '.conformer-x-epoch-3-step-9.pt.json.tmp-1-a',
      '.conformer-x-latest.pt.tmp-1-b',
      '.conformer-x.lock.tmp-1-c',
    ]) {
      expect(isTempNameFor(temp, 'conformer', 'x'), temp).toBe(true);
    }
    for (const other of [
      'conformer-x-y.tmp-epoch-1.pt',
      '.conformer-x-y.tmp-epoch-1.pt.tmp-1-a',
      '.conformer-xy-epoch-1.pt.tmp-1-a',
      'conformer-x-epoch-3.pt',
      'conformer-x-epoch-3.pt.json',
    ]) {
      expect(isTempNameFor(other, 'conformer', 'x'), other).toBe(false);
    }
  });
});

it("recognises the addon's temp file name (native/core/src/checkpoint.cpp)", () => {
  expect(isTempNameFor('conformer-x-epoch-3.pt.tmp-4242-1234567', 'conformer', 'x')).toBe(true);
});

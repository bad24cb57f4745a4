import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AsrTrainerError } from '../../src/errors.js';
import { likelyFix, loadNative } from '../../src/native/index.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

/** Loads src/native/load.ts in a fresh Node process (the loader caches per process) and reports the outcome. */
async function loadInChild(env: Record<string, string>): Promise<{ code?: string; message: string }> {
  const wrapped = `
    import('${ROOT}/src/native/load.ts').then((m) => {
      try { m.loadNative(); console.log(JSON.stringify({ message: 'loaded' })); }
      catch (e) { console.log(JSON.stringify({ code: e.code, name: e.constructor.name, message: e.message })); }
    });
  `;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '-e', wrapped], {
    cwd: ROOT,
    env: { ...process.env, ...env },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { code?: string; message: string };
}

describe('src/native/load.ts', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'asr-native-load-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the built addon and hands it the error class', () => {
    const native = loadNative();
    expect(native.versions.libtorch).toMatch(/^1\.13/);
    expect(native.versions.openmp).toBe(true);
    expect(native.setThreads(2)).toBe(2);
    expect(native.versions.threads).toBe(2);
    expect(native.modelPreset('xs')).toEqual({
      n_mels: 80,
      d_model: 144,
      num_layers: 4,
      num_heads: 4,
      ffn_dim: 576,
      conv_kernel: 31,
      vocab_size: 29,
      dropout: 0.1,
    });
    expect(() => native.modelPreset('huge')).toThrow(AsrTrainerError);
  });

  it('a missing binary fails with E_NATIVE_LOAD naming the path and the build command', async () => {
    const missing = join(dir, 'nowhere', 'asr_trainer.node');
    const result = await loadInChild({ ASR_TRAINER_ADDON: missing });
    expect(result.code).toBe('E_NATIVE_LOAD');
    expect(result.message).toContain(missing);
    expect(result.message).toContain('npm run build:native');
  });

  it('a file that is not a shared object fails with E_NATIVE_LOAD and says to rebuild', async () => {
    const bogus = join(dir, 'bogus.node');
    await writeFile(bogus, 'not an ELF file');
    const result = await loadInChild({ ASR_TRAINER_ADDON: bogus });
    expect(result.code).toBe('E_NATIVE_LOAD');
    expect(result.message).toContain(bogus);
    expect(result.message).toMatch(/rebuild it: npm run build:native/);
  });

  it('the fix follows the loader message', () => {
    expect(likelyFix('libtorch_cpu.so: cannot open shared object file: No such file or directory')).toMatch(
      /libtorch-dev.*LD_LIBRARY_PATH/s,
    );
    expect(likelyFix("/lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.32' not found")).toMatch(
      /compiler\/runtime mismatch/,
    );
    expect(likelyFix('libsoxr.so.0: cannot open shared object file')).toMatch(/libsoxr0/);
    expect(likelyFix('Cannot find module')).toMatch(/npm run build:native/);
  });
});

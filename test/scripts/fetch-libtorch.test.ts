import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const SCRIPT = resolve(import.meta.dirname, '../../scripts/fetch-libtorch.sh');

/** A zip laid out like the pytorch.org download: libtorch/{share/cmake/Torch,lib,include}. */
async function makeLibtorchZip(dir: string, layout: 'libtorch' | 'foreign'): Promise<Buffer> {
  const root = join(dir, `src-${layout}`);
  const top = join(root, layout === 'libtorch' ? 'libtorch' : 'something-else');
  await mkdir(join(top, 'share/cmake/Torch'), { recursive: true });
  await mkdir(join(top, 'lib'), { recursive: true });
  await mkdir(join(top, 'include/torch'), { recursive: true });
  await writeFile(join(top, 'share/cmake/Torch/TorchConfig.cmake'), 'set(TORCH_FOUND TRUE)\n');
  await writeFile(join(top, 'lib/libtorch.so'), 'not really a library\n');
  await writeFile(join(top, 'include/torch/torch.h'), '#pragma once\n');
  const zip = join(dir, `${layout}.zip`);
  await run('zip', ['-qr', zip, '.'], { cwd: root });
  return readFile(zip);
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('scripts/fetch-libtorch.sh', () => {
  let dir: string;
  let server: Server;
  let base: string;
  let good: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fetch-libtorch-'));
    good = await makeLibtorchZip(dir, 'libtorch');
    const files: Record<string, Buffer> = {
      '/libtorch.zip': good,
      '/foreign.zip': await makeLibtorchZip(dir, 'foreign'),
      '/garbage.zip': Buffer.from('this is not a zip file'),
    };
    server = createServer((req, res) => {
      const body = files[req.url ?? ''];
      if (!body) {
        res.writeHead(404).end('not found');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/zip', 'content-length': body.length }).end(body);
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((done) => server.close(done));
    await rm(dir, { recursive: true, force: true });
  });

  // Async execFile: the server answers from this process's event loop.
  async function fetchInto(dest: string, env: Record<string, string>) {
    try {
      const { stdout, stderr } = await run('bash', [SCRIPT, dest], { env: { ...process.env, ...env } });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  it('unpacks a zip whose sha256 matches and prints the LIBTORCH export', async () => {
    const dest = join(dir, 'ok', 'libtorch');
    const result = await fetchInto(dest, { LIBTORCH_URL: `${base}/libtorch.zip`, LIBTORCH_SHA256: sha256(good) });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`export LIBTORCH=${dest}\n`);
    expect(result.stderr).toContain('sha256 verified');
    expect(await readFile(join(dest, 'share/cmake/Torch/TorchConfig.cmake'), 'utf8')).toBe('set(TORCH_FOUND TRUE)\n');
    expect(existsSync(join(dest, 'lib/libtorch.so'))).toBe(true);
    // Only the unpacked folder remains next to it: no staging leftovers.
    expect(await readdir(join(dir, 'ok'))).toEqual(['libtorch']);
  });

  it('a second run finds the unpacked libtorch and downloads nothing', async () => {
    const dest = join(dir, 'again', 'libtorch');
    const first = await fetchInto(dest, { LIBTORCH_URL: `${base}/libtorch.zip` });
    expect(first.code).toBe(0);
    expect(first.stderr).toContain('not verified');
    const second = await fetchInto(dest, { LIBTORCH_URL: `${base}/missing.zip` });
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(`export LIBTORCH=${dest}\n`);
    expect(second.stderr).toContain('already holds a libtorch');
  });

  it('a wrong sha256 fails and leaves nothing behind', async () => {
    const dest = join(dir, 'wrong-sha', 'libtorch');
    const result = await fetchInto(dest, { LIBTORCH_URL: `${base}/libtorch.zip`, LIBTORCH_SHA256: '0'.repeat(64) });
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`sha256 mismatch`);
    expect(result.stderr).toContain(sha256(good));
    // The parent folder was made by the script, so it is removed too.
    expect(existsSync(join(dir, 'wrong-sha'))).toBe(false);
  });

  it('a missing URL, a non-zip and a zip without libtorch/ all fail without leftovers', async () => {
    await mkdir(join(dir, 'bad'));
    for (const [name, message] of [
      ['missing.zip', 'download failed'],
      ['garbage.zip', 'not a valid zip'],
      ['foreign.zip', 'holds no libtorch/share/cmake/Torch/TorchConfig.cmake'],
    ]) {
      const result = await fetchInto(join(dir, 'bad', 'libtorch'), { LIBTORCH_URL: `${base}/${name}` });
      expect(result.code, name).not.toBe(0);
      expect(result.stderr, name).toContain(message);
    }
    expect(await readdir(join(dir, 'bad'))).toEqual([]);
  });

  it('rejects an unknown variant before downloading', async () => {
    const result = await fetchInto(join(dir, 'variant', 'libtorch'), { LIBTORCH_VARIANT: 'rocm' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('LIBTORCH_VARIANT must be cpu, cu116 or cu117');
  });
});

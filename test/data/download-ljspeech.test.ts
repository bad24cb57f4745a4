import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMetadata } from '../../src/data/index.js';

const script = path.resolve(__dirname, '../../scripts/download-ljspeech.sh');
let dir: string;
let server: Server;
let baseUrl: string;
let archive: Buffer;
let requests: string[];

/** A two-clip stand-in for LJSpeech-1.1.tar.bz2, same folder layout. */
function makeArchive(): Buffer {
  const src = path.join(dir, 'src');
  mkdirSync(path.join(src, 'LJSpeech-1.1', 'wavs'), { recursive: true });
  writeFileSync(
    path.join(src, 'LJSpeech-1.1', 'metadata.csv'),
    'LJ001-0001|Printing, in the only sense|Printing, in the only sense\nLJ001-0002|in 1450|in fourteen fifty\n',
  );
  for (const id of ['LJ001-0001', 'LJ001-0002'])
    writeFileSync(path.join(src, 'LJSpeech-1.1', 'wavs', `${id}.wav`), 'RIFF');
  execFileSync('tar', ['-cjf', path.join(dir, 'tiny.tar.bz2'), '-C', src, 'LJSpeech-1.1']);
  return readFileSync(path.join(dir, 'tiny.tar.bz2'));
}

function runScript(
  parent: string,
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      [script, parent],
      { env: { ...process.env, no_proxy: '127.0.0.1', NO_PROXY: '127.0.0.1', ...env } },
      (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'asr-download-'));
  archive = makeArchive();
  requests = [];
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/LJSpeech-1.1.tar.bz2') {
      res.writeHead(200, { 'content-type': 'application/x-bzip2', 'content-length': archive.length });
      res.end(archive);
    } else {
      res.writeHead(404).end('not here');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('scripts/download-ljspeech.sh', () => {
  const sha = () => createHash('sha256').update(archive).digest('hex');

  it('downloads, checks the sha256 and unpacks into <parent>/LJSpeech-1.1, then leaves it alone', async () => {
    const parent = path.join(dir, 'ok');
    const env = { LJSPEECH_URL: `${baseUrl}/LJSpeech-1.1.tar.bz2`, LJSPEECH_SHA256: sha() };
    const result = await runScript(parent, env);
    expect(result.stderr).not.toContain('download-ljspeech:');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`done: ${path.join(parent, 'LJSpeech-1.1')} (2 clips)`);
    expect(readMetadata(path.join(parent, 'LJSpeech-1.1', 'metadata.csv')).map((e) => e.id)).toEqual([
      'LJ001-0001',
      'LJ001-0002',
    ]);
    expect(readdirSync(parent)).toEqual(['LJSpeech-1.1']); // archive and staging folder removed

    const before = requests.length;
    const again = await runScript(parent, env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('nothing to do');
    expect(requests.length).toBe(before);
  });

  it('a sha256 mismatch fails, deletes the archive and creates no dataset folder', async () => {
    const parent = path.join(dir, 'bad-sha');
    const result = await runScript(parent, {
      LJSPEECH_URL: `${baseUrl}/LJSpeech-1.1.tar.bz2`,
      LJSPEECH_SHA256: '0'.repeat(64),
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      `sha256 of ${path.join(parent, 'LJSpeech-1.1.tar.bz2')} is ${sha()}, expected ${'0'.repeat(64)}`,
    );
    expect(readdirSync(parent)).toEqual([]);
  });

  it('an HTTP error fails with the way forward and no dataset folder', async () => {
    const parent = path.join(dir, 'not-found');
    const result = await runScript(parent, { LJSPEECH_URL: `${baseUrl}/missing.tar.bz2`, LJSPEECH_SHA256: sha() });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('download failed');
    expect(result.stderr).toContain('LJSPEECH_URL');
    expect(existsSync(path.join(parent, 'LJSpeech-1.1'))).toBe(false);
  });
});

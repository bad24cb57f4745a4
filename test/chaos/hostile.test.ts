/**
 * Hostile input: hundreds of generated bad requests (wrong types, missing and extra fields, bad numbers,
 * huge strings, unicode and NUL, prototype keys, path traversal, wrong content types, malformed and
 * oversized JSON, raw protocol garbage) and garbage WebSocket frames. Each request gets a 4xx error in
 * the API's shape, the server stays up, no run starts, and nothing outside the checkpoint folder changes.
 */
import { connect } from 'node:net';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../helpers/wait.js';
import { makeWorkspace, type TestWorkspace } from '../helpers/workspace.js';
import { get, post, startServer, type TestServer } from '../server/client.js';
import { recordFigures } from './summary.js';
import { chaosSeed, seededRandom, snapshotTree, trainerPids, treeDiff, type TreeEntry } from './helpers.js';

const SECRET = 'CHAOS-SECRET-7f3a9c';

interface Attempt {
  label: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

const MB = 1024 * 1024;
const VALID = { model_name: 'conformer', dataset_name: 'ljspeech' };

/** Values that must make a count field (epochs, batch_size, limit_samples) invalid. */
// prettier-ignore -- one hostile value per line would hide the table
const BAD_COUNTS: unknown[] = [
  -1,
  0,
  -0,
  0.5,
  1.5,
  -100,
  1e308,
  2 ** 53,
  2 ** 31,
  1e10,
  -1e308,
  'NaN',
  'Infinity',
  '10',
  '',
  ' 5',
  '0x10',
  true,
  false,
  [],
  [5],
  {},
  { n: 5 },
  'ten',
  '1e3',
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
];
/** Values that must make a name (model_name, dataset_name) invalid or unknown. */
// prettier-ignore
const BAD_NAMES: unknown[] = [
  '', ' ', 'x'.repeat(101), 'x'.repeat(10_000), 'Conformer', 'conformer ', '../../etc/passwd', '..', '.', '/etc/passwd', 'conformer/../conformer',
  'a\u0000b', '\u0000', 'モデル', '😀', 'conformer\n', '-rf', '%2e%2e%2f', 'CON', '__proto__', 'constructor', 'prototype', 'toString',
  'missing-set', 1, 0, null, true, [], ['conformer'], {}, { name: 'conformer' }, '\u202eevil', 'conformer\r\nX-Injected: 1',
];
// prettier-ignore
const BAD_CHECKPOINTS: unknown[] = [
  '../../etc/passwd', '/etc/passwd', '..', '.', '../config.yaml', '..%2fconfig.yaml', 'a/b.pt', 'a\\b.pt', '\u0000', 'x\u0000.pt', 'x'.repeat(256),
  '~', '~/.ssh/id_rsa', 'conformer-ljspeech-latest.pt', 'conformer-ljspeech-epoch-1.pt', 'conformer-ljspeech-epoch-1', '😀.pt', '', 12, true, {}, ['a'],
  'conformer-ljspeech-epoch-99999999999999999999.pt', 'secret.txt', '../secret.txt', '....//....//secret.txt', 'config.yaml', '.cache',
  'conformer-ljspeech.lock', 'conformer-ljspeech-epoch-1.pt.json',
];
const FLAGS_BAD: unknown[] = ['yes', 'true', 1, 0, null, [], {}, 'false'];

function json(label: string, path: string, body: unknown): Attempt {
  return { label, method: 'POST', path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
function raw(label: string, path: string, body: string | Buffer, contentType = 'application/json'): Attempt {
  return { label, method: 'POST', path, headers: { 'content-type': contentType }, body };
}

function generate(random: () => number): Attempt[] {
  const out: Attempt[] = [];
  for (const route of ['/api/train/start', '/api/train/resume']) {
    for (const field of ['epochs', 'batch_size', 'limit_samples']) {
      for (const value of BAD_COUNTS)
        out.push(json(`${route} ${field}=${JSON.stringify(value)}`, route, { ...VALID, [field]: value }));
    }
    for (const field of ['model_name', 'dataset_name']) {
      for (const value of BAD_NAMES)
        out.push(json(`${route} ${field}=${JSON.stringify(value).slice(0, 40)}`, route, { ...VALID, [field]: value }));
      out.push(json(`${route} without ${field}`, route, { ...VALID, [field]: undefined }));
    }
    for (const value of BAD_CHECKPOINTS) {
      out.push(
        json(`${route} specific_checkpoint=${JSON.stringify(value).slice(0, 40)}`, route, {
          ...VALID,
          specific_checkpoint: value,
        }),
      );
    }
    for (const field of ['lightweight', 'resume_from_checkpoint']) {
      for (const value of FLAGS_BAD)
        out.push(json(`${route} ${field}=${JSON.stringify(value)}`, route, { ...VALID, [field]: value }));
    }
    for (const extra of [
      'extra',
      'epoch',
      'Epochs',
      'model',
      'prototype',
      'toString',
      'hasOwnProperty',
      '',
      '\u0000',
    ]) {
      out.push(json(`${route} extra field ${JSON.stringify(extra)}`, route, { ...VALID, [extra]: 1 }));
    }
    // Prototype keys can only be written as raw JSON (an object literal would set the prototype).
    for (const text of [
      '{"model_name":"conformer","dataset_name":"ljspeech","__proto__":{"epochs":1}}',
      '{"__proto__":{"model_name":"conformer","dataset_name":"ljspeech"}}',
      '{"model_name":"conformer","dataset_name":"ljspeech","constructor":{"prototype":{"epochs":1}}}',
      '{"constructor":{"prototype":{"model_name":"conformer"}},"dataset_name":"ljspeech"}',
      '{"model_name":"conformer","dataset_name":"ljspeech","epochs":NaN}',
      '{"model_name":"conformer","dataset_name":"ljspeech","epochs":Infinity}',
      '{"model_name":"conformer","dataset_name":"ljspeech","epochs":-Infinity}',
      '{"model_name":"conformer","dataset_name":"ljspeech","epochs":1e999}',
      '{"model_name":"conformer","dataset_name":"ljspeech","batch_size":1e-999}',
      '{"model_name":"conformer","dataset_name":"ljspeech","epochs":01}',
      '{"model_name":"conformer","dataset_name":"ljspeech","epochs":0x10}',
      '{"model_name":"conformer","dataset_name":"ljspeech","model_name":"conformer-ref","epochs":0}',
      '{"model_name":"conformer","dataset_name":"ljspeech",}',
      "{'model_name':'conformer','dataset_name':'ljspeech'}",
      '{"model_name":"conformer","dataset_name":"ljspeech"',
      '{"model_name":"conformer","dataset_name":"ljspeech"}}',
      '{"model_name":"conformer","dataset_name":"ljspeech"} trailing',
      '{"model_name":"\\ud800","dataset_name":"ljspeech"}',
      '{"model_name":"conformer\\u0000","dataset_name":"ljspeech"}',
      'null',
      'true',
      '1',
      '"conformer"',
      '[]',
      '[{"model_name":"conformer","dataset_name":"ljspeech"}]',
      '{}',
      '{{',
      '}',
      '\u0000',
      ' ',
      '\ufeff{}',
      '{"model_name":"conformer","dataset_name":"ljspeech","epochs":' + '9'.repeat(400) + '}',
      '['.repeat(30_000) + ']'.repeat(30_000),
      '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000),
    ]) {
      out.push(raw(`${route} raw ${JSON.stringify(text).slice(0, 50)}`, route, text));
    }
    out.push(raw(`${route} invalid UTF-8`, route, Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])));
    out.push(
      raw(
        `${route} UTF-16 body`,
        route,
        Buffer.from(JSON.stringify(VALID), 'utf16le'),
        'application/json; charset=utf-16',
      ),
    );
    out.push(json(`${route} 1 MB model_name`, route, { ...VALID, model_name: 'a'.repeat(MB) }));
    out.push(json(`${route} 1 MB specific_checkpoint`, route, { ...VALID, specific_checkpoint: '../'.repeat(MB / 3) }));
    out.push(json(`${route} 70 kB extra`, route, { ...VALID, epochs: 0, pad: 'x'.repeat(70_000) }));
    out.push(raw(`${route} 2 MB garbage`, route, Buffer.alloc(2 * MB, 0x41)));
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'audio/wav',
      'application/octet-stream',
      'image/png',
      'application/jsonp',
      'application/json-patch+json',
      'foo',
      '',
      ';;;',
      'application/json; charset=latin1',
    ]) {
      out.push(
        raw(`${route} content-type ${JSON.stringify(type)}`, route, JSON.stringify({ ...VALID, epochs: 0 }), type),
      );
    }
    out.push({ label: `${route} no body`, method: 'POST', path: route });
    out.push({
      label: `${route} empty JSON body`,
      method: 'POST',
      path: route,
      headers: { 'content-type': 'application/json' },
      body: '',
    });
  }

  // Random mixes: every body carries at least one bad field, and random other fields.
  const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)]!;
  for (let i = 0; i < 120; i += 1) {
    const body: Record<string, unknown> = { ...VALID };
    const fault = pick([
      'epochs',
      'batch_size',
      'limit_samples',
      'model_name',
      'dataset_name',
      'specific_checkpoint',
      'lightweight',
      'extra',
    ]);
    if (fault === 'model_name' || fault === 'dataset_name') body[fault] = pick(BAD_NAMES);
    else if (fault === 'specific_checkpoint') body[fault] = pick(BAD_CHECKPOINTS);
    else if (fault === 'lightweight') body[fault] = pick(FLAGS_BAD);
    else if (fault === 'extra') body[`x${Math.floor(random() * 1e6)}`] = pick([...BAD_COUNTS, ...BAD_NAMES]);
    else body[fault] = pick(BAD_COUNTS);
    // Valid extras only where they do not overwrite the fault.
    if (fault !== 'lightweight' && random() < 0.5) body.lightweight = random() < 0.5;
    if (random() < 0.3) body.resume_from_checkpoint = random() < 0.5;
    const route = pick(['/api/train/start', '/api/train/resume']);
    out.push(json(`random ${route} ${JSON.stringify(body).slice(0, 80)}`, route, body));
  }

  for (const query of [
    'model_name=../../etc',
    'model_name=..',
    'model_name=%00',
    'model_name=a%00b',
    'model_name=%2e%2e%2f%2e%2e',
    'model_name=A',
    'model_name=',
    'model_name=a&model_name=b',
    'dataset_name=%F0%9F%98%80',
    'extra=1',
    '__proto__[x]=1',
    'constructor[prototype][x]=1',
    'model_name[]=a',
    `model_name=${'a'.repeat(200)}`,
    `model_name=${'a'.repeat(8000)}`,
    'model_name=%ZZ',
    'model_name=%',
  ]) {
    out.push({ label: `GET /api/checkpoints?${query.slice(0, 40)}`, method: 'GET', path: `/api/checkpoints?${query}` });
    out.push({
      label: `GET /api/metrics/history?${query.slice(0, 40)}`,
      method: 'GET',
      path: `/api/metrics/history?${query}`,
    });
  }
  for (const query of [
    'model_name=nope&dataset_name=nope',
    'model_name=Conformer&dataset_name=ljspeech',
    'model_name=conformer&dataset_name=..',
  ]) {
    out.push({ label: `GET /api/metrics/history?${query}`, method: 'GET', path: `/api/metrics/history?${query}` });
  }
  for (const [method, path] of [
    ['DELETE', '/api/train/start'],
    ['PUT', '/api/train/start'],
    ['PATCH', '/api/checkpoints'],
    ['GET', '/api/train/start'],
    ['GET', '/api/train/stop'],
    ['POST', '/api/checkpoints'],
    ['DELETE', '/api/checkpoints'],
    ['GET', '/api/nope'],
    ['GET', '/api/checkpoints/../../secret.txt'],
    ['GET', '/api/%2e%2e/%2e%2e/secret.txt'],
    ['GET', '/docs/static/..%2f..%2f..%2fsecret.txt'],
    ['GET', '/..%2f..%2fsecret.txt'],
    ['GET', '/api/train/status/%00'],
    ['OPTIONS', '/api/train/start'],
    ['GET', '/ws'],
    ['POST', '/ws'],
  ] as const) {
    out.push({ label: `${method} ${path}`, method, path });
  }
  // Stop with nothing running is a 409; with bad bodies it must still be a 4xx.
  out.push(raw('POST /api/train/stop malformed', '/api/train/stop', '{'));
  out.push(raw('POST /api/train/stop text/plain', '/api/train/stop', 'stop', 'text/plain'));
  out.push(json('POST /api/train/stop object', '/api/train/stop', { force: true }));
  out.push(raw('POST /api/train/stop 2 MB', '/api/train/stop', Buffer.alloc(2 * MB, 0x20)));
  // Transcribe with garbage audio (the folder holds a checkpoint, so the audio itself is judged).
  for (const [label, type, body] of [
    ['empty audio', 'audio/wav', Buffer.alloc(0)],
    ['RIFF garbage', 'audio/wav', Buffer.concat([Buffer.from('RIFF\xff\xff\xff\xffWAVEfmt '), Buffer.alloc(64, 0xff)])],
    ['random bytes', 'audio/wav', Buffer.from(Array.from({ length: 4096 }, () => Math.floor(random() * 256)))],
    ['truncated WAV header', 'audio/wav', Buffer.from('RIFF')],
    ['multipart without boundary', 'multipart/form-data', Buffer.from('--x\r\n\r\n')],
    [
      'multipart garbage',
      'multipart/form-data; boundary=zz',
      Buffer.from(
        '--zz\r\nContent-Disposition: form-data; name="a"; filename="../../x.wav"\r\n\r\nnot a wav\r\n--zz--\r\n',
      ),
    ],
    [
      'multipart no file',
      'multipart/form-data; boundary=zz',
      Buffer.from('--zz\r\nContent-Disposition: form-data; name="a"\r\n\r\nhello\r\n--zz--\r\n'),
    ],
    ['JSON instead of audio', 'application/json', Buffer.from('{"audio":"AAAA"}')],
  ] as const) {
    out.push({
      label: `POST /api/transcribe ${label}`,
      method: 'POST',
      path: '/api/transcribe',
      headers: { 'content-type': type },
      body,
    });
  }
  for (const query of [
    'checkpoint=../../secret.txt',
    'checkpoint=..',
    'checkpoint=secret.txt',
    'checkpoint=%00',
    'model_name=../x',
    'extra=1',
  ]) {
    out.push({
      label: `POST /api/transcribe?${query}`,
      method: 'POST',
      path: `/api/transcribe?${query}`,
      headers: { 'content-type': 'audio/wav' },
      body: Buffer.from('RIFF0000WAVE'),
    });
  }
  return out;
}

/** Protocol-level garbage written straight to the socket; the answer's status line and body. */
// prettier-ignore
const RAW_REQUESTS: Array<[string, string | Buffer]> = [
  ['path traversal', 'GET /../../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['traversal into docs', 'GET /docs/static/../../../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['absolute-form', 'GET http://evil/api/health/../../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['content-length too short', 'POST /api/train/start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{"model_name":"conformer"}'],
  ['content-length not a number', 'POST /api/train/start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}'],
  ['two content-lengths', 'POST /api/train/start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}'],
  ['bad chunked body', 'POST /api/train/start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n'],
  ['bad request line', 'GARBAGE\r\n\r\n'],
  ['binary junk', Buffer.from([0, 1, 2, 3, 255, 254, 13, 10, 13, 10])],
  ['oversized header', `GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`],
  ['oversized URL', `GET /api/checkpoints?model_name=${'a'.repeat(MB)} HTTP/1.1\r\nHost: x\r\n\r\n`],
  ['NUL in header', 'GET /api/health HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n'],
  ['unknown HTTP version', 'GET /api/health HTTP/9.9\r\nHost: x\r\n\r\n'],
];

function sendRaw(port: number, data: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const done = (): void => {
      socket.destroy();
      resolve(received);
    };
    socket.setTimeout(3000, done);
    socket.on('data', (chunk) => {
      received += String(chunk);
      // One response is enough; the connection may be kept open.
      const head = received.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(received.slice(0, head));
      if (head >= 0 && length && received.length >= head + 4 + Number(length[1])) done();
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.write(data);
  });
}

describe('hostile input', () => {
  let workspace: TestWorkspace;
  let server: TestServer;
  let before: Map<string, TreeEntry>;
  const seed = chaosSeed();

  beforeAll(async () => {
    workspace = makeWorkspace({ train: 8, val: 2, batchSize: 4, epochs: 1 });
    writeFileSync(join(workspace.root, 'secret.txt'), SECRET);
    server = await startServer(workspace);
    // A real checkpoint in the folder, so names that exist are among the targets.
    const run = await post(server.url, '/api/train/start', { ...VALID, epochs: 1 });
    expect(run.status).toBe(202);
    await server.app.supervisor.waitForExit();
    expect(server.app.supervisor.status().state, JSON.stringify(server.app.supervisor.status().error ?? {})).toBe(
      'completed',
    );
    cpSync(join(workspace.root, 'secret.txt'), join(workspace.root, 'data', 'secret.txt'));
    mkdirSync(join(workspace.root, 'empty-dir'));
    before = snapshotTree(workspace.root);
  });
  afterAll(async () => {
    await server?.close();
    workspace?.cleanup();
  });

  it('answers every generated request with a 4xx error in the API shape; no run starts; nothing outside the checkpoint folder changes', async () => {
    const attempts = generate(seededRandom(seed));
    const failures: string[] = [];
    const statuses: Record<number, number> = {};
    const port = Number(new URL(server.url).port);
    for (const attempt of attempts) {
      let status: number;
      let text: string;
      try {
        const response = await fetch(server.url + attempt.path, {
          method: attempt.method,
          headers: attempt.headers,
          body: typeof attempt.body === 'object' ? new Uint8Array(attempt.body) : attempt.body,
        });
        status = response.status;
        text = await response.text();
      } catch (err) {
        failures.push(`${attempt.label}: request failed (${(err as Error).message})`);
        continue;
      }
      statuses[status] = (statuses[status] ?? 0) + 1;
      let body: Record<string, unknown> | null = null;
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // reported below
      }
      if (status < 400 || status >= 500) failures.push(`${attempt.label}: status ${status} ${text.slice(0, 200)}`);
      else if (
        !body ||
        body.statusCode !== status ||
        typeof body.error !== 'string' ||
        typeof body.message !== 'string' ||
        typeof body.code !== 'string'
      ) {
        failures.push(`${attempt.label}: ${status} without the error shape: ${text.slice(0, 200)}`);
      }
      if (text.includes(SECRET))
        failures.push(`${attempt.label}: the answer holds a file from outside the checkpoint folder`);
      if (server.app.supervisor.isBusy()) {
        failures.push(`${attempt.label}: started a run`);
        server.app.supervisor.stop();
        await server.app.supervisor.waitForExit();
      }
    }
    for (const [label, data] of RAW_REQUESTS) {
      const answer = await sendRaw(port, data);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 0);
      statuses[status] = (statuses[status] ?? 0) + 1;
      const bodyText = answer.slice(answer.indexOf('\r\n\r\n') + 4);
      let body: Record<string, unknown> | null = null;
      try {
        body = JSON.parse(bodyText) as Record<string, unknown>;
      } catch {
        // reported below
      }
      if (status < 400 || status >= 500) failures.push(`raw ${label}: status ${status} ${answer.slice(0, 120)}`);
      else if (
        !body ||
        body.statusCode !== status ||
        typeof body.code !== 'string' ||
        typeof body.message !== 'string'
      ) {
        failures.push(`raw ${label}: ${status} without the error shape: ${JSON.stringify(bodyText.slice(0, 120))}`);
      }
      if (answer.includes(SECRET))
        failures.push(`raw ${label}: the answer holds a file from outside the checkpoint folder`);
    }

    if (failures.length > 0) console.log(`hostile input failures:\n${failures.join('\n')}`);
    const health = await get(server.url, '/api/health');
    expect(health.status).toBe(200);
    expect(failures, failures.join('\n')).toEqual([]);
    expect(server.app.supervisor.status().state).toBe('completed');
    expect(trainerPids(process.pid), 'a trainer process is running').toEqual([]);
    const changes = treeDiff(before, snapshotTree(workspace.root)).filter(
      (c) => !c.endsWith(' checkpoints') && !/ checkpoints\//.test(c),
    );
    recordFigures('hostile_input', {
      seed,
      http_requests: attempts.length,
      raw_protocol_requests: RAW_REQUESTS.length,
      statuses,
      failures: failures.length,
      files_watched: before.size,
    });
    console.log(
      `hostile input: ${attempts.length + RAW_REQUESTS.length} requests, statuses ${JSON.stringify(statuses)}`,
    );
    expect(changes).toEqual([]);
    expect(attempts.length + RAW_REQUESTS.length).toBeGreaterThanOrEqual(500);
  });

  it('survives garbage WebSocket frames and keeps serving other clients', async () => {
    const wsUrl = server.url.replace(/^http/, 'ws') + '/ws';
    const random = seededRandom(seed + 1);
    const frames: Array<string | Buffer> = [
      '',
      'null',
      '{',
      '{"type":"stop"}',
      '{"type":"start","payload":{"model_name":"conformer","dataset_name":"ljspeech"}}',
      '{"__proto__":{"x":1}}',
      'a'.repeat(60_000),
      '\u0000\u0001',
      '😀'.repeat(1000),
      Buffer.alloc(0),
      Buffer.from([0xff, 0xfe, 0xfd]),
      Buffer.alloc(50_000, 0x7b),
      ...Array.from({ length: 40 }, () =>
        Buffer.from(Array.from({ length: Math.floor(random() * 2000) }, () => Math.floor(random() * 256))),
      ),
    ];
    const observer = new WebSocket(wsUrl);
    await new Promise((r, j) => observer.once('open', r).once('error', j));
    let sent = 0;
    for (let round = 0; round < 3; round += 1) {
      const socket = new WebSocket(wsUrl);
      await new Promise((r, j) => socket.once('open', r).once('error', j));
      for (const frame of frames) {
        if (socket.readyState !== socket.OPEN) break;
        socket.send(frame);
        sent += 1;
      }
      // Over maxPayload: the server must close this client (1009), not fall over.
      const closed = new Promise<number>((r) => socket.once('close', (code) => r(code)));
      socket.send(Buffer.alloc(200_000, 0x61));
      sent += 1;
      expect(await closed).toBe(1009);
    }
    // Frames with reserved bits, bad opcodes and unmasked payloads, written raw after the upgrade.
    const port = Number(new URL(server.url).port);
    const rawFrames = [
      Buffer.from([0xf1, 0x80, 0, 0, 0, 0]),
      Buffer.from([0x83, 0x80, 0, 0, 0, 0]),
      Buffer.from([0x81, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f]),
      Buffer.from([0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    ];
    for (const frame of rawFrames) {
      const upgrade = `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
      const answer = await new Promise<string>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        let received = '';
        socket.setTimeout(3000, () => socket.destroy());
        socket.on('data', (chunk) => {
          received += chunk.toString('latin1');
          if (received.includes('\r\n\r\n') && !received.includes('__sent')) {
            received += '__sent';
            socket.write(frame);
          }
        });
        socket.on('close', () => resolve(received));
        socket.on('error', () => undefined);
        socket.write(upgrade);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 101/);
      sent += 1;
    }
    await sleep(200);
    expect(observer.readyState).toBe(observer.OPEN);
    expect((await get(server.url, '/api/health')).status).toBe(200);
    expect(server.app.supervisor.isBusy()).toBe(false);
    observer.close();
    recordFigures('hostile_input', { websocket_frames: sent });
  });

  it('with an API token set, every request with a missing or wrong token gets the 401 error shape and starts nothing', async () => {
    const guarded = await startServer(workspace, { apiToken: 'chaos-token' });
    const failures: string[] = [];
    let tried = 0;
    try {
      const headers: Array<Record<string, string>> = [
        {},
        { authorization: '' },
        { authorization: 'Bearer' },
        { authorization: 'Bearer ' },
        // (A trailing space is not a wrong token: HTTP strips whitespace around header values.)
        { authorization: 'Bearer chaos-tokenX' },
        { authorization: 'Bearer CHAOS-TOKEN' },
        { authorization: 'bearer chaos' },
        { authorization: 'Basic Y2hhb3M6dG9rZW4=' },
        { authorization: 'Token chaos-token' },
        { authorization: 'Bearer chaos-token, Bearer chaos-token' },
        { authorization: `Bearer ${'a'.repeat(8000)}` },
        { authorization: 'Bearer %00' },
        { 'x-api-token': 'chaos-token' },
      ];
      const targets: Array<[string, string, string | undefined]> = [
        ['POST', '/api/train/start', JSON.stringify(VALID)],
        ['POST', '/api/train/resume', JSON.stringify(VALID)],
        ['POST', '/api/train/stop', undefined],
        ['GET', '/api/train/status', undefined],
        ['GET', '/api/checkpoints', undefined],
        ['GET', '/api/metrics/history?model_name=conformer&dataset_name=ljspeech', undefined],
      ];
      for (const h of headers) {
        for (const [method, path, body] of targets) {
          tried += 1;
          const response = await fetch(guarded.url + path, {
            method,
            headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...h },
            body,
          });
          const text = await response.text();
          let parsed: Record<string, unknown> | null = null;
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // reported below
          }
          if (response.status !== 401 || parsed?.code !== 'E_UNAUTHORIZED' || parsed?.statusCode !== 401) {
            failures.push(
              `${method} ${path} ${JSON.stringify(h).slice(0, 60)}: ${response.status} ${text.slice(0, 120)}`,
            );
          }
        }
      }
      for (const h of headers.slice(0, 6)) {
        tried += 1;
        const refused = await new Promise<number>((resolve) => {
          const socket = new WebSocket(guarded.url.replace(/^http/, 'ws') + '/ws', { headers: h });
          socket.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
          socket.once('open', () => {
            socket.close();
            resolve(101);
          });
          socket.once('error', () => resolve(0));
        });
        if (refused !== 401) failures.push(`/ws ${JSON.stringify(h)}: ${refused}`);
      }
      expect(guarded.app.supervisor.isBusy()).toBe(false);
    } finally {
      await guarded.close();
    }
    recordFigures('hostile_input', { unauthorized_requests: tried });
    expect(failures, failures.join('\n')).toEqual([]);
  });
});

/**
 * What the chaos tests share beyond test/server's fixtures: a server as a real child process, the
 * processes under it (/proc), and checks that every checkpoint listed valid really is (sha256, addon,
 * Python torch.load).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CheckpointStore, parseSidecar, sha256File, sidecarName } from '../../src/checkpoints/index.js';
import type { CheckpointEntry } from '../../src/contract/index.js';
import { loadNative, type Trainer } from '../../src/native/index.js';
import { seededRandom } from '../helpers/random.js';

/** A failing chaos run is repeated with its printed seed. */
export { seededRandom };

export const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** The tiny network of test/helpers/workspace.ts (its 'guide' names). */
export const TINY = { d_model: 32, num_layers: 2, num_heads: 2, ffn_dim: 64, conv_kernel: 7, dropout: 0.1 };

export function chaosSeed(): number {
  const fromEnv = Number(process.env.CHAOS_SEED);
  return Number.isSafeInteger(fromEnv) && fromEnv > 0 ? fromEnv : Math.floor(Math.random() * 2 ** 31) + 1;
}

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  wsUrl: string;
  /** The last lines it printed (for failure messages). */
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL to its process group: the server and the trainer it forked die at the same instant. */
  killGroup(): void;
}

/** `src/server/serve-main.ts --config …` in its own process group; resolves once it listens. */
export async function spawnServer(
  configPath: string,
  options: { env?: NodeJS.ProcessEnv; fileSizeLimitKiB?: number } = {},
): Promise<ServerProcess> {
  const args = ['--import', tsx, 'src/server/serve-main.ts', '--config', configPath];
  // `ulimit -f` with SIGXFSZ ignored (kept across exec): a write past the limit fails with EFBIG instead of killing.
  const [command, commandArgs] =
    options.fileSizeLimitKiB === undefined
      ? [process.execPath, args]
      : [
          'bash',
          ['-c', `trap '' XFSZ; ulimit -f ${options.fileSizeLimitKiB}; exec "$0" "$@"`, process.execPath, ...args],
        ];
  const child = spawn(command, commandArgs, {
    cwd: REPO,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  const output: string[] = [];
  const remember = (chunk: Buffer): void => {
    output.push(...String(chunk).split('\n').filter(Boolean));
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  child.stderr!.on('data', remember);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('exit', (code, signal) => r({ code, signal })),
  );
  const url = await new Promise<string>((resolveUrl, reject) => {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      remember(chunk);
      buffered += String(chunk);
      const match = /asr-trainer API on (http:\/\/[^ ]+)/.exec(buffered);
      if (match) resolveUrl(match[1]!);
    });
    void exited.then((e) =>
      reject(new Error(`server exited (${e.code ?? e.signal}) before listening:\n${output.join('\n')}`)),
    );
  });
  return {
    child,
    pid: child.pid!,
    url,
    wsUrl: `${url.replace(/^http/, 'ws')}/ws`,
    output,
    exited,
    killGroup: () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}

/** Pids whose parent is `pid`, from /proc. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (ppid) follows the command name, which sits in parentheses and may hold spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** Trainer processes (src/training/child.ts) forked by `serverPid` and still alive (zombies excluded). */
export function trainerPids(serverPid: number): number[] {
  return childPids(serverPid).filter((pid) => cmdline(pid).includes('training/child.') && !isZombie(pid));
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

export function isAlive(pid: number): boolean {
  return existsSync(`/proc/${pid}`) && !isZombie(pid);
}

/** Resident set size in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/**
 * Loads checkpoints into a real addon Trainer of the tiny model, the way a resume does; each file's
 * content (sha256) is loaded once.
 */
export class AddonLoader {
  private trainer: Trainer | null = null;
  private readonly loaded = new Set<string>();
  count = 0;

  async load(path: string, sha256: string): Promise<void> {
    if (this.loaded.has(sha256)) return;
    this.trainer ??= new (loadNative().Trainer)(TINY, { threads: 1, seed: 0 });
    await this.trainer.load(path);
    this.loaded.add(sha256);
    this.count += 1;
  }
}

export interface FolderCheck {
  valid: CheckpointEntry[];
  invalid: CheckpointEntry[];
}

/**
 * Every checkpoint the store lists as valid has a sidecar whose sha256 and size match the file, and
 * loads in the addon. Throws naming the first that does not.
 */
export async function checkFolder(dir: string, loader: AddonLoader): Promise<FolderCheck> {
  const entries = await new CheckpointStore({ dir, log: () => undefined }).list();
  const valid = entries.filter((e) => e.valid);
  for (const entry of valid) {
    const path = join(dir, entry.name);
    let sidecarText: string;
    let actual: { sha256: string; size: number };
    try {
      sidecarText = readFileSync(join(dir, sidecarName(entry.name)), 'utf8');
      actual = await sha256File(path);
    } catch (err) {
      // Retention may delete a file between the listing and the read (a live trainer commits meanwhile).
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    const check = parseSidecar(sidecarText);
    if (!check.ok) throw new Error(`${entry.name} is listed valid but its sidecar does not parse: ${check.problem}`);
    if (check.sidecar.sha256 !== actual.sha256 || check.sidecar.size !== actual.size) {
      throw new Error(
        `${entry.name} is listed valid but its content differs from its sidecar (a partial or damaged file)`,
      );
    }
    try {
      await loader.load(path, actual.sha256);
    } catch (err) {
      throw new Error(`${entry.name} is listed valid but the addon cannot load it: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  return { valid, invalid: entries.filter((e) => !e.valid) };
}

/** Copies a checkpoint aside (retention may delete the original) for the Python sample. */
export function keepCopy(dir: string, name: string, into: string, as: string): string | null {
  try {
    copyFileSync(join(dir, name), join(into, as));
    return join(into, as);
  } catch {
    return null;
  }
}

/** Loads each file with Debian's torch (/usr/bin/python3) and returns what it read, or throws with its stderr. */
export function pythonTorchLoad(paths: string[]): Array<{ path: string; global_step: number; model_tensors: number }> {
  if (paths.length === 0) return [];
  const script = [
    'import json, sys, torch',
    'out = []',
    'for p in sys.argv[1:]:',
    '    d = torch.load(p, map_location="cpu")',
    '    out.append({"path": p, "global_step": int(d["global_step"]), "model_tensors": len(d["model"])})',
    'print(json.dumps(out))',
  ].join('\n');
  const result = spawnSync('/usr/bin/python3', ['-c', script, ...paths], { encoding: 'utf8', timeout: 120_000 });
  if (result.status !== 0) throw new Error(`python torch.load failed (${result.status}): ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as Array<{
    path: string;
    global_step: number;
    model_tensors: number;
  }>;
}

export interface TreeEntry {
  type: 'file' | 'dir' | 'link' | 'other';
  size: number;
  mtimeMs: number;
  ino: number;
  link?: string;
}

/** Every path under `root` (relative) with its type, size, mtime and inode; `skip` prunes subtrees. */
export function snapshotTree(root: string, skip: (relative: string) => boolean = () => false): Map<string, TreeEntry> {
  const out = new Map<string, TreeEntry>();
  const walk = (relative: string): void => {
    for (const name of readdirSync(join(root, relative))) {
      const rel = relative ? `${relative}/${name}` : name;
      if (skip(rel)) continue;
      const stats = lstatSync(join(root, rel));
      const type = stats.isFile() ? 'file' : stats.isDirectory() ? 'dir' : stats.isSymbolicLink() ? 'link' : 'other';
      out.set(rel, {
        type,
        size: type === 'dir' ? 0 : stats.size,
        mtimeMs: type === 'dir' ? 0 : stats.mtimeMs,
        ino: stats.ino,
        ...(type === 'link' ? { link: readlinkSync(join(root, rel)) } : {}),
      });
      if (type === 'dir') walk(rel);
    }
  };
  walk('');
  return out;
}

/** Paths created, removed or changed between two snapshots. */
export function treeDiff(before: Map<string, TreeEntry>, after: Map<string, TreeEntry>): string[] {
  const changes: string[] = [];
  for (const [path, entry] of after) {
    const old = before.get(path);
    if (!old) changes.push(`created ${path}`);
    else if (JSON.stringify(old) !== JSON.stringify(entry)) changes.push(`changed ${path}`);
  }
  for (const path of before.keys()) if (!after.has(path)) changes.push(`removed ${path}`);
  return changes;
}

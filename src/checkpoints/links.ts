/**
 * The `…-latest.pt` and `…-best.pt` symlinks: pointing them after a commit, reading where they point,
 * and telling when one cannot be followed. Resume never follows a link to find the newest checkpoint;
 * links are for people and for naming a checkpoint by role.
 */
import { realpath, unlink } from 'node:fs/promises';
import path from 'node:path';
import { fsyncDir, readNames, readlinkOrNull, replaceSymlink } from './files.js';
import { LINK_ROLES, linkName, parseLinkName, type LinkRole } from './names.js';
import { isTrainingSave, scanPair, validateFilter, type ListFilter, type Scanned } from './scan.js';
import { valCer } from './sidecar.js';
import type { BrokenLink } from '../contract/index.js';
import type { Log } from '../log.js';
import { hashProblem } from './verify.js';

/** Why a link of the folder cannot be followed (dangling, or leading out of the folder); null when it can or is absent. */
export async function linkProblem(dir: string, link: string): Promise<string | null> {
  const target = await readlinkOrNull(path.join(dir, link));
  if (target === null) return null;
  let real: string;
  try {
    real = await realpath(path.join(dir, link));
  } catch {
    return `it points at '${target}', which does not exist`;
  }
  if (path.dirname(real) !== (await realpath(dir))) return `it points at '${target}', outside the checkpoint folder`;
  return null;
}

/** Where the pair's links point, as written; absent links are left out. */
export async function linkTargets(dir: string, model: string, dataset: string): Promise<string[]> {
  const targets: string[] = [];
  for (const role of LINK_ROLES) {
    const target = await readlinkOrNull(path.join(dir, linkName(model, dataset, role)));
    if (target !== null) targets.push(target);
  }
  return targets;
}

/** The links of the filter's pairs that cannot be followed, see linkProblem(). */
export async function brokenLinks(dir: string, filter: ListFilter): Promise<BrokenLink[]> {
  validateFilter(filter);
  const out: BrokenLink[] = [];
  for (const name of await readNames(dir)) {
    const link = parseLinkName(name);
    if (link === null) continue;
    if (filter.model !== undefined && !link.prefix.startsWith(`${filter.model}-`)) continue;
    if (filter.dataset !== undefined && !link.prefix.endsWith(`-${filter.dataset}`)) continue;
    const problem = await linkProblem(dir, name);
    if (problem !== null)
      out.push({ name, target: (await readlinkOrNull(path.join(dir, name))) ?? '', valid: false, problem });
  }
  return out;
}

/**
 * Points `latest` at the newest valid training save and `best` at the lowest val CER (an average's
 * included: its CER is measured on the same validation split), hashing any target
 * but the one just committed (`verified`, hashed by the commit).
 */
export async function updateLinks(
  dir: string,
  log: Log,
  model: string,
  dataset: string,
  verified: { name: string; sha256: string },
): Promise<{ latest: string | null; best: string | null }> {
  const valid = (await scanPair(dir, model, dataset)).filter((s) => s.entry.valid);
  const verify = async (s: Scanned): Promise<boolean> => {
    if (s.entry.name === verified.name && s.sidecar?.sha256 === verified.sha256) return true;
    const problem = await hashProblem(dir, s);
    if (problem !== null) log('warning', `Checkpoint '${s.entry.name}' is not linked: ${problem}`);
    return problem === null;
  };
  const pick = async (ranked: Scanned[]): Promise<Scanned | null> => {
    for (const s of ranked) if (await verify(s)) return s;
    return null;
  };
  const latest = await pick(valid.filter(isTrainingSave));
  // Equal CERs: the newer wins (`valid` is newest first and the sort is stable).
  const ranked = valid
    .filter((s) => valCer(s.entry.metrics) !== null)
    .sort((a, b) => valCer(a.entry.metrics)! - valCer(b.entry.metrics)!);
  const best = await pick(ranked);
  return {
    latest: await pointLink(dir, model, dataset, 'latest', latest?.entry.name ?? null),
    best: await pointLink(dir, model, dataset, 'best', best?.entry.name ?? null),
  };
}

async function pointLink(
  dir: string,
  model: string,
  dataset: string,
  role: LinkRole,
  target: string | null,
): Promise<string | null> {
  const linkPath = path.join(dir, linkName(model, dataset, role));
  const current = await readlinkOrNull(linkPath);
  if (target === null) {
    // No valid target: a link to a file that is gone or invalid must not stay.
    if (current !== null) {
      await unlink(linkPath);
      await fsyncDir(dir);
    }
    return null;
  }
  if (current !== target) await replaceSymlink(linkPath, target);
  return target;
}

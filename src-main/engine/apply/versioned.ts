/**
 * Plans a versioned apply: the new tree is staged whole into `versions/.<v>.upkeep-<opid>/`
 * (unchanged files hard-linked from the previous version dir when possible, else copied),
 * renamed to `versions/<v>`, then `current` is switched atomically (new symlink at a temp name
 * renamed over `current`). The rollback point keeps the old version directory; version dirs no
 * longer referenced by `current` or any point are pruned after the commit. `versions/` is
 * owned by Upkeep.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { OperationError, VerificationError } from '../../../src-shared/errors';
import type { Installed } from './installed';
import type { Journal, StageItem } from './journal';
import type { ApplyOutcome } from './plan';
import { assertTreeShape, missingDirs, recordOf } from './plan';
import type { InPlaceInputs } from './in-place';
import type { RollbackPoint } from './points';
import { pointDir, scanPoints } from './points';
import { assertSafePaths, diskState, isCode, lexists, rmrf, under } from './tree';

export const VERSIONS_DIR = 'versions';
export const CURRENT_LINK = 'current';

/** Reads the `current` link (null when absent); refuses anything that is not a symlink. */
export async function readCurrent(installDir: string): Promise<string | null> {
  const p = path.join(installDir, CURRENT_LINK);
  try {
    const st = await fsp.lstat(p);
    if (!st.isSymbolicLink()) throw new VerificationError('ERR_UNSAFE_PATH', `${p} exists and is not a symlink; refusing to replace it`, { path: CURRENT_LINK });
    return await fsp.readlink(p);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return null;
    throw err;
  }
}

/** A link target as a path relative to the install dir (e.g. `versions/1.2.0`), or null if outside. */
export function linkToRel(installDir: string, target: string | null): string | null {
  if (target === null) return null;
  const rel = path.relative(installDir, path.resolve(installDir, target));
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return null;
  return rel.split(path.sep).join('/');
}

function assertVersionDirName(v: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._+~-]{0,127}$/.test(v)) {
    throw new VerificationError('ERR_UNSAFE_PATH', `version ${JSON.stringify(v)} cannot name a directory`, { version: v });
  }
}

/** Builds the journal of a versioned apply without changing anything on disk. */
export async function planVersioned(inp: InPlaceInputs): Promise<{ journal: Journal; outcome: ApplyOutcome }> {
  const { plan, installed, rollbackId } = inp;
  if (installed && installed.layout !== 'versioned') {
    throw new OperationError('ERR_APPLY_FAILED', `target ${plan.target} is installed with layout ${installed.layout}; switching layouts is not supported`);
  }
  assertVersionDirName(plan.toVersion);
  assertTreeShape(plan.files);
  await assertSafePaths(plan.installDir, [VERSIONS_DIR, CURRENT_LINK]);
  const installDir = plan.installDir;
  const versionsDir = path.join(installDir, VERSIONS_DIR);
  const oldLink = await readCurrent(installDir);
  const prevRel = linkToRel(installDir, oldLink);

  let finalName = plan.toVersion;
  if (await lexists(path.join(versionsDir, finalName))) finalName = `${plan.toVersion}+${plan.opId}`;
  const stageDir = path.join(versionsDir, `.${finalName}.upkeep-${plan.opId}`);
  const finalDir = path.join(versionsDir, finalName);

  const prevFiles = new Map((installed?.files ?? []).map((f) => [f.path, f]));
  const stage: StageItem[] = [];
  const updated: string[] = [];
  for (const f of [...plan.files].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    if (f.target !== undefined) {
      stage.push({ path: under(stageDir, f.path), source: '', sha256: '', size: 0, mode: 0, link: false, symlink: f.target });
      if (prevFiles.get(f.path)?.target !== f.target) updated.push(f.path);
      continue;
    }
    const prev = prevFiles.get(f.path);
    let source = f.source;
    let link = false;
    if (prevRel && prev && prev.sha256 === f.sha256 && prev.mode === (f.mode & 0o7777)) {
      const candidate = under(path.join(installDir, prevRel), f.path);
      const disk = await diskState(candidate);
      if (disk.kind === 'file' && disk.sha256 === f.sha256 && disk.mode === (f.mode & 0o7777)) {
        source = candidate;
        link = true;
      }
    }
    if (!link) updated.push(f.path);
    stage.push({ path: under(stageDir, f.path), source, sha256: f.sha256, size: f.size, mode: f.mode & 0o7777, link });
  }
  const newPaths = new Set(plan.files.map((f) => f.path));
  const removed = [...prevFiles.keys()].filter((p) => !newPaths.has(p)).sort();

  const createdAt = inp.now.toISOString();
  const after: Installed = {
    version: plan.toVersion,
    layout: 'versioned',
    files: plan.files.map(recordOf).sort((a, b) => (a.path < b.path ? -1 : 1)),
    version_dir: `${VERSIONS_DIR}/${finalName}`,
    installed_at: createdAt,
  };
  const before: Installed | null = installed ? { ...installed, ...(prevRel ? { version_dir: prevRel } : {}) } : null;
  const point: Omit<RollbackPoint, 'size_bytes'> = {
    rollback_id: rollbackId,
    target: plan.target,
    from_version: installed?.version ?? null,
    to_version: plan.toVersion,
    created_at: createdAt,
    files: installed?.files.length ?? 0,
    seq: inp.seq,
    layout: 'versioned',
    before,
    backed_up: [],
    displaced: [],
    kept_version_dir: prevRel,
  };
  const journal: Journal = {
    v: 1,
    op_id: plan.opId,
    kind: 'apply',
    target: plan.target,
    layout: 'versioned',
    install_dir: installDir,
    state_dir: plan.stateDir,
    points_dir: plan.pointsDir,
    phase: 'staging',
    created_at: createdAt,
    before: installed,
    after,
    stage,
    mkdirs: await missingDirs(versionsDir),
    scratch: [stageDir],
    ops: [
      { t: 'rename', from: stageDir, to: finalDir },
      { t: 'link', path: path.join(installDir, CURRENT_LINK), old: oldLink, new: `${VERSIONS_DIR}/${finalName}`, tmp: path.join(installDir, `.${CURRENT_LINK}.upkeep-${plan.opId}`) },
    ],
    backup_dir: pointDir(plan.pointsDir, rollbackId),
    point,
    consume: [],
    removed: [],
    retention: plan.retention,
  };
  return { journal, outcome: { rollbackId, filesUpdated: updated, filesRemoved: removed, fromVersion: installed?.version ?? null, localCopies: [] } };
}

/**
 * Deletes version directories that neither `current` nor any kept point references, and
 * leftover staging dirs (`versions/.*`). Call only with no operation in flight on the target.
 * Returns the names removed. While a point's `point.json` cannot be read (a rollback to a newer
 * point may still commit) nothing is removed: the version that point keeps is not known.
 */
export async function pruneVersions(installDir: string, pointsDir: string): Promise<string[]> {
  const { points, damaged } = await scanPoints(pointsDir);
  if (damaged.length > 0) return [];
  const versionsDir = path.join(installDir, VERSIONS_DIR);
  let names: string[];
  try {
    names = await fsp.readdir(versionsDir);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return [];
    throw err;
  }
  const referenced = new Set<string>();
  let cur: string | null = null;
  try {
    cur = await fsp.readlink(path.join(installDir, CURRENT_LINK));
  } catch {
    cur = null;
  }
  const curRel = linkToRel(installDir, cur);
  if (curRel) referenced.add(curRel);
  for (const p of points) if (p.kept_version_dir) referenced.add(p.kept_version_dir);
  const gone: string[] = [];
  for (const n of names) {
    if (referenced.has(`${VERSIONS_DIR}/${n}`)) continue;
    await rmrf(path.join(versionsDir, n));
    gone.push(n);
  }
  return gone;
}

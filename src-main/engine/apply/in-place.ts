/**
 * Plans an in-place apply: new and changed files are staged next to their destinations
 * (`<dir>/.<name>.upkeep-<opid>`, same filesystem); the current files are moved (renamed, O(1))
 * into the rollback point's `files/`; staged files are renamed into place; files the old
 * release managed and the new one does not are moved into the point. Unchanged files (same
 * bytes and mode on disk) are not touched, and files Upkeep never managed are never touched
 * unless the new release puts a file at their path (then they are kept in the point as
 * `displaced` and come back on rollback).
 */
import path from 'node:path';
import { OperationError } from '../../../src-shared/errors';
import type { Installed } from './installed';
import type { Journal, JournalOp, StageItem } from './journal';
import type { ApplyOutcome, ApplyPlan } from './plan';
import { assertTreeShape, missingDirs, recordOf, stageName } from './plan';
import type { RollbackPoint } from './points';
import { pointDir } from './points';
import type { FileRecord } from './tree';
import { assertSafePaths, diskState, IO_CONCURRENCY, mapLimit, under } from './tree';

export interface InPlaceInputs {
  plan: ApplyPlan;
  installed: Installed | null;
  rollbackId: string;
  seq: number;
  now: Date;
}

/** Builds the journal of an in-place apply without changing anything on disk. */
export async function planInPlace(inp: InPlaceInputs): Promise<{ journal: Journal; outcome: ApplyOutcome }> {
  const { plan, installed, rollbackId } = inp;
  if (installed && installed.layout !== 'in-place') {
    throw new OperationError('ERR_APPLY_FAILED', `target ${plan.target} is installed with layout ${installed.layout}; switching layouts is not supported`);
  }
  assertTreeShape(plan.files);
  const oldFiles = new Map((installed?.files ?? []).map((f) => [f.path, f]));
  const newPaths = new Set(plan.files.map((f) => f.path));
  const removedPaths = [...oldFiles.keys()].filter((p) => !newPaths.has(p)).sort();
  await assertSafePaths(plan.installDir, [...plan.files.map((f) => f.path), ...removedPaths]);

  const backupDir = pointDir(plan.pointsDir, rollbackId);
  const filesDir = path.join(backupDir, 'files');
  const stage: StageItem[] = [];
  const ops: JournalOp[] = [];
  const mkdirs: string[] = [];
  const mkdirSet = new Set<string>();
  const existing = new Set<string>();
  const backedUp: FileRecord[] = [];
  const displaced: FileRecord[] = [];
  const observed: FileRecord[] = [];
  const updated: string[] = [];

  for (const dir of await missingDirs(plan.installDir)) {
    if (mkdirSet.has(dir)) continue;
    mkdirSet.add(dir);
    mkdirs.push(dir);
  }

  const sorted = [...plan.files].sort((a, b) => (a.path < b.path ? -1 : 1));
  const states = await mapLimit(sorted, IO_CONCURRENCY, (f) => diskState(under(plan.installDir, f.path)));
  for (const [i, f] of sorted.entries()) {
    const dest = under(plan.installDir, f.path);
    const disk = states[i];
    const managed = oldFiles.has(f.path);
    if (disk.kind === 'file' && managed) observed.push({ path: f.path, sha256: disk.sha256, size: disk.size, mode: disk.mode });
    if (disk.kind === 'file' && disk.sha256 === f.sha256 && disk.mode === (f.mode & 0o7777)) continue; // unchanged
    if (disk.kind === 'other' && disk.type === 'dir') {
      throw new OperationError('ERR_APPLY_FAILED', `cannot install ${f.path}: a directory is in the way`, { path: f.path });
    }
    for (const dir of await missingDirs(path.dirname(dest), existing)) {
      if (mkdirSet.has(dir)) continue;
      mkdirSet.add(dir);
      mkdirs.push(dir);
    }
    const tmp = stageName(dest, plan.opId);
    stage.push({ path: tmp, source: f.source, sha256: f.sha256, size: f.size, mode: f.mode & 0o7777, link: false });
    if (disk.kind !== 'missing') {
      ops.push({ t: 'rename', from: dest, to: under(filesDir, f.path) });
      if (disk.kind === 'file') (managed ? backedUp : displaced).push({ path: f.path, sha256: disk.sha256, size: disk.size, mode: disk.mode });
    }
    ops.push({ t: 'rename', from: tmp, to: dest });
    updated.push(f.path);
  }

  const removed: string[] = [];
  const removedStates = await mapLimit(removedPaths, IO_CONCURRENCY, (rel) => diskState(under(plan.installDir, rel)));
  for (const [i, rel] of removedPaths.entries()) {
    const dest = under(plan.installDir, rel);
    const disk = removedStates[i];
    if (disk.kind === 'missing' || (disk.kind === 'other' && disk.type === 'dir')) continue;
    ops.push({ t: 'rename', from: dest, to: under(filesDir, rel) });
    if (disk.kind === 'file') {
      const rec = { path: rel, sha256: disk.sha256, size: disk.size, mode: disk.mode };
      backedUp.push(rec);
      observed.push(rec);
    }
    removed.push(rel);
  }

  const createdAt = inp.now.toISOString();
  const before: Installed | null = installed ? { ...installed, files: observed.sort((a, b) => (a.path < b.path ? -1 : 1)) } : null;
  const after: Installed = {
    version: plan.toVersion,
    layout: 'in-place',
    files: plan.files.map(recordOf).sort((a, b) => (a.path < b.path ? -1 : 1)),
    installed_at: createdAt,
  };
  const point: Omit<RollbackPoint, 'size_bytes'> = {
    rollback_id: rollbackId,
    target: plan.target,
    from_version: installed?.version ?? null,
    to_version: plan.toVersion,
    created_at: createdAt,
    files: backedUp.length + displaced.length,
    seq: inp.seq,
    layout: 'in-place',
    before,
    backed_up: [...backedUp, ...displaced],
    displaced,
    kept_version_dir: null,
  };
  const journal: Journal = {
    v: 1,
    op_id: plan.opId,
    kind: 'apply',
    target: plan.target,
    layout: 'in-place',
    install_dir: path.resolve(plan.installDir),
    state_dir: path.resolve(plan.stateDir),
    points_dir: path.resolve(plan.pointsDir),
    phase: 'staging',
    created_at: createdAt,
    before: installed,
    after,
    stage,
    mkdirs,
    scratch: [],
    ops,
    backup_dir: backupDir,
    point,
    consume: [],
    removed,
    retention: plan.retention,
  };
  return { journal, outcome: { rollbackId, filesUpdated: updated, filesRemoved: removed, fromVersion: installed?.version ?? null } };
}

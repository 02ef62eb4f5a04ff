/**
 * Plans an in-place apply: new and changed entries are staged next to their destinations
 * (`<dir>/.<name>.upkeep-<opid>`, same filesystem); the current entries are moved (renamed,
 * O(1)) into the rollback point's `files/`; staged entries are renamed into place; entries the
 * old release managed and the new one does not are moved into the point. Unchanged files (same
 * bytes and mode on disk) are not touched, and files Upkeep never managed are never touched
 * unless the new release puts an entry at their path (then they are kept in the point as
 * `displaced` and come back on rollback). Type changes, case-only renames and local edits are
 * planned by switch-plan.ts.
 */
import path from 'node:path';
import { OperationError } from '../../../src-shared/errors';
import type { Installed } from './installed';
import type { Journal } from './journal';
import type { ApplyOutcome, ApplyPlan } from './plan';
import { assertTreeShape, missingDirs, recordOf } from './plan';
import type { RollbackPoint } from './points';
import { pointDir } from './points';
import { planSwitch, probeVolume } from './switch-plan';
import { Fingerprints, FINGERPRINTS_FILE } from './fingerprints';
import type { FingerprintPlan } from './transaction';

export interface InPlaceInputs {
  plan: ApplyPlan;
  installed: Installed | null;
  rollbackId: string;
  seq: number;
  now: Date;
}

/** Builds the journal of an in-place apply without changing anything on disk. */
export async function planInPlace(inp: InPlaceInputs): Promise<{ journal: Journal; outcome: ApplyOutcome; fingerprints: FingerprintPlan }> {
  const { plan, installed, rollbackId } = inp;
  if (installed && installed.layout !== 'in-place') {
    throw new OperationError('ERR_APPLY_FAILED', `target ${plan.target} is installed with layout ${installed.layout}; switching layouts is not supported`);
  }
  assertTreeShape(plan.files);
  const backupDir = pointDir(plan.pointsDir, rollbackId);
  const fingerprintsFile = path.join(plan.stateDir, FINGERPRINTS_FILE);
  const sw = await planSwitch({
    installDir: plan.installDir,
    opId: plan.opId,
    backupFilesDir: path.join(backupDir, 'files'),
    recorded: installed?.files ?? [],
    want: plan.files.map((f) => ({ ...recordOf(f), ...(f.target === undefined ? { source: f.source, linkable: f.linkable === true } : {}) })),
    fingerprints: installed?.layout === 'in-place' ? await Fingerprints.read(fingerprintsFile) : new Fingerprints(),
    ...(await probeVolume(plan.installDir)),
    onLocalChange: plan.onLocalChange ?? 'keep',
    now: inp.now,
  });
  const mkdirs = [...(await missingDirs(plan.installDir)), ...sw.mkdirs.filter((d) => d !== path.resolve(plan.installDir))];

  const createdAt = inp.now.toISOString();
  const before: Installed | null = installed ? { ...installed, files: sw.observed } : null;
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
    files: sw.backedUp.length + sw.displaced.length,
    seq: inp.seq,
    layout: 'in-place',
    before,
    backed_up: [...sw.backedUp, ...sw.displaced],
    displaced: sw.displaced,
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
    stage: sw.stage,
    mkdirs: [...new Set(mkdirs)],
    scratch: sw.scratch,
    ops: sw.ops,
    backup_dir: backupDir,
    point,
    consume: [],
    removed: sw.removed,
    retention: plan.retention,
  };
  const fingerprints: FingerprintPlan = { installFile: fingerprintsFile, install: sw.expectInstall, pointFile: path.join(backupDir, FINGERPRINTS_FILE), point: sw.expectBackup };
  return { fingerprints, journal, outcome: { rollbackId, filesUpdated: sw.updated, filesRemoved: sw.removed, fromVersion: installed?.version ?? null, localCopies: sw.localCopies } };
}

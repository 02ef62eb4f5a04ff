/**
 * The apply engine for `files` targets: journaled, crash-safe apply of a verified release,
 * rollback points, rollback and recovery. See journal.ts for the crash-safety argument.
 */
import path from 'node:path';
import { readInstalled } from './installed';
import type { ApplyOutcome, ApplyPlan } from './plan';
import { assertInstallDirIsDir, assertOpId, assertReleasePathsNotReserved } from './plan';
import { planInPlace } from './in-place';
import { newRollbackId, nextSeq, pointDir } from './points';
import { assertRecovered, settleUnrecorded, unfinishedUndoError } from './recover';
import type { ApplyHooks } from './transaction';
import { executeTransaction, spaceNeeded } from './transaction';
import { assertFreeSpace } from '../fs/space';
import { assertInstallDirSafe } from '../fs/strict-modes';
import { lexists } from './tree';
import { planVersioned, VERSIONS_DIR } from './versioned';
import { assertJournalFits, assertTreeFits, mapNameTooLong } from './path-limit';
import { systemClock } from '../clock';

export type { ApplyOutcome, ApplyPlan, PlannedFile } from './plan';
export { defaultMode } from './plan';
export type { ApplyHooks, ApplyPhase, ApplyProgress } from './transaction';
export type { Installed, Layout } from './installed';
export { readInstalled, readInstalledVersion, writeInstalled } from './installed';
export type { RollbackPoint } from './points';
export { listPoints, prunePoints, deletePoint, newRollbackId } from './points';
export { rollbackToPoint } from './restore';
export type { RollbackOptions, RollbackOutcome } from './restore';
export { recover, recoveryPending, unfinishedUndoError } from './recover';
export type { RecoverResult } from './recover';
export { pruneVersions } from './versioned';
export type { FileRecord } from './tree';

/**
 * Applies a verified release to a `files` target: afterwards the install dir holds exactly the
 * new tree (or, on any failure — including `verify()` throwing — exactly the old tree, with no
 * rollback point left and the original error rethrown). A crash at any instant is brought to
 * one of the two by `recover()`. On success a rollback point is kept and retention enforced.
 * A release path whose full path (install dir, staging name, version dir or rollback point copy)
 * would exceed this system's PATH_MAX is refused with ERR_UNSAFE_PATH before anything changes.
 */
export async function applyRelease(plan: ApplyPlan, hooks: ApplyHooks = {}): Promise<ApplyOutcome> {
  assertOpId(plan.opId);
  const p: ApplyPlan = {
    ...plan,
    installDir: path.resolve(plan.installDir),
    stateDir: path.resolve(plan.stateDir),
    pointsDir: path.resolve(plan.pointsDir),
    retention: Math.max(1, Math.floor(plan.retention)),
  };
  await assertInstallDirSafe(p.installDir);
  await assertInstallDirIsDir(p.installDir);
  await assertReleasePathsNotReserved(p.installDir, p.layout, p.files.map((f) => f.path), p.reservedDirs ?? []);
  await assertRecovered(p.stateDir);
  const installed = await readInstalled(p.stateDir);
  const now = (plan.clock ?? systemClock).now();
  let rollbackId = newRollbackId(now);
  while (await lexists(pointDir(p.pointsDir, rollbackId))) rollbackId = newRollbackId(now);
  // A release path that would exceed PATH_MAX once placed is refused before planning touches it.
  assertTreeFits(p.layout === 'versioned' ? path.join(p.installDir, VERSIONS_DIR, p.toVersion) : p.installDir, p.files.map((f) => f.path));
  const inputs = { plan: p, installed, rollbackId, seq: await nextSeq(p.pointsDir), now };
  const { journal, outcome, fingerprints } = await mapNameTooLong(async () =>
    p.layout === 'versioned' ? { ...(await planVersioned(inputs)), fingerprints: undefined } : planInPlace(inputs),
  );
  assertJournalFits(journal);
  await assertFreeSpace(await spaceNeeded(journal));
  await hooks.beforeStage?.(journal.stage.filter((s) => s.link).map((s) => s.source));
  try {
    await executeTransaction(journal, hooks, fingerprints);
  } catch (err) {
    // The journal says `committed` in memory once the commit record was attempted: a failure
    // from there on was not undone by the transaction (earlier ones were, or tried to be).
    throw journal.phase === 'committed' ? await settleUnrecorded(p.stateDir, p.opId, err) : await unfinishedUndoError(p.stateDir, p.opId, err);
  }
  return outcome;
}

/**
 * The apply operation inside the runner's lock: resolve the release (the newest eligible one or a
 * named version), download and verify it, then either preview it (verify-only) or install it
 * through the target's driver, update runtime.json (available release, hold, rollout), prune the
 * download cache, and record and announce the outcome. The runner begins and ends it.
 */
import type { ApplyResult, OperationKind } from '../../../src-shared/api';
import type { ApplyPlan } from '../drivers';
import { diskFullCause } from '../fs/space';
import { effectivePolicy } from '../policy';
import { readRuntime } from '../state/store';
import { ReportedError, conclude, opProgress, pruneCacheAfterCommit, recordOp, timed, writeRuntime, type Op, type RunnerContext } from './operation';
import { checkNamedVersion, checkPhase, driverProgress, fetchPhase } from './phases';
import { availableAfterApply, holdAfterApply } from './hold';
import { applyReport, errorReport, type ReportSubject } from './reports';

/**
 * Installs a release on `op`'s target (the newest eligible one, or `o.version`), verifying
 * everything first; with `o.verifyOnly` it stops after verification. A rolled-back apply rejects
 * with the cause's code and `details.rolled_back: true`; a cancelled one with ERR_CANCELLED.
 */
export async function runApply(c: RunnerContext, op: Op, o: { version?: string; verifyOnly?: boolean }): Promise<ApplyResult> {
  const t = op.target;
  const operation: OperationKind = o.verifyOnly ? 'verify' : 'apply';
  const subject: ReportSubject = { target: t.id, name: t.name ?? t.id, operation, from: null, to: o.version ?? null };
  try {
    subject.from = await op.driver.currentVersion();
    // A failed health check or smoke test rolls back to it.
    op.restores = subject.from;
    const r = await checkPhase(c, op, subject, o.version);
    const release = r?.release ?? null;
    const version = release?.version ?? (t.kind === 'command' && !t.feed ? o.version : undefined);
    const base = { success: true as const, target: t.id, from_version: subject.from, verify_only: Boolean(o.verifyOnly), operation_id: op.opId };
    if (!version) {
      await recordOp(c, op, subject, 'up_to_date');
      return { ...base, version: subject.from ?? '', files_updated: [], files_removed: [], rollback_id: null, up_to_date: true };
    }
    if (!release) checkNamedVersion(c, op, subject.from, version);
    subject.to = version;
    op.version = version;
    c.bus.log('info', `${t.id}: ${o.verifyOnly ? 'verifying' : 'updating'} ${subject.from ?? 'nothing'} -> ${version} (by ${op.actor})`, t.id);
    if (!o.verifyOnly) {
      c.bus.notify({ type: 'update_started', target: t.id, version, from_version: subject.from, is_critical: release?.is_critical ?? false, message: `Updating ${t.name ?? t.id} to ${version}` });
    }
    const fetched = release ? await fetchPhase(c, op, release) : null;
    const plan: ApplyPlan = {
      opId: op.opId, from: subject.from, to: version, release, artifacts: fetched?.artifacts ?? new Map(),
      retention: effectivePolicy(t, (await readRuntime(op.loaded.config.state_dir, t.id)).settings).retention,
    };
    const extra = fetched ? { bytes_downloaded: fetched.bytes - fetched.reusedBytes } : {};
    if (o.verifyOnly) {
      const preview = await op.driver.preview(plan);
      await recordOp(c, op, subject, 'success', null, extra);
      return { ...base, version, ...preview, rollback_id: null };
    }
    // From here the target changes: cancelling is no longer safe (the signal waits for the end).
    op.tracker.cancellable = false;
    c.live.set(t.id, { type: 'phase', kind: 'applying', version, progress: op.tracker.next('stage', 'Applying', 0) });
    const outcome = await timed(c, op, 'apply', () => op.driver.apply(plan, op.abort.signal, (p) => driverProgress(c, op, p)));
    for (const w of outcome.warnings) c.bus.log('warn', `${t.id}: ${w}`, t.id);
    const report = applyReport(subject, outcome);
    if (outcome.kind !== 'committed') throw await conclude(c, op, subject, report);
    await writeRuntime(c, op.loaded, t.id, async (rt) => ({
      ...rt, available: await availableAfterApply(op.feed, rt.available, version), last_error: null, held_version: await holdAfterApply(op.feed, rt.held_version, version),
      rollout_pending: rt.rollout_pending?.version === version ? null : rt.rollout_pending,
    })).catch((err: unknown) => {
      c.bus.log('error', `${t.id}: ${version} is installed, but recording it failed: ${(err as Error).message}`, t.id);
    });
    await pruneCacheAfterCommit(c, op);
    opProgress(c, op, 'commit', `Updated to ${version}`, 1);
    const copies = outcome.local_copies ? { local_copies: outcome.local_copies } : {};
    await conclude(c, op, subject, report, { rollback_id: outcome.rollback_id, ...extra, ...copies });
    return { ...base, version, files_updated: outcome.files_updated, files_removed: outcome.files_removed, rollback_id: outcome.rollback_id, ...copies };
  } catch (err) {
    if (err instanceof ReportedError) throw err.error;
    throw (await conclude(c, op, subject, errorReport(subject, await diskFullCause(err)))).error;
  }
}

/**
 * The rollback operation inside the runner's lock: restore the chosen rollback point through the
 * target's driver, hold the version it left (automatic apply must not bring it straight back),
 * show the versions rolled back from as available again, prune the download cache, and record
 * and announce the outcome. The runner begins (lock, recovery, damaged-state checks) and ends it.
 */
import type { RollbackResult } from '../../../src-shared/api';
import { diskFullCause } from '../fs/space';
import { ReportedError, conclude, opProgress, pruneCacheAfterCommit, timed, writeRuntime, type Op, type RunnerContext } from './operation';
import { driverProgress, feedContext } from './phases';
import { holdAfterRollback } from './hold';
import { errorReport, rollbackReport, type ReportSubject } from './reports';

/**
 * Rolls `op`'s target back to point `rollbackId` (undefined: the newest). `recheck` runs a quiet
 * check after the commit. Resolves once what the rollback left behind is removed; rejects with
 * the recorded error.
 */
export async function runRollback(c: RunnerContext, op: Op, rollbackId: string | undefined, recheck: () => Promise<unknown>): Promise<RollbackResult> {
  const t = op.target;
  const subject: ReportSubject = { target: t.id, name: t.name ?? t.id, operation: 'rollback', from: null, to: null };
  let cleanup: Promise<string | null> | undefined;
  try {
    subject.from = await op.driver.currentVersion();
    op.tracker.cancellable = false;
    // The version the chosen point restores (the newest intact one by default), so the state
    // says "Rolling back to 1.1.0"; the runner refused a rollback that needs a damaged point.
    const points = await op.driver.points().catch(() => []);
    const chosen = rollbackId === undefined ? points.find((p) => !p.error) : points.find((p) => p.rollback_id === rollbackId);
    op.restores = chosen && !chosen.error ? chosen.from_version : null;
    c.live.set(t.id, { type: 'rollback-started', to_version: op.restores, progress: op.tracker.next('rollback', 'Rolling back', 0) });
    const outcome = await timed(c, op, 'rollback', () => op.driver.rollback(rollbackId ?? null, op.opId, op.abort.signal, (p) => driverProgress(c, op, { ...p, phase: 'rollback' })));
    for (const w of outcome.warnings) c.bus.log('warn', `${t.id}: ${w}`, t.id);
    const report = rollbackReport(subject, outcome);
    if (outcome.kind !== 'committed') throw await conclude(c, op, subject, report);
    cleanup = outcome.cleanup;
    subject.from = outcome.from_version;
    subject.to = outcome.version;
    // A manual rollback holds the version it left: automatic apply must not bring it straight back.
    const feed = await feedContext(c, op.loaded, t, op.driver).catch(() => null);
    let held: string | null = null;
    let before: string | null = null;
    await writeRuntime(c, op.loaded, t.id, async (rt) => {
      before = rt.held_version;
      held = await holdAfterRollback(feed, rt.held_version, outcome.from_version, outcome.version);
      return { ...rt, last_error: null, held_version: held };
    });
    if (held !== null && held !== before) c.bus.log('info', `${t.id}: ${held} is held after the rollback; it is not applied automatically until a newer release appears or it is applied by hand`, t.id);
    // The versions rolled back from are still published: show them as available again — before
    // the cache is pruned, so the blobs of the newest available release (often the version just
    // left) are kept and applying it again needs no download.
    await recheck().catch(() => undefined);
    await pruneCacheAfterCommit(c, op);
    // The removal of what the rollback left behind ran beside the check and the pruning.
    const leftover = cleanup ? await cleanup : null;
    if (leftover) c.bus.log('warn', `${t.id}: ${leftover}`, t.id);
    opProgress(c, op, 'commit', `Rolled back to ${outcome.version ?? 'nothing'}`, 1);
    await conclude(c, op, subject, report, { rollback_id: outcome.rollback_id, ...(outcome.local_copies ? { local_copies: outcome.local_copies } : {}) });
    return { success: true, target: t.id, rollback_id: outcome.rollback_id, version: outcome.version, from_version: outcome.from_version, operation_id: op.opId };
  } catch (err) {
    if (err instanceof ReportedError) throw err.error;
    throw (await conclude(c, op, subject, errorReport(subject, await diskFullCause(err)))).error;
  } finally {
    await cleanup; // never rejects; the target is released only once it is done
  }
}

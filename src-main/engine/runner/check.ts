/**
 * A check outside an operation: resolve the newest eligible release through the target's feed,
 * remember it in `runtime.json`, announce a newly available version, and record a history line
 * (unless quiet, or the scheduler found nothing). A failed check persists its error and, when
 * this check owns the target's live state, moves it to `failed`; a quiet one does so only with
 * `keepError`.
 */
import type { Actor, CheckResult, HistoryRecord } from '../../../src-shared/api';
import { toUpkeepError } from '../../../src-shared/errors';
import type { LoadedConfig } from '../config/load';
import type { TargetConfig } from '../config/schema';
import type { TargetDriver } from '../drivers';
import { releaseView } from '../release-view';
import { availableRelease } from '../state/store';
import { writeRuntime, type RunnerContext } from './operation';
import { resolveFor } from './phases';
import { errorReport } from './reports';
import { holdAfterCheck, rolloutPendingAfter } from './hold';

export interface CheckRun {
  actor: Actor;
  /** No history line and no `failed` state (status reads, the refresh after a rollback). */
  quiet: boolean;
  /**
   * With `quiet`: a failure is still kept as the target's last error (runtime.json `last_error`
   * and `last_checked_at`, so it rests in `failed` with the reason, e.g. ERR_NO_RELEASE for a
   * channel the feed does not have), without a history line. For the re-selection after a
   * settings change, which cleared the last check's answer: the reason is all there is to show.
   */
  keepError?: boolean;
  /** No operation of this process runs on the target: the check drives its live state. */
  ownsState: boolean;
  /** Age (ms) of the snapshot the "newly available" comparison may use. */
  maxAgeMs: number;
  /** Called with the result as soon as it is known (before it is announced and recorded). */
  remember(result: CheckResult): void;
}

/** Runs one check of `t`; rejects with the check's error (recorded unless quiet). */
export async function runCheck(c: RunnerContext, loaded: LoadedConfig, t: TargetConfig, driver: TargetDriver, o: CheckRun): Promise<CheckResult> {
  const started = c.clock.now();
  const startedMono = c.clock.monoMs();
  const before = await c.memory.get(t.id, o.maxAgeMs);
  // A state file that cannot be read refuses the check (ERR_STATE_CORRUPT naming it); nothing is written.
  if (before.damage) throw before.damage;
  if (o.ownsState) c.live.set(t.id, { type: 'check-started' });
  let current: string | null = null;
  const record = (rec: Pick<HistoryRecord, 'to_version' | 'result' | 'error_code' | 'error_message'>) =>
    c.historyWriter.record(loaded.config.state_dir, { ...c.historyWriter.base(t.id, 'check', o.actor, started, startedMono), from_version: current, ...rec });
  try {
    current = await driver.currentVersion();
    const { resolution: r, feed } = await resolveFor(c, loaded, t, driver, current, {});
    const checkedAt = c.clock.now().toISOString();
    const release = r ? releaseView(r.release, r.breaking) : null;
    const pending = await rolloutPendingAfter(feed, release?.version ?? current);
    let held: string | null = null;
    await writeRuntime(c, loaded, t.id, async (rt) => {
      held = await holdAfterCheck(feed, rt.held_version, release?.version ?? null);
      return { ...rt, last_checked_at: checkedAt, available: release, last_error: null, rollout_pending: pending, held_version: held };
    });
    const result: CheckResult = {
      target: t.id, current_version: current, latest_version: release?.version ?? current, update_available: release !== null,
      is_critical: release?.is_critical ?? false, is_breaking: release?.is_breaking ?? false, release_notes: release?.release_notes ?? '', release, checked_at: checkedAt,
      held_version: held,
    };
    o.remember(result);
    if (o.ownsState) await c.live.settle(t.id);
    const prevAvailable = availableRelease(before.runtime.available)?.version;
    // The version held after a rollback is no news: the user just left it.
    if (release && prevAvailable !== release.version && release.version !== held) {
      c.bus.notify({
        type: 'update_available', target: t.id, version: release.version, from_version: current, is_critical: release.is_critical,
        message: `${t.name ?? t.id} ${release.version} is available${release.is_critical ? ' (critical)' : ''}`,
      });
    }
    c.bus.log('info', release ? `${t.id}: ${release.version} is available (installed: ${current ?? 'nothing'})` : `${t.id}: up to date (${current ?? 'nothing installed'})`, t.id);
    if (!o.quiet && (release || o.actor !== 'scheduler')) {
      await record({ to_version: release?.version ?? null, result: release ? 'success' : 'up_to_date', error_code: null, error_message: null });
    }
    return result;
  } catch (err) {
    const e = toUpkeepError(err);
    const keep = async () => {
      c.bus.log('error', `${t.id}: check failed: ${e.message} (${e.code})`, t.id);
      await writeRuntime(c, loaded, t.id, (rt) => ({ ...rt, last_checked_at: c.clock.now().toISOString(), last_error: { code: e.code, message: e.message } }));
    };
    if (o.quiet) {
      if (o.keepError) await keep();
      if (o.ownsState) await c.live.settle(t.id);
      throw e;
    }
    await keep();
    if (o.ownsState) c.live.set(t.id, { type: 'failed', error: { code: e.code, message: e.message }, at: c.clock.now().toISOString() });
    await record({ to_version: null, result: errorReport({ target: t.id, name: t.name ?? t.id, operation: 'check', from: current, to: null }, e).history, error_code: e.code, error_message: e.message });
    throw e;
  }
}

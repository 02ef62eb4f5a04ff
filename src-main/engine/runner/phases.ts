/**
 * The phases of an operation before the driver takes over, and the mapping of the driver's
 * progress afterwards: resolve the release through the target's `Feed` (state `checking`),
 * download every artifact into the content-addressed cache (`downloading`), run each artifact's
 * own checks (`verifying`); then each `DriverProgress` from `apply`/`rollback` moves the one bar
 * and, at a phase boundary, the state kind (`health-checking`, `rolling-back`).
 */
import { UsageError } from '../../../src-shared/errors';
import type { LoadedConfig } from '../config/load';
import type { TargetConfig } from '../config/schema';
import type { DriverProgress, TargetDriver } from '../drivers';
import { downloadableItems, type Release } from '../feed/release';
import { fetchRelease, verifyArtifacts, type FetchedRelease } from '../fetch-release';
import { effectivePolicy } from '../policy';
import { releaseView } from '../release-view';
import { readRuntime } from '../state/store';
import { getMachineId } from '../state/machine-id';
import { targetPaths } from '../target-paths';
import { isLocalFeed } from '../net/url-policy';
import { isValidVersion } from '../trust/versions';
import { checkUpgradePolicy } from '../trust/select';
import { opProgress, timed, writeRuntime, type Op, type RunnerContext } from './operation';
import type { ProgressDetails } from './progress-tracker';
import { resolveRelease, type Resolution } from './resolve';
import { holdAfterCheck, rolloutPendingAfter, type FeedContext } from './hold';
import type { ReportSubject } from './reports';
import { feedFor, machineOf } from './wiring';

/** The target's feed with this machine's feed policy (null: the target has no feed). */
export async function feedContext(c: RunnerContext, loaded: LoadedConfig, t: TargetConfig, driver: TargetDriver): Promise<(FeedContext & { allowDowngrade: boolean }) | null> {
  const runtime = await readRuntime(loaded.config.state_dir, t.id);
  const feed = await feedFor(loaded, t, runtime, c, driver);
  if (!feed) return null;
  const policy = effectivePolicy(t, runtime.settings, loaded.config.check_interval);
  return { feed, policy: { skip_versions: policy.skip_versions, machine_id: await getMachineId(loaded.config.state_dir) }, allowDowngrade: policy.allow_downgrade };
}

/**
 * Picks the release to act on: `version` exactly, else the newest eligible one (null: none),
 * with the feed it was read from (null: the target has no feed).
 */
export async function resolveFor(
  c: RunnerContext, loaded: LoadedConfig, t: TargetConfig, driver: TargetDriver, current: string | null, o: { version?: string; signal?: AbortSignal; onRelease?: (version: string) => void },
): Promise<{ resolution: Resolution | null; feed: FeedContext | null }> {
  const feed = await feedContext(c, loaded, t, driver);
  if (!feed) return { resolution: null, feed: null };
  const m = machineOf(t);
  const resolution = await resolveRelease(feed.feed, driver, {
    current, policy: feed.policy, allowDowngrade: feed.allowDowngrade,
    machine: `${m.platform}/${m.arch}`, ...(o.version !== undefined ? { version: o.version } : {}), ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onRelease ? { onRelease: o.onRelease } : {}),
  });
  return { resolution, feed };
}

/**
 * A version named for a command target without a feed follows the same version rules as feed
 * versions: ERR_USAGE when it is not SemVer, the downgrade policy's error when it goes back.
 */
export function checkNamedVersion(c: RunnerContext, op: Op, current: string | null, version: string): void {
  if (!isValidVersion(version)) throw new UsageError('ERR_USAGE', `"${version}" is not a SemVer version`);
  const policy = effectivePolicy(op.target, c.memory.peek(op.target.id)?.runtime.settings);
  checkUpgradePolicy({ current, target: { version }, allowDowngrade: policy.allow_downgrade });
}

/** The check step of an operation: state `checking`, then the resolved release (and the facts learnt). */
export async function checkPhase(c: RunnerContext, op: Op, subject: ReportSubject, version: string | undefined): Promise<Resolution | null> {
  c.live.set(op.target.id, { type: 'check-started' });
  const current = subject.from;
  // The release being verified is the operation's subject: a refused one is named in history.
  const onRelease = (v: string): void => { subject.to = v; };
  const { resolution: r, feed } = await timed(c, op, 'check', () => resolveFor(c, op.loaded, op.target, op.driver, current, { ...(version !== undefined ? { version } : {}), signal: op.abort.signal, onRelease }));
  op.feed = feed;
  if (r) op.version = r.release.version;
  if (version === undefined && (('feed' in op.target && op.target.feed) || op.driver.ownFeed)) {
    // Looking for the newest release is a check: remember what it found.
    const checkedAt = c.clock.now().toISOString();
    const view = r ? releaseView(r.release, r.breaking) : null;
    // A check also learns whether a newer release ends the hold, and what a staged rollout holds back.
    const pending = await rolloutPendingAfter(feed, view?.version ?? current, op.abort.signal);
    await writeRuntime(c, op.loaded, op.target.id, async (rt) => ({
      ...rt, last_checked_at: checkedAt, available: view, rollout_pending: pending, held_version: await holdAfterCheck(feed, rt.held_version, view?.version ?? null),
    }));
  }
  return r;
}

/** Downloads every artifact (state `downloading`), then runs the feed's per-artifact checks (state `verifying`). */
export async function fetchPhase(c: RunnerContext, op: Op, release: Release): Promise<FetchedRelease> {
  const t = op.target;
  const items = downloadableItems(release);
  c.live.set(t.id, { type: 'phase', kind: 'downloading', version: release.version, progress: op.tracker.next('download', `Downloading ${release.version}`, 0, { files_total: items.length }) });
  const fetched = await timed(c, op, 'download', () => fetchRelease({
    items, cacheDir: targetPaths(op.loaded.config, t.id).cacheDir, fetcher: c.fetcher, clock: c.clock,
    allowInsecureHttp: ('feed' in t && t.feed?.allow_insecure_http) || false, limits: c.limits, signal: op.abort.signal, unverified: release.verification === 'none',
    // Local files only for a local feed: a feed served over the network never reads this machine's files.
    allowFileUrls: 'feed' in t && t.feed ? isLocalFeed(t.feed.url) : false,
    // Staging copies every file next to its destination at most once (backups are renames).
    ...(t.kind === 'files' ? { reserve: [{ dir: t.install_dir, bytes: items.reduce((n, f) => n + f.size, 0) }] } : {}),
    onProgress: (s) => opProgress(c, op, 'download', `Downloading${s.file ? ` ${s.file}` : ''}`, s.bytes_done / Math.max(1, s.bytes_total), s),
  }));
  c.live.set(t.id, { type: 'phase', kind: 'verifying', version: release.version, progress: op.tracker.next('verify', `Verifying ${release.version}`, 0, { files_total: items.length }) });
  await timed(c, op, 'verify', () => verifyArtifacts(items, fetched.artifacts, op.abort.signal, (done, key) => {
    opProgress(c, op, 'verify', `Verified ${key}`, done / Math.max(1, items.length), { files_done: done, files_total: items.length, file: key });
  }));
  return fetched;
}

/** Maps a driver's phase progress onto the operation's bar and state kind. */
export function driverProgress(c: RunnerContext, op: Op, p: DriverProgress): void {
  const id = op.target.id;
  const kind = c.live.get(id)?.kind;
  const fraction = p.total > 0 ? p.done / p.total : 0;
  const details: ProgressDetails = { files_done: p.done, files_total: p.total, ...(p.file !== undefined ? { file: p.file } : {}) };
  if (p.phase === 'rollback' && kind !== 'rolling-back') {
    c.live.set(id, { type: 'rollback-started', to_version: op.restores ?? null, progress: op.tracker.next(p.phase, p.message, fraction, details) });
  } else if (p.phase === 'health' && kind !== 'health-checking' && kind !== 'rolling-back') {
    c.live.set(id, { type: 'phase', kind: 'health-checking', version: op.version, progress: op.tracker.next(p.phase, p.message, fraction, details) });
  } else {
    opProgress(c, op, p.phase, p.message, fraction, details, p.phase !== c.live.lastPhase(id));
  }
}

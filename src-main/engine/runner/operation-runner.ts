/**
 * The operation runner: the one pipeline every target kind goes through (check → download →
 * verify → apply → health → commit, or rollback). It owns, for every kind: the in-process and
 * cross-process lock, recovery of an interrupted operation (once, under the lock), release
 * resolution through the target's `Feed`, download, live state, progress, history and
 * notifications. It is the only code that records history, notifies and writes state; feeds and
 * drivers (`feed/registry.ts`, `drivers/index.ts`) return values and never call back.
 */
import type {
  Actor, ApplyResult, CheckResult, DownloadResult, HistoryRecord, OperationKind, Phase, ReleaseList, ReleaseView, RollbackPointView, RollbackResult, TargetView,
} from '../../../src-shared/api';
import { BusyError, UpkeepError, UsageError, toUpkeepError } from '../../../src-shared/errors';
import type { TargetConfig } from '../config/schema';
import { findTarget, type LoadedConfig } from '../config/load';
import { DEFAULT_LIMITS, type Limits } from '../limits';
import { EventBus } from '../events';
import { clockFrom, systemClock, type Clock } from '../clock';
import { targetPaths } from '../target-paths';
import { applyProxyConfig } from '../net/proxy';
import { isLocalFeed } from '../net/url-policy';
import { driverFor, feedFor, machineOf } from './wiring';
import { LiveState } from './live-state';
import { HistoryWriter, type HistoryBase } from './history-writer';
import { manifestDetails } from './manifest';
import { effectivePolicy } from '../policy';
import { releaseView } from '../release-view';
import type { Feed } from '../feed/feed';
import type { Release } from '../feed/release';
import type { Fetcher } from '../net/fetcher';
import { defaultFetcher } from '../net/default-fetcher';
import { downloadableItems } from '../feed/release';
import { fetchRelease, materialiseRelease, verifyArtifacts, type FetchedRelease } from '../fetch-release';
import { readRuntime, updateRuntime, type RuntimeState } from '../state/store';
import { getMachineId } from '../state/machine-id';
import { readHistory } from '../history';
import { pruneDownloadCache } from '../apply/cache-prune';
import { acquireTargetLock } from '../lock';
import type { ApplyPlan, DriverProgress, TargetDriver } from '../drivers';
import type { ManifestDetails } from '../daemon-types';
import { isValidVersion } from '../trust/versions';
import { checkUpgradePolicy } from '../trust/select';
import { newOperationId } from '../operation-id';
import { ProgressTracker, type ProgressDetails, type TrackedOperation } from './progress-tracker';
import { applyReport, errorReport, rollbackReport, type Report, type ReportSubject } from './reports';
import { resolveRelease, type Resolution } from './resolve';
import { SnapshotCache, type Snapshot } from './target-memory';
import { holdAfterApply, holdAfterCheck, holdAfterRollback, rolloutPendingAfter, type FeedContext } from './hold';

export interface RunnerOptions {
  loaded: LoadedConfig;
  actor?: Actor;
  /** Wall-clock override (tests); durations still use the monotonic clock. */
  now?: () => Date;
  clock?: Clock;
  limits?: Limits;
  bus?: EventBus;
  fetcher?: Fetcher;
}

/** Most eligible releases `listReleases` verifies and returns (each costs a manifest fetch). */
export const MAX_LISTED_RELEASES = 20;

/** A snapshot older than this is re-read from disk on the next view (changes by other processes). */
const VIEW_MAX_AGE_MS = 1000;

interface Op {
  loaded: LoadedConfig;
  target: TargetConfig;
  driver: TargetDriver;
  opId: string;
  actor: Actor;
  started: Date;
  startedMono: number;
  timings: Record<string, number>;
  abort: AbortController;
  tracker: ProgressTracker;
  release: () => Promise<void>;
  /** The version the operation moves to (state and reports). */
  version: string;
  /** The target's feed as the check step loaded it (null: no feed, or no check step ran). */
  feed: FeedContext | null;
}

export class OperationRunner {
  readonly bus: EventBus;
  readonly limits: Limits;
  readonly clock: Clock;
  private loaded: LoadedConfig;
  private readonly actor: Actor;
  readonly fetcher: Fetcher;
  /** Feed warnings (weak verification, shared HMAC secrets) go to the event bus's log. */
  readonly feedLog = (target: string, level: 'info' | 'warn', message: string): void => this.bus.log(level, message, target);
  private readonly running = new Map<string, Op>();
  private readonly lastChecks = new Map<string, { at: number; result: CheckResult }>();
  private readonly checking = new Map<string, Promise<CheckResult>>();
  private readonly memory: SnapshotCache;
  private readonly live: LiveState;
  private readonly historyWriter: HistoryWriter;

  constructor(o: RunnerOptions) {
    this.loaded = o.loaded;
    applyProxyConfig(o.loaded.config.proxy);
    this.clock = o.clock ?? (o.now ? clockFrom(o.now) : systemClock);
    this.actor = o.actor ?? 'cli';
    this.limits = o.limits ?? DEFAULT_LIMITS;
    this.bus = o.bus ?? new EventBus(this.clock);
    this.fetcher = o.fetcher ?? defaultFetcher;
    this.memory = new SnapshotCache((id) => this.readFacts(id), () => this.clock.monoMs());
    this.historyWriter = new HistoryWriter(this.clock, this.bus);
    this.live = new LiveState(() => this.loaded, this.memory, this.bus, this.clock, () => this.limits.progressHz);
  }

  /** The config in force for new operations. */
  config(): LoadedConfig {
    return this.loaded;
  }

  /** Swaps the config; operations already running keep the one they started with. */
  setConfig(loaded: LoadedConfig): void {
    this.loaded = loaded;
    applyProxyConfig(loaded.config.proxy);
    this.memory.clear();
    this.lastChecks.clear();
  }

  /** Target config by id (id may be omitted when there is exactly one). */
  target(id?: string): TargetConfig {
    return findTarget(this.loaded.config, id);
  }

  isRunning(id: string): boolean {
    return this.running.has(id);
  }

  private driverFor(loaded: LoadedConfig, t: TargetConfig): TargetDriver {
    return driverFor(loaded, t, this);
  }

  private feedFor(loaded: LoadedConfig, t: TargetConfig, runtime: RuntimeState, driver?: TargetDriver): Feed | null {
    return feedFor(loaded, t, runtime, this, driver);
  }

  private async readFacts(id: string): Promise<Omit<Snapshot, 'read_at'>> {
    const loaded = this.loaded;
    const t = findTarget(loaded.config, id);
    const driver = this.driverFor(loaded, t);
    const [current, points, runtime, facts] = await Promise.all([driver.currentVersion(), driver.points(), readRuntime(loaded.config.state_dir, t.id), driver.facts?.() ?? []]);
    return { current, points_count: points.length, runtime, facts };
  }

  /** Read-modify-writes the target's runtime.json (serialised per target; `fn` sees the state on disk). */
  private async writeRuntime(loaded: LoadedConfig, id: string, fn: (rt: RuntimeState) => RuntimeState | Promise<RuntimeState>): Promise<void> {
    this.memory.setRuntime(id, await updateRuntime(loaded.config.state_dir, id, fn));
  }

  // ---------------------------------------------------------------- views (reads are reads)

  /** The view of one target, from memory (re-read from disk at most once a second when idle). */
  async view(id: string): Promise<TargetView> {
    const loaded = this.loaded;
    const t = findTarget(loaded.config, id);
    const snap = await this.memory.get(t.id, this.running.has(t.id) ? Infinity : VIEW_MAX_AGE_MS);
    return this.live.view(loaded, t.id, snap);
  }

  /** Re-reads the persisted facts of `id` at once (after another writer changed runtime.json, e.g. settings). */
  async reread(id: string): Promise<void> {
    await this.memory.reload(findTarget(this.loaded.config, id).id);
  }

  async views(): Promise<TargetView[]> {
    return Promise.all(this.loaded.config.targets.map((t) => this.view(t.id)));
  }

  // ---------------------------------------------------------------- recovery

  /** Finishes or undoes what a crash interrupted, for every target whose lock is free. */
  async recoverAll(actor: Actor = 'recovery'): Promise<Array<{ target: string; outcome: string }>> {
    const out: Array<{ target: string; outcome: string }> = [];
    for (const t of this.loaded.config.targets) {
      let lock;
      try {
        lock = await acquireTargetLock(this.loaded.config.state_dir, t.id, { actor, opId: 'recovery', clock: this.clock });
      } catch (err) {
        if (err instanceof UpkeepError && err.code === 'ERR_BUSY') continue; // a live operation owns it
        throw err;
      }
      try {
        const outcome = await this.recoverTarget(this.loaded, t, this.driverFor(this.loaded, t), actor);
        if (outcome !== 'none') out.push({ target: t.id, outcome });
      } finally {
        await lock.release();
      }
    }
    return out;
  }

  private async recoverTarget(loaded: LoadedConfig, t: TargetConfig, driver: TargetDriver, actor: Actor): Promise<string> {
    const started = this.clock.now();
    const startedMono = this.clock.monoMs();
    const outcome = await driver.recover();
    if (outcome !== 'none') {
      this.bus.log('warn', `Recovered an interrupted operation on ${t.id}: ${outcome}`, t.id);
      await this.record(loaded, {
        ...this.historyBase(t.id, 'recover', actor, started, startedMono, newOperationId(started)),
        from_version: null, to_version: await driver.currentVersion(), result: 'recovered', error_code: null,
        error_message: outcome === 'rolled-back' ? 'Interrupted operation undone' : 'Interrupted operation completed',
      });
    }
    return outcome;
  }

  // ---------------------------------------------------------------- check

  /** Fetches and verifies the feed; reports the newest eligible release. `quiet`: no history, no failed state. */
  async check(id: string, o: { actor?: Actor; quiet?: boolean } = {}): Promise<CheckResult> {
    const loaded = this.loaded;
    const t = findTarget(loaded.config, id);
    const actor = o.actor ?? this.actor;
    const started = this.clock.now();
    const startedMono = this.clock.monoMs();
    const own = !this.running.has(t.id);
    const before = await this.memory.get(t.id, VIEW_MAX_AGE_MS);
    if (own) this.live.set(t.id, { type: 'check-started' });
    const driver = this.driverFor(loaded, t);
    let current: string | null = null;
    try {
      current = await driver.currentVersion();
      const { resolution: r, feed } = await this.resolve(loaded, t, driver, current, {});
      const checkedAt = this.clock.now().toISOString();
      const release = r ? releaseView(r.release, r.breaking) : null;
      const pending = await rolloutPendingAfter(feed, release?.version ?? current);
      let held: string | null = null;
      await this.writeRuntime(loaded, t.id, async (rt) => {
        held = await holdAfterCheck(feed, rt.held_version, release?.version ?? null);
        return { ...rt, last_checked_at: checkedAt, available: release, last_error: null, rollout_pending: pending, held_version: held };
      });
      const result: CheckResult = {
        target: t.id, current_version: current, latest_version: release?.version ?? current, update_available: release !== null,
        is_critical: release?.is_critical ?? false, is_breaking: release?.is_breaking ?? false, release_notes: release?.release_notes ?? '', release, checked_at: checkedAt,
      };
      this.lastChecks.set(t.id, { at: this.clock.monoMs(), result });
      if (own) await this.live.settle(t.id);
      const prevAvailable = (before.runtime.available as { version?: string } | null | undefined)?.version;
      // The version held after a rollback is no news: the user just left it.
      if (release && prevAvailable !== release.version && release.version !== held) {
        this.bus.notify({
          type: 'update_available', target: t.id, version: release.version, from_version: current, is_critical: release.is_critical,
          message: `${t.name ?? t.id} ${release.version} is available${release.is_critical ? ' (critical)' : ''}`,
        });
      }
      this.bus.log('info', release ? `${t.id}: ${release.version} is available (installed: ${current ?? 'nothing'})` : `${t.id}: up to date (${current ?? 'nothing installed'})`, t.id);
      if (!o.quiet && (release || actor !== 'scheduler')) {
        await this.record(loaded, { ...this.historyBase(t.id, 'check', actor, started, startedMono), from_version: current, to_version: release?.version ?? null, result: release ? 'success' : 'up_to_date', error_code: null, error_message: null });
      }
      return result;
    } catch (err) {
      const e = toUpkeepError(err);
      if (o.quiet) {
        if (own) await this.live.settle(t.id);
        throw e;
      }
      this.bus.log('error', `${t.id}: check failed: ${e.message} (${e.code})`, t.id);
      await this.writeRuntime(loaded, t.id, (rt) => ({ ...rt, last_checked_at: this.clock.now().toISOString(), last_error: { code: e.code, message: e.message } }));
      if (own) this.live.set(t.id, { type: 'failed', error: { code: e.code, message: e.message }, at: this.clock.now().toISOString() });
      await this.record(loaded, { ...this.historyBase(t.id, 'check', actor, started, startedMono), from_version: current, to_version: null, result: errorReport({ target: t.id, name: t.name ?? t.id, operation: 'check', from: current, to: null }, e).history, error_code: e.code, error_message: e.message });
      throw e;
    }
  }

  /**
   * The last check's result when it is younger than `maxAgeMs`, else one quiet check (no history)
   * shared by every concurrent caller. Status routes use it so reads never check per request.
   */
  async latestCheck(id: string, maxAgeMs: number): Promise<CheckResult> {
    const t = findTarget(this.loaded.config, id);
    const last = this.lastChecks.get(t.id);
    if (last && this.clock.monoMs() - last.at < maxAgeMs) return last.result;
    let p = this.checking.get(t.id);
    if (!p) {
      p = this.check(t.id, { quiet: true }).finally(() => this.checking.delete(t.id));
      this.checking.set(t.id, p);
    }
    return p;
  }

  /**
   * Picks the release to act on: `version` exactly, else the newest eligible one (null: none),
   * with the feed it was read from (null: the target has no feed).
   */
  private async resolve(
    loaded: LoadedConfig, t: TargetConfig, driver: TargetDriver, current: string | null, o: { version?: string; signal?: AbortSignal; onRelease?: (version: string) => void },
  ): Promise<{ resolution: Resolution | null; feed: FeedContext | null }> {
    const feed = await this.feedContext(loaded, t, driver);
    if (!feed) return { resolution: null, feed: null };
    const m = machineOf(t);
    const resolution = await resolveRelease(feed.feed, driver, {
      current, policy: feed.policy, allowDowngrade: feed.allowDowngrade,
      machine: `${m.platform}/${m.arch}`, ...(o.version !== undefined ? { version: o.version } : {}), ...(o.signal ? { signal: o.signal } : {}),
      ...(o.onRelease ? { onRelease: o.onRelease } : {}),
    });
    return { resolution, feed };
  }

  /** The target's feed with this machine's feed policy (null: the target has no feed). */
  private async feedContext(loaded: LoadedConfig, t: TargetConfig, driver: TargetDriver): Promise<(FeedContext & { allowDowngrade: boolean }) | null> {
    const runtime = await readRuntime(loaded.config.state_dir, t.id);
    const feed = this.feedFor(loaded, t, runtime, driver);
    if (!feed) return null;
    const policy = effectivePolicy(t, runtime.settings, loaded.config.check_interval);
    return { feed, policy: { skip_versions: policy.skip_versions, machine_id: await getMachineId(loaded.config.state_dir) }, allowDowngrade: policy.allow_downgrade };
  }


  /** The signed manifest of one version of a native feed, verified against the channel index. */
  async getManifest(id: string, version: string): Promise<ManifestDetails> {
    const loaded = this.loaded;
    const t = findTarget(loaded.config, id);
    const feed = this.feedFor(loaded, t, await readRuntime(loaded.config.state_dir, t.id));
    return manifestDetails(feed, await this.driverFor(loaded, t).currentVersion(), version);
  }

  /**
   * The installed release and the releases this machine may apply (newest first, at most
   * `MAX_LISTED_RELEASES`), each verified like `check` does, plus the newest release a staged
   * rollout still holds back. Changes nothing. Throws what loading the feed throws.
   */
  async listReleases(id: string): Promise<ReleaseList> {
    const loaded = this.loaded;
    const t = findTarget(loaded.config, id);
    const runtime = await readRuntime(loaded.config.state_dir, t.id);
    const driver = this.driverFor(loaded, t);
    const current = await driver.currentVersion();
    const feed = this.feedFor(loaded, t, runtime);
    if (!feed) return { target: t.id, current_version: current, installed: null, eligible: [], rollout_pending: null };
    const policy = effectivePolicy(t, runtime.settings, loaded.config.check_interval);
    const feedPolicy = { skip_versions: policy.skip_versions, machine_id: await getMachineId(loaded.config.state_dir) };
    const eligible: ReleaseView[] = [];
    for (const c of await feed.candidates(current, feedPolicy)) {
      if (eligible.length >= MAX_LISTED_RELEASES) break;
      const release = await feed.release(c.version);
      if (release.informational || !driver.accepts(release)) continue;
      try {
        eligible.push(releaseView(release, feed.assess(current, release, { allowDowngrade: policy.allow_downgrade, explicit: false }).breaking));
      } catch (err) {
        if (err instanceof UpkeepError && err.code === 'ERR_INCOMPATIBLE_UPGRADE') continue;
        throw err;
      }
    }
    let installed: ReleaseView | null = null;
    if (current !== null) {
      installed = await feed.release(current).then((r) => releaseView(r, false), (err: unknown) => {
        if (err instanceof UpkeepError && err.kind === 'not_found') return null;
        throw err;
      });
    }
    const rolloutPending = feed.heldBack ? await feed.heldBack(eligible[0]?.version ?? current, feedPolicy) : null;
    return { target: t.id, current_version: current, installed, eligible, rollout_pending: rolloutPending };
  }

  // ---------------------------------------------------------------- download / apply

  /** Downloads and verifies a release without installing it. */
  async download(id: string, o: { version?: string; actor?: Actor } = {}): Promise<DownloadResult> {
    const op = await this.begin(id, o.actor, 'download');
    const subject: ReportSubject = { target: op.target.id, name: op.target.name ?? op.target.id, operation: 'download', from: null, to: o.version ?? null };
    try {
      subject.from = await op.driver.currentVersion();
      const r = await this.checkPhase(op, subject, o.version);
      if (!r) {
        await this.recordOp(op, subject, 'up_to_date');
        return { success: true, target: op.target.id, version: subject.from ?? '', download_path: '', files: 0, bytes: 0, reused_bytes: 0, up_to_date: true };
      }
      subject.to = r.release.version;
      const fetched = await this.fetchPhase(op, r.release);
      const dir = await materialiseRelease(targetPaths(op.loaded.config, op.target.id).releasesDir, r.release.version, fetched.artifacts, r.release.source.bytes);
      await this.recordOp(op, subject, 'success', null, { bytes_downloaded: fetched.bytes - fetched.reusedBytes });
      return { success: true, target: op.target.id, version: r.release.version, download_path: dir, files: fetched.artifacts.size, bytes: fetched.bytes, reused_bytes: fetched.reusedBytes };
    } catch (err) {
      throw (await this.conclude(op, subject, errorReport(subject, err))).error;
    } finally {
      await this.end(op);
    }
  }

  /**
   * Installs a release (the newest eligible one, or `version`), verifying everything first; with
   * `verifyOnly` it stops after verification. A rolled-back apply rejects with the cause's code
   * and `details.rolled_back: true`; a cancelled one with ERR_CANCELLED.
   */
  async apply(id: string, o: { version?: string; verifyOnly?: boolean; actor?: Actor } = {}): Promise<ApplyResult> {
    const op = await this.begin(id, o.actor, 'apply');
    const t = op.target;
    const operation: OperationKind = o.verifyOnly ? 'verify' : 'apply';
    const subject: ReportSubject = { target: t.id, name: t.name ?? t.id, operation, from: null, to: o.version ?? null };
    try {
      subject.from = await op.driver.currentVersion();
      const r = await this.checkPhase(op, subject, o.version);
      const release = r?.release ?? null;
      const version = release?.version ?? (t.kind === 'command' && !t.feed ? o.version : undefined);
      const base = { success: true as const, target: t.id, from_version: subject.from, verify_only: Boolean(o.verifyOnly), operation_id: op.opId };
      if (!version) {
        await this.recordOp(op, subject, 'up_to_date');
        return { ...base, version: subject.from ?? '', files_updated: [], files_removed: [], rollback_id: null, up_to_date: true };
      }
      if (!release) this.checkNamedVersion(op, subject.from, version);
      subject.to = version;
      op.version = version;
      this.bus.log('info', `${t.id}: ${o.verifyOnly ? 'verifying' : 'updating'} ${subject.from ?? 'nothing'} -> ${version} (by ${op.actor})`, t.id);
      if (!o.verifyOnly) {
        this.bus.notify({ type: 'update_started', target: t.id, version, from_version: subject.from, is_critical: release?.is_critical ?? false, message: `Updating ${t.name ?? t.id} to ${version}` });
      }
      const fetched = release ? await this.fetchPhase(op, release) : null;
      const plan: ApplyPlan = {
        opId: op.opId, from: subject.from, to: version, release, artifacts: fetched?.artifacts ?? new Map(),
        retention: effectivePolicy(t, (await readRuntime(op.loaded.config.state_dir, t.id)).settings).retention,
      };
      const extra = fetched ? { bytes_downloaded: fetched.bytes - fetched.reusedBytes } : {};
      if (o.verifyOnly) {
        const preview = await op.driver.preview(plan);
        await this.recordOp(op, subject, 'success', null, extra);
        return { ...base, version, ...preview, rollback_id: null };
      }
      // From here the target changes: cancelling is no longer safe (the signal waits for the end).
      op.tracker.cancellable = false;
      this.live.set(t.id, { type: 'phase', kind: 'applying', version, progress: op.tracker.next('stage', 'Applying', 0) });
      const outcome = await this.timed(op, 'apply', () => op.driver.apply(plan, op.abort.signal, (p) => this.driverProgress(op, p)));
      for (const w of outcome.warnings) this.bus.log('warn', `${t.id}: ${w}`, t.id);
      const report = applyReport(subject, outcome);
      if (outcome.kind !== 'committed') throw await this.conclude(op, subject, report);
      await this.writeRuntime(op.loaded, t.id, async (rt) => ({
        ...rt, available: null, last_error: null, held_version: await holdAfterApply(op.feed, rt.held_version, version),
        rollout_pending: rt.rollout_pending?.version === version ? null : rt.rollout_pending,
      })).catch((err: unknown) => {
        this.bus.log('error', `${t.id}: ${version} is installed, but recording it failed: ${(err as Error).message}`, t.id);
      });
      await this.pruneCache(op);
      this.progress(op, 'commit', `Updated to ${version}`, 1);
      const copies = outcome.local_copies ? { local_copies: outcome.local_copies } : {};
      await this.conclude(op, subject, report, { rollback_id: outcome.rollback_id, ...extra, ...copies });
      return { ...base, version, files_updated: outcome.files_updated, files_removed: outcome.files_removed, rollback_id: outcome.rollback_id, ...copies };
    } catch (err) {
      if (err instanceof ReportedError) throw err.error;
      throw (await this.conclude(op, subject, errorReport(subject, err))).error;
    } finally {
      await this.end(op);
    }
  }

  /** A version named for a command target without a feed follows the same version rules as feed versions. */
  private checkNamedVersion(op: Op, current: string | null, version: string): void {
    if (!isValidVersion(version)) throw new UsageError('ERR_USAGE', `"${version}" is not a SemVer version`);
    const policy = effectivePolicy(op.target, this.memory.peek(op.target.id)?.runtime.settings);
    checkUpgradePolicy({ current, target: { version }, allowDowngrade: policy.allow_downgrade });
  }

  /** The check step of an operation: state `checking`, then the resolved release (and the facts learnt). */
  private async checkPhase(op: Op, subject: ReportSubject, version: string | undefined): Promise<Resolution | null> {
    this.live.set(op.target.id, { type: 'check-started' });
    const current = subject.from;
    // The release being verified is the operation's subject: a refused one is named in history.
    const onRelease = (v: string): void => { subject.to = v; };
    const { resolution: r, feed } = await this.timed(op, 'check', () => this.resolve(op.loaded, op.target, op.driver, current, { ...(version !== undefined ? { version } : {}), signal: op.abort.signal, onRelease }));
    op.feed = feed;
    if (r) op.version = r.release.version;
    if (version === undefined && (('feed' in op.target && op.target.feed) || op.driver.ownFeed)) {
      // Looking for the newest release is a check: remember what it found.
      const checkedAt = this.clock.now().toISOString();
      const view = r ? releaseView(r.release, r.breaking) : null;
      // A check also learns whether a newer release ends the hold, and what a staged rollout holds back.
      const pending = await rolloutPendingAfter(feed, view?.version ?? current, op.abort.signal);
      await this.writeRuntime(op.loaded, op.target.id, async (rt) => ({
        ...rt, last_checked_at: checkedAt, available: view, rollout_pending: pending, held_version: await holdAfterCheck(feed, rt.held_version, view?.version ?? null),
      }));
    }
    return r;
  }

  /** Downloads every artifact (state `downloading`), then runs the feed's per-artifact checks (state `verifying`). */
  private async fetchPhase(op: Op, release: Release): Promise<FetchedRelease> {
    const t = op.target;
    const items = downloadableItems(release);
    this.live.set(t.id, { type: 'phase', kind: 'downloading', version: release.version, progress: op.tracker.next('download', `Downloading ${release.version}`, 0, { files_total: items.length }) });
    const fetched = await this.timed(op, 'download', () => fetchRelease({
      items, cacheDir: targetPaths(op.loaded.config, t.id).cacheDir, fetcher: this.fetcher, clock: this.clock,
      allowInsecureHttp: ('feed' in t && t.feed?.allow_insecure_http) || false, limits: this.limits, signal: op.abort.signal, unverified: release.verification === 'none',
      // Local files only for a local feed: a feed served over the network never reads this machine's files.
      allowFileUrls: 'feed' in t && t.feed ? isLocalFeed(t.feed.url) : false,
      // Staging copies every file next to its destination at most once (backups are renames).
      ...(t.kind === 'files' ? { reserve: [{ dir: t.install_dir, bytes: items.reduce((n, f) => n + f.size, 0) }] } : {}),
      onProgress: (s) => this.progress(op, 'download', `Downloading${s.file ? ` ${s.file}` : ''}`, s.bytes_done / Math.max(1, s.bytes_total), s),
    }));
    this.live.set(t.id, { type: 'phase', kind: 'verifying', version: release.version, progress: op.tracker.next('verify', `Verifying ${release.version}`, 0, { files_total: items.length }) });
    await this.timed(op, 'verify', () => verifyArtifacts(items, fetched.artifacts, op.abort.signal, (done, key) => {
      this.progress(op, 'verify', `Verified ${key}`, done / Math.max(1, items.length), { files_done: done, files_total: items.length, file: key });
    }));
    return fetched;
  }

  /** Maps a driver's phase progress onto the operation's bar and state kind. */
  private driverProgress(op: Op, p: DriverProgress): void {
    const id = op.target.id;
    const kind = this.live.get(id)?.kind;
    const fraction = p.total > 0 ? p.done / p.total : 0;
    const details: ProgressDetails = { files_done: p.done, files_total: p.total, ...(p.file !== undefined ? { file: p.file } : {}) };
    if (p.phase === 'rollback' && kind !== 'rolling-back') {
      this.live.set(id, { type: 'rollback-started', to_version: null, progress: op.tracker.next(p.phase, p.message, fraction, details) });
    } else if (p.phase === 'health' && kind !== 'health-checking' && kind !== 'rolling-back') {
      this.live.set(id, { type: 'phase', kind: 'health-checking', version: op.version, progress: op.tracker.next(p.phase, p.message, fraction, details) });
    } else {
      this.progress(op, p.phase, p.message, fraction, details, p.phase !== this.live.lastPhase(id));
    }
  }

  // ---------------------------------------------------------------- rollback

  /** Restores the target to the state before rollback point `rollbackId` (default: the newest). */
  async rollback(id: string, o: { rollbackId?: string; actor?: Actor } = {}): Promise<RollbackResult> {
    const op = await this.begin(id, o.actor, 'rollback');
    const t = op.target;
    const subject: ReportSubject = { target: t.id, name: t.name ?? t.id, operation: 'rollback', from: null, to: null };
    try {
      subject.from = await op.driver.currentVersion();
      op.tracker.cancellable = false;
      this.live.set(t.id, { type: 'rollback-started', to_version: null, progress: op.tracker.next('rollback', 'Rolling back', 0) });
      const outcome = await this.timed(op, 'rollback', () => op.driver.rollback(o.rollbackId ?? null, op.opId, op.abort.signal, (p) => this.driverProgress(op, { ...p, phase: 'rollback' })));
      for (const w of outcome.warnings) this.bus.log('warn', `${t.id}: ${w}`, t.id);
      const report = rollbackReport(subject, outcome);
      if (outcome.kind !== 'committed') throw await this.conclude(op, subject, report);
      subject.from = outcome.from_version;
      subject.to = outcome.version;
      // A manual rollback holds the version it left: automatic apply must not bring it straight back.
      const feed = await this.feedContext(op.loaded, t, op.driver).catch(() => null);
      let held: string | null = null;
      let before: string | null = null;
      await this.writeRuntime(op.loaded, t.id, async (rt) => {
        before = rt.held_version;
        held = await holdAfterRollback(feed, rt.held_version, outcome.from_version, outcome.version);
        return { ...rt, last_error: null, held_version: held };
      });
      if (held !== null && held !== before) this.bus.log('info', `${t.id}: ${held} is held after the rollback; it is not applied automatically until a newer release appears or it is applied by hand`, t.id);
      await this.pruneCache(op);
      this.progress(op, 'commit', `Rolled back to ${outcome.version ?? 'nothing'}`, 1);
      await this.conclude(op, subject, report, { rollback_id: outcome.rollback_id, ...(outcome.local_copies ? { local_copies: outcome.local_copies } : {}) });
      // The versions rolled back from are still published: show them as available again.
      await this.check(t.id, { actor: op.actor, quiet: true }).catch(() => undefined);
      return { success: true, target: t.id, rollback_id: outcome.rollback_id, version: outcome.version, from_version: outcome.from_version, operation_id: op.opId };
    } catch (err) {
      if (err instanceof ReportedError) throw err.error;
      throw (await this.conclude(op, subject, errorReport(subject, err))).error;
    } finally {
      await this.end(op);
    }
  }

  /** Rollback points of a target, newest first. */
  async points(id: string): Promise<RollbackPointView[]> {
    const t = findTarget(this.loaded.config, id);
    return this.driverFor(this.loaded, t).points();
  }

  /** History records, newest first. */
  async history(id?: string, limit = 100): Promise<HistoryRecord[]> {
    const target = id !== undefined ? findTarget(this.loaded.config, id).id : undefined;
    return readHistory(this.loaded.config.state_dir, { ...(target ? { target } : {}), limit });
  }

  /** Cancels the running operation of `id` while that is still safe; false when there is none or it is past that point. */
  cancel(id: string): boolean {
    const op = this.running.get(id);
    if (!op || !op.tracker.cancellable) return false;
    op.abort.abort(new UpkeepError('ERR_CANCELLED', 'Cancelled by the user'));
    return true;
  }

  /** True while the running operation of `id` (if any) can still be cancelled safely. */
  isCancellable(id: string): boolean {
    return this.running.get(id)?.tracker.cancellable ?? false;
  }

  // ---------------------------------------------------------------- plumbing

  private async begin(id: string, actor: Actor | undefined, kind: TrackedOperation): Promise<Op> {
    const loaded = this.loaded;
    const target = findTarget(loaded.config, id);
    if (this.running.has(target.id)) throw new BusyError(`${target.id} is busy with another operation in this process`, { target: target.id });
    const started = this.clock.now();
    const opId = newOperationId(started);
    const who = actor ?? this.actor;
    const driver = this.driverFor(loaded, target);
    const op: Op = {
      loaded, target, driver, opId, actor: who, started, startedMono: this.clock.monoMs(), timings: {}, abort: new AbortController(),
      tracker: new ProgressTracker(opId, kind), release: async () => undefined, version: '', feed: null,
    };
    this.running.set(target.id, op);
    try {
      const lock = await acquireTargetLock(loaded.config.state_dir, target.id, { actor: who, opId, clock: this.clock });
      op.release = () => lock.release();
      // Recovery runs once per operation, under the lock, before anything else.
      await this.recoverTarget(loaded, target, driver, 'recovery');
      await this.memory.get(target.id, 0);
    } catch (err) {
      this.running.delete(target.id);
      await op.release();
      throw err;
    }
    return op;
  }

  private async end(op: Op): Promise<void> {
    this.running.delete(op.target.id);
    this.live.ended(op.target.id);
    await op.release();
    if (this.live.get(op.target.id)?.kind !== 'failed') await this.live.settle(op.target.id);
    else await this.memory.refresh(op.target.id).catch(() => undefined);
  }

  /**
   * Records, announces and logs a report; for a failure also persists the error and moves the
   * state to `failed` (a cancel settles instead: cancel is not failure). Returns the caller's error.
   */
  private async conclude(op: Op, s: ReportSubject, report: Report, extra: Partial<HistoryRecord> = {}): Promise<ReportedError> {
    const e = report.error;
    this.bus.log(report.log.level, report.log.message, op.target.id);
    await this.recordOp(op, s, report.history, e, extra).catch((err: unknown) => {
      const what = !e && s.operation === 'apply' ? `${s.to} is installed, but recording it failed` : `recording the ${s.operation} failed`;
      this.bus.log('error', `${op.target.id}: ${what}: ${(err as Error).message}`, op.target.id);
    });
    if (report.notification) this.bus.notify(report.notification);
    if (e && e.code !== 'ERR_CANCELLED') {
      const error = { code: e.code, message: e.message };
      await this.writeRuntime(op.loaded, op.target.id, (rt) => ({ ...rt, last_error: error })).catch(() => undefined);
      this.live.set(op.target.id, { type: 'failed', error, at: this.clock.now().toISOString() });
    }
    return new ReportedError(e ?? new UpkeepError('ERR_INTERNAL', 'no error'));
  }

  private progress(op: Op, phase: Phase, message: string, fraction: number, d: ProgressDetails = {}, force = false): void {
    this.live.progress(op.target.id, op.tracker, phase, message, fraction, d, force);
  }

  /** Prunes the shared download cache after a commit; a failure is only logged (the commit stands). */
  private async pruneCache(op: Op): Promise<void> {
    const id = op.target.id;
    try {
      const freed = await pruneDownloadCache(op.loaded.config, this.clock);
      if (freed > 0) this.bus.log('info', `${id}: download cache pruned (${freed} bytes freed)`, id);
    } catch (err) {
      this.bus.log('warn', `${id}: pruning the download cache failed: ${(err as Error).message}`, id);
    }
  }

  private async timed<T>(op: Op, name: string, fn: () => Promise<T>): Promise<T> {
    const s = this.clock.monoMs();
    try {
      return await fn();
    } finally {
      op.timings[name] = (op.timings[name] ?? 0) + Math.round(this.clock.monoMs() - s);
    }
  }

  private historyBase(target: string, operation: OperationKind, actor: Actor, started: Date, startedMono: number, id?: string): HistoryBase {
    return this.historyWriter.base(target, operation, actor, started, startedMono, id);
  }

  private async recordOp(op: Op, s: ReportSubject, result: HistoryRecord['result'], e: UpkeepError | null = null, extra: Partial<HistoryRecord> = {}): Promise<void> {
    await this.record(op.loaded, {
      ...this.historyBase(op.target.id, s.operation, op.actor, op.started, op.startedMono, op.opId),
      from_version: s.from, to_version: result === 'up_to_date' ? s.from : s.to, result,
      error_code: e?.code ?? null, error_message: e?.message ?? null, timings: { ...op.timings }, ...extra,
    });
  }

  private record(loaded: LoadedConfig, rec: HistoryRecord): Promise<void> {
    return this.historyWriter.record(loaded.config.state_dir, rec);
  }
}

/** An error whose report was already recorded and announced (rethrown as is). */
class ReportedError extends Error {
  constructor(readonly error: UpkeepError) {
    super(error.message);
  }
}

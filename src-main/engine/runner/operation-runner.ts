/**
 * The operation runner: the one pipeline every target kind goes through (check → download →
 * verify → apply → health → commit, or rollback). It owns, for every kind: the in-process and
 * cross-process lock, recovery of an interrupted operation (once, under the lock), release
 * resolution through the target's `Feed`, download, live state, progress, history and
 * notifications. The runner (this module and its helpers in this folder: `phases.ts` for
 * resolve/download/verify and driver progress, `operation.ts` for the ending of an operation,
 * `apply-run.ts` and `rollback-run.ts` for the steps of those two operations, `recovery.ts`,
 * `release-list.ts`) is the only code that records history, notifies and writes state; feeds and
 * drivers (`feed/registry.ts`, `drivers/index.ts`) return values and never call back.
 */
import type {
  Actor, ApplyResult, CheckResult, DownloadResult, HistoryRecord, ReleaseList, RollbackPointView, RollbackResult, TargetView,
} from '../../../src-shared/api';
import { BusyError, UpkeepError, toUpkeepError } from '../../../src-shared/errors';
import type { TargetConfig } from '../config/schema';
import type { LoadedConfig } from '../config/load';
import { findTarget } from '../config/targets';
import { DEFAULT_LIMITS, type Limits } from '../limits';
import { EventBus } from '../events';
import { clockFrom, systemClock, type Clock } from '../clock';
import { targetPaths } from '../target-paths';
import { applyProxyConfig } from '../net/proxy';
import { driverFor, feedFor } from './wiring';
import { LiveState } from './live-state';
import { HistoryWriter } from './history-writer';
import { manifestDetails } from './manifest';
import type { Fetcher } from '../net/fetcher';
import { defaultFetcher } from '../net/default-fetcher';
import { materialiseRelease } from '../fetch-release';
import { readRuntime } from '../state/store';
import { readHistory } from '../history';
import { acquireTargetLock } from '../lock';
import { assertStateDirsSafe } from '../fs/strict-modes';
import { diskFullCause, isDiskFull } from '../fs/space';
import type { TargetDriver } from '../drivers';
import type { ManifestDetails } from '../daemon-types';
import { newOperationId } from '../operation-id';
import { ProgressTracker, type TrackedOperation } from './progress-tracker';
import { errorReport, type ReportSubject } from './reports';
import { SnapshotCache, readTargetFacts, type Snapshot } from './target-memory';
import { conclude, recordOp, type Op, type RunnerContext } from './operation';
import { checkPhase, fetchPhase } from './phases';
import { runCheck } from './check';
import { recoverAll, recoverTarget } from './recovery';
import { runRollback } from './rollback-run';
import { runApply } from './apply-run';
import { listReleases } from './release-list';

export { MAX_LISTED_RELEASES } from './release-list';

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

/** A snapshot older than this is re-read from disk on the next view (changes by other processes). */
const VIEW_MAX_AGE_MS = 1000;

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
  /** Targets whose interrupted operation could not be recovered (a corrupt journal): shown as their error. */
  private readonly recoveryErrors = new Map<string, UpkeepError>();
  /** The services the phases in phases.ts, operation.ts and recovery.ts share. */
  private readonly ctx: RunnerContext;

  constructor(o: RunnerOptions) {
    this.loaded = o.loaded;
    applyProxyConfig(o.loaded.config.proxy);
    this.clock = o.clock ?? (o.now ? clockFrom(o.now) : systemClock);
    this.actor = o.actor ?? 'cli';
    this.limits = o.limits ?? DEFAULT_LIMITS;
    this.bus = o.bus ?? new EventBus(this.clock);
    this.fetcher = o.fetcher ?? defaultFetcher;
    this.memory = new SnapshotCache((id) => this.readFacts(id), () => this.clock.monoMs());
    this.live = new LiveState(() => this.loaded, this.memory, this.bus, this.clock, () => this.limits.progressHz);
    this.ctx = {
      clock: this.clock, limits: this.limits, bus: this.bus, fetcher: this.fetcher,
      live: this.live, memory: this.memory, historyWriter: new HistoryWriter(this.clock, this.bus), feedLog: this.feedLog,
    };
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

  private driverFor(loaded: LoadedConfig, t: TargetConfig): Promise<TargetDriver> {
    return driverFor(loaded, t, this.ctx);
  }

  private async readFacts(id: string): Promise<Omit<Snapshot, 'read_at'>> {
    const loaded = this.loaded;
    const t = findTarget(loaded.config, id);
    return readTargetFacts(() => this.driverFor(loaded, t), () => readRuntime(loaded.config.state_dir, t.id), this.recoveryErrors.get(t.id) ?? null);
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

  /**
   * The views of every target, in config order. A target whose state files cannot be read is
   * listed with that error as `last_error` (and state `failed`): it never hides the others.
   */
  async views(): Promise<TargetView[]> {
    return Promise.all(this.loaded.config.targets.map((t) => this.view(t.id)));
  }

  /**
   * Why the last view of `id` could not read all of its persisted state (ERR_STATE_CORRUPT naming
   * the file, or a failed recovery), or null. Read after view()/views(); never reads the disk.
   */
  damage(id: string): UpkeepError | null {
    return this.memory.peek(findTarget(this.loaded.config, id).id)?.damage ?? null;
  }

  /**
   * Finishes or undoes what a crash interrupted, for every target whose lock is free. A target
   * whose recovery fails (a corrupt journal) is skipped and logged, and its views show the error
   * until a later recovery of it succeeds; the other targets are still recovered.
   */
  async recoverAll(actor: Actor = 'recovery'): Promise<Array<{ target: string; outcome: string }>> {
    const loaded = this.loaded;
    await assertStateDirsSafe(loaded.config);
    return recoverAll(this.ctx, loaded, (t) => this.driverFor(loaded, t), actor, (id, err) => {
      if (err) this.recoveryErrors.set(id, err);
      else this.recoveryErrors.delete(id);
    });
  }

  // ---------------------------------------------------------------- check

  /**
   * Fetches and verifies the feed; reports the newest eligible release. `quiet`: no history, no
   * failed state — unless `keepError`, which keeps a failure as the target's last error (see CheckRun).
   */
  async check(id: string, o: { actor?: Actor; quiet?: boolean; keepError?: boolean } = {}): Promise<CheckResult> {
    const loaded = this.loaded;
    const t = findTarget(loaded.config, id);
    // Before anything is written (runtime.json, feed memory, history, even a failed check's error).
    await assertStateDirsSafe(loaded.config);
    return runCheck(this.ctx, loaded, t, await this.driverFor(loaded, t), {
      actor: o.actor ?? this.actor, quiet: o.quiet ?? false, keepError: o.keepError ?? false, ownsState: !this.running.has(t.id), maxAgeMs: VIEW_MAX_AGE_MS,
      remember: (result) => this.lastChecks.set(t.id, { at: this.clock.monoMs(), result }),
    });
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

  /** The signed manifest of one version of a native feed, verified against the channel index. */
  async getManifest(id: string, version: string): Promise<ManifestDetails> {
    const loaded = this.loaded;
    const t = findTarget(loaded.config, id);
    const feed = await feedFor(loaded, t, await readRuntime(loaded.config.state_dir, t.id), this.ctx);
    return manifestDetails(feed, await (await this.driverFor(loaded, t)).currentVersion(), version);
  }

  /**
   * The installed release and the releases this machine may apply (newest first, at most
   * `MAX_LISTED_RELEASES`), each verified like `check` does, plus the newest release a staged
   * rollout still holds back. Changes nothing. Throws what loading the feed throws.
   */
  async listReleases(id: string): Promise<ReleaseList> {
    const loaded = this.loaded;
    const t = findTarget(loaded.config, id);
    return listReleases(loaded, t, await this.driverFor(loaded, t), this.ctx);
  }

  // ---------------------------------------------------------------- download / apply

  /** Downloads and verifies a release without installing it. */
  async download(id: string, o: { version?: string; actor?: Actor } = {}): Promise<DownloadResult> {
    const c = this.ctx;
    const op = await this.begin(id, o.actor, 'download');
    const subject: ReportSubject = { target: op.target.id, name: op.target.name ?? op.target.id, operation: 'download', from: null, to: o.version ?? null };
    try {
      subject.from = await op.driver.currentVersion();
      const r = await checkPhase(c, op, subject, o.version);
      if (!r) {
        await recordOp(c, op, subject, 'up_to_date');
        return { success: true, target: op.target.id, version: subject.from ?? '', download_path: '', files: 0, bytes: 0, reused_bytes: 0, up_to_date: true };
      }
      subject.to = r.release.version;
      const fetched = await fetchPhase(c, op, r.release);
      const dir = await materialiseRelease(targetPaths(op.loaded.config, op.target.id).releasesDir, r.release.version, fetched.artifacts, r.release.source.bytes);
      await recordOp(c, op, subject, 'success', null, { bytes_downloaded: fetched.bytes - fetched.reusedBytes });
      return { success: true, target: op.target.id, version: r.release.version, download_path: dir, files: fetched.artifacts.size, bytes: fetched.bytes, reused_bytes: fetched.reusedBytes };
    } catch (err) {
      throw (await conclude(c, op, subject, errorReport(subject, await diskFullCause(err)))).error;
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
    try {
      return await runApply(this.ctx, op, o);
    } finally {
      await this.end(op);
    }
  }

  // ---------------------------------------------------------------- rollback

  /** Restores the target to the state before rollback point `rollbackId` (default: the newest). */
  async rollback(id: string, o: { rollbackId?: string; actor?: Actor } = {}): Promise<RollbackResult> {
    const op = await this.begin(id, o.actor, 'rollback', o.rollbackId);
    try {
      return await runRollback(this.ctx, op, o.rollbackId, () => this.check(op.target.id, { actor: op.actor, quiet: true }));
    } finally {
      await this.end(op);
    }
  }

  /** Rollback points of a target, newest first. */
  async points(id: string): Promise<RollbackPointView[]> {
    const t = findTarget(this.loaded.config, id);
    return (await this.driverFor(this.loaded, t)).points();
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

  /** `rollbackId`: the point a rollback goes to (undefined: the newest). */
  private async begin(id: string, actor: Actor | undefined, kind: TrackedOperation, rollbackId?: string): Promise<Op> {
    const loaded = this.loaded;
    const target = findTarget(loaded.config, id);
    // Before the lock file, the journal, the cache or history is written: nothing is recorded.
    await assertStateDirsSafe(loaded.config);
    // The driver first: from the busy check to `running.set` nothing may await.
    const driver = await this.driverFor(loaded, target);
    if (this.running.has(target.id)) throw new BusyError(`${target.id} is busy with another operation in this process`, { target: target.id });
    const started = this.clock.now();
    const opId = newOperationId(started);
    const who = actor ?? this.actor;
    const op: Op = {
      loaded, target, driver, opId, actor: who, started, startedMono: this.clock.monoMs(), timings: {}, abort: new AbortController(),
      tracker: new ProgressTracker(opId, kind), release: async () => undefined, version: '', feed: null,
    };
    this.running.set(target.id, op);
    try {
      const lock = await acquireTargetLock(loaded.config.state_dir, target.id, { actor: who, opId, clock: this.clock });
      op.release = () => lock.release();
      // Recovery runs once per operation, under the lock, before anything else.
      await recoverTarget(this.ctx, loaded, target, driver, 'recovery');
      this.recoveryErrors.delete(target.id);
      // A state file that cannot be read refuses the operation (ERR_STATE_CORRUPT naming it); a
      // damaged rollback point refuses only the rollbacks that would consume it.
      const snap = await this.memory.get(target.id, 0);
      if (snap.damage) {
        if (kind !== 'rollback' || !snap.damage_in_points_only || !driver.assertRollbackIntact) throw snap.damage;
        await driver.assertRollbackIntact(rollbackId ?? null);
      }
    } catch (err) {
      this.running.delete(target.id);
      await op.release();
      // Out of space before the operation began (the lock file, the state dir): ERR_DISK_FULL.
      const cause = await diskFullCause(err);
      throw isDiskFull(cause) ? toUpkeepError(cause) : cause;
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
}

/**
 * The daemon core: one Engine, its event bus, the scheduler, webhooks, config hot reload and a
 * log ring — behind the DaemonCore interface that the HTTP server and Electron main drive.
 */
import { applyGroup, findGroup, type GroupResult } from './runner/target-group';
import type {
  Actor,
  ApplyResult, CheckResult, DaemonInfo, DownloadResult, HistoryRecord, LogLine, ReleaseList, RollbackPointView, RollbackResult,
  SettingsPatch, TargetView, UpkeepEvent,
} from '../../src-shared/api';
import { ConfigError, UpkeepError, toUpkeepError } from '../../src-shared/errors';
import { SettingsPatchSchema } from '../../src-shared/ipc-contract';
import type { DaemonCore, DaemonOptions, ManifestDetails, ReloadOutcome, RestartResult } from './daemon-types';
import { defaultTarget, diffRestartRequired, findTarget, loadConfig, type LoadedConfig } from './config/load';
import { OperationRunner } from './runner/operation-runner';
import { EventBus } from './events';
import { Scheduler } from './scheduler';
import { deliver } from './webhooks';
import { availableRelease, updateRuntime } from './state/store';
import { runHook } from './hooks';
import { isValidCron, type TargetConfig } from './config/schema';
import { effectivePolicy } from './policy';
import { packageVersion } from './version';
import { assertStateDirsSafe, limitUmask } from './fs/strict-modes';

const LOG_RING = 1000;

/** The runtime.json fields of a check's answer, cleared when that answer no longer stands. */
const UNCHECKED = { available: null, last_checked_at: null, rollout_pending: null } as const;

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  const set = new Set(a);
  return set.size === new Set(b).size && b.every((x) => set.has(x));
}

export class Daemon implements DaemonCore {
  private generation = 1;
  private restartRequired: string[] = [];
  private readonly startedAt: string;
  private readonly logRing: LogLine[] = [];
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly scheduler: Scheduler;
  private closed = false;
  private readonly unsubscribe: () => void;
  private readonly lastProgressSent = new Map<string, { phase: string; step: number }>();

  constructor(readonly engine: OperationRunner, private readonly opts: DaemonOptions, private readonly version: string) {
    this.startedAt = engine.clock.now().toISOString();
    this.scheduler = new Scheduler(engine, opts.now ?? (() => engine.clock.now()));
    this.unsubscribe = engine.bus.subscribe((e) => this.onEvent(e));
  }

  private onEvent(e: UpkeepEvent): void {
    if (e.type === 'log') {
      this.logRing.push(e.line);
      if (this.logRing.length > LOG_RING) this.logRing.splice(0, this.logRing.length - LOG_RING);
    } else if (e.type === 'notification') {
      for (const hook of this.engine.config().config.webhooks) {
        void deliver(hook, e.notification, { log: (m) => this.engine.bus.log('warn', m) });
      }
    } else if (e.type === 'progress') {
      // update_progress goes only to webhooks that list it (at most one per phase change or 10 %).
      const hooks = this.engine.config().config.webhooks.filter((h) => h.events?.includes('update_progress'));
      const last = this.lastProgressSent.get(e.target);
      const step = Math.floor(e.progress.percent / 10);
      if (hooks.length === 0 || (last && last.phase === e.progress.phase && last.step === step)) return;
      this.lastProgressSent.set(e.target, { phase: e.progress.phase, step });
      const n = { type: 'update_progress' as const, target: e.target, at: this.engine.clock.now().toISOString(), message: `${e.progress.phase}: ${e.progress.message} (${Math.round(e.progress.percent)}%)` };
      for (const hook of hooks) void deliver(hook, n, { log: (m) => this.engine.bus.log('warn', m) });
    }
  }

  /** Runs an operation, remembering it so close() can wait for it. */
  private track<T>(p: Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new UpkeepError('ERR_BUSY', 'The daemon is shutting down'));
    this.inflight.add(p);
    void p.then(() => this.inflight.delete(p), () => this.inflight.delete(p));
    return p;
  }

  config(): LoadedConfig {
    return this.engine.config();
  }

  async info(): Promise<DaemonInfo> {
    return {
      version: this.version,
      config_generation: this.generation,
      config_path: this.engine.config().path,
      started_at: this.startedAt,
      restart_required: [...this.restartRequired],
    };
  }

  defaultTargetId(): string {
    return defaultTarget(this.engine.config().config).id;
  }

  listTargets(): Promise<TargetView[]> {
    return this.engine.views();
  }

  getTarget(id: string): Promise<TargetView> {
    return this.engine.view(id);
  }

  check(id: string): Promise<CheckResult> {
    return this.track(this.engine.check(id, { actor: this.actor() }));
  }

  latestCheck(id: string, maxAgeS: number): Promise<CheckResult> {
    return this.track(this.engine.latestCheck(id, maxAgeS * 1000));
  }

  download(id: string, version?: string): Promise<DownloadResult> {
    return this.track(this.engine.download(id, { ...(version ? { version } : {}), actor: this.actor() }));
  }

  apply(id: string, o: { version?: string; verify_only?: boolean } = {}): Promise<ApplyResult> {
    this.userActed(id);
    return this.track(this.engine.apply(id, { ...(o.version ? { version: o.version } : {}), verifyOnly: Boolean(o.verify_only), actor: this.actor() }));
  }

  async cancel(id: string): Promise<{ cancelled: boolean }> {
    return { cancelled: this.engine.cancel(findTarget(this.engine.config().config, id).id) };
  }

  listPoints(id: string): Promise<RollbackPointView[]> {
    return this.engine.points(id);
  }

  listReleases(id: string): Promise<ReleaseList> {
    return this.engine.listReleases(id);
  }

  applyGroup(groupId: string): Promise<GroupResult> {
    const group = findGroup(this.engine.config().config, groupId);
    for (const id of group.targets) this.userActed(id);
    return this.track(applyGroup(this.engine, this.engine.config().config, group.id, { actor: this.actor() }));
  }

  rollback(id: string, rollbackId?: string): Promise<RollbackResult> {
    this.userActed(id);
    return this.track(this.engine.rollback(id, { ...(rollbackId ? { rollbackId } : {}), actor: this.actor() }));
  }

  history(id?: string, limit?: number): Promise<HistoryRecord[]> {
    return this.engine.history(id, limit);
  }

  /** A manual action on a target lifts the scheduler's hold on a failed automatic version. */
  private userActed(id: string): void {
    try {
      this.scheduler.clearFailure(findTarget(this.engine.config().config, id).id);
    } catch {
      // Unknown target: the operation itself reports ERR_TARGET_NOT_FOUND.
    }
  }

  /**
   * Adds `version` to the target's skipped versions. When it is the offered release, the last
   * check's answer no longer stands, and runtime.json keeps no other release of that check to fall
   * back on: the offer and the check time are cleared and one quiet check (no history line) runs
   * the feed's selection again with the new skip list — channel, platform, `min_upgrade_from`,
   * staged rollout and the other skipped versions as in every check —, so the next best eligible
   * release (an older one still newer than the installed version) is offered at once. When the
   * feed cannot be read now, the target rests in `failed` with the reason (never "up to date")
   * until the next check. Throws ERR_UNSAFE_STATE_DIR (nothing written) when the state dir is unsafe.
   */
  async skipVersion(id: string, version: string): Promise<TargetView> {
    const t = findTarget(this.engine.config().config, id);
    await assertStateDirsSafe(this.engine.config().config);
    let wasOffered = false;
    await updateRuntime(this.engine.config().config.state_dir, t.id, (rt) => {
      const skip = new Set([...(rt.settings?.skip_versions ?? []), version]);
      wasOffered = availableRelease(rt.available)?.version === version;
      const settings = { ...(rt.settings ?? {}), skip_versions: [...skip] };
      return wasOffered ? { ...rt, ...UNCHECKED, settings } : { ...rt, settings };
    });
    if (wasOffered) await this.reselect(t.id);
    return this.announce(t.id);
  }

  /**
   * One quiet check (no history line) after the offer was cleared: the feed's selection runs again
   * with the settings just written. A failure is kept as the target's last error, so it says why
   * at once (a channel the feed does not have: ERR_NO_RELEASE, "The feed has no channel …")
   * instead of "not checked"; the scheduler's next check retries.
   */
  private async reselect(id: string): Promise<void> {
    await this.engine.reread(id);
    await this.engine.check(id, { actor: this.actor(), quiet: true, keepError: true }).catch(() => undefined);
  }

  /**
   * Stores a settings patch in runtime.json over the file's values. When it changes the channel or
   * the skip list, the offer is cleared and the selection runs again at once (see reselect()), so a
   * version skipped here is no longer offered and one no longer skipped is offered again if it is
   * the best eligible release. Throws ERR_BAD_REQUEST for an invalid patch, ERR_TARGET_NOT_FOUND,
   * ERR_UNSAFE_STATE_DIR (nothing written).
   */
  async updateSettings(id: string, patch: SettingsPatch): Promise<TargetView> {
    const parsed = SettingsPatchSchema.safeParse(patch);
    if (!parsed.success) throw new UpkeepError('ERR_BAD_REQUEST', `Invalid settings: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    if (parsed.data.check_schedule && !isValidCron(parsed.data.check_schedule)) {
      throw new UpkeepError('ERR_BAD_REQUEST', `Invalid settings: check_schedule: "${parsed.data.check_schedule}" is not a valid cron expression`);
    }
    const t = findTarget(this.engine.config().config, id);
    await assertStateDirsSafe(this.engine.config().config);
    const changes = parsed.data as SettingsPatch;
    let reselect = false;
    await updateRuntime(this.engine.config().config.state_dir, t.id, (rt) => {
      const settings = { ...(rt.settings ?? {}), ...changes };
      // A changed channel or skip list decides which release is offered: the last check's answer
      // no longer stands (a version skipped here must not stay offered; one no longer skipped may
      // be the newest again), so the selection runs again at once, as skipVersion does.
      const before = effectivePolicy(t, rt.settings);
      const after = effectivePolicy(t, settings);
      reselect = before.channel !== after.channel || !sameMembers(before.skip_versions, after.skip_versions);
      return reselect ? { ...rt, ...UNCHECKED, settings } : { ...rt, settings };
    });
    this.scheduler.reset();
    if (reselect) await this.reselect(t.id);
    return this.announce(t.id);
  }

  private async announce(id: string): Promise<TargetView> {
    // The settings were written to runtime.json just now: the view must not come from an older snapshot.
    await this.engine.reread(id);
    const v = await this.engine.view(id);
    this.engine.bus.emit({ type: 'state', target: v });
    return v;
  }

  async reloadConfig(actor = 'api'): Promise<ReloadOutcome> {
    const old = this.engine.config();
    let next: LoadedConfig;
    try {
      next = await loadConfig({ ...(old.path ? { path: old.path } : {}), ...(this.opts.env ? { env: this.opts.env } : {}) });
    } catch (err) {
      const e = toUpkeepError(err, 'ERR_CONFIG_INVALID');
      this.engine.bus.notify({ type: 'config_reload_failed', target: null, error: { code: e.code, message: e.message }, message: `Configuration reload failed: ${e.message}`, config_generation: this.generation });
      this.engine.bus.log('error', `Configuration reload (${actor}) failed: ${e.message}`);
      throw e instanceof ConfigError ? e : new ConfigError(e.message);
    }
    this.restartRequired = diffRestartRequired(old.config, next.config);
    // Settings that need a restart keep their running values until then: swapping directories
    // under a live daemon would split locks, journals and rollback points across two places.
    next.config.state_dir = old.config.state_dir;
    next.config.download_dir = old.config.download_dir;
    next.config.backup_dir = old.config.backup_dir;
    next.config.log = { ...next.config.log, file: old.config.log.file };
    next.config.api = { ...next.config.api, host: old.config.api.host, port: old.config.api.port, enabled: old.config.api.enabled };
    this.engine.setConfig(next);
    this.generation += 1;
    this.scheduler.reset();
    await this.reselectMoved(old, next);
    this.engine.bus.notify({ type: 'config_reloaded', target: null, message: `Configuration reloaded (generation ${this.generation})`, config_generation: this.generation });
    this.engine.bus.log('info', `Configuration reloaded by ${actor}: generation ${this.generation}${this.restartRequired.length ? `; restart required for ${this.restartRequired.join(', ')}` : ''}`);
    for (const t of next.config.targets) void this.announce(t.id).catch(() => undefined);
    return { config_generation: this.generation, restart_required: [...this.restartRequired] };
  }

  /**
   * After a reload: every target that now follows another channel (as in effect, with the saved
   * settings over the file), feed or product had its offer chosen from the old one. That offer and
   * the check time are cleared and the selection runs again (see reselect()), so the old channel's
   * release is never shown as available and a failure (a channel the feed lacks: ERR_NO_RELEASE)
   * is the target's reason at once. Targets whose state dir cannot be written are left for the
   * next check.
   */
  private async reselectMoved(old: LoadedConfig, next: LoadedConfig): Promise<void> {
    const source = (t: TargetConfig, settings: SettingsPatch | undefined) =>
      JSON.stringify([effectivePolicy(t, settings).channel, 'feed' in t ? (t.feed ?? null) : null, 'product' in t ? (t.product ?? null) : null]);
    for (const t of next.config.targets) {
      const before = old.config.targets.find((o) => o.id === t.id);
      if (!before || source(before, undefined) === source(t, undefined)) continue;
      try {
        let moved = false;
        await updateRuntime(next.config.state_dir, t.id, (rt) => {
          moved = source(before, rt.settings) !== source(t, rt.settings);
          return moved ? { ...rt, ...UNCHECKED } : rt;
        });
        if (moved) await this.reselect(t.id);
      } catch (err) {
        this.engine.bus.log('warn', `${t.id}: the offer of the old channel could not be cleared after the reload: ${toUpkeepError(err).message}`, t.id);
      }
    }
  }

  async restart(id: string, _graceful: boolean): Promise<RestartResult> {
    const t = findTarget(this.engine.config().config, id);
    if (!t.restart) return { status: 'failed', message: `Target ${t.id} has no restart command configured` };
    try {
      const view = await this.engine.view(t.id);
      await runHook('restart', t.restart, { target: t.id, fromVersion: view.current_version, toVersion: view.current_version, installDir: t.install_dir, defaultTimeoutMs: t.hook_timeout * 1000 });
      return { status: 'restarted', message: `${t.name ?? t.id} restarted` };
    } catch (err) {
      return { status: 'failed', message: toUpkeepError(err).message };
    }
  }

  async logs(limit = 200): Promise<LogLine[]> {
    return this.logRing.slice(-limit);
  }

  subscribe(listener: (event: UpkeepEvent) => void): () => void {
    return this.engine.bus.subscribe(listener);
  }

  getManifest(id: string, version: string): Promise<ManifestDetails> {
    return this.engine.getManifest(id, version);
  }

  startScheduler(): void {
    this.scheduler.start();
  }

  /** Scheduler for tests that drive the clock. */
  get schedulerForTests(): Scheduler {
    return this.scheduler;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Stop starting work first, cancel what can still be cancelled safely, then wait for the rest.
    const schedulerStopped = this.scheduler.stop();
    for (const t of this.engine.config().config.targets) this.engine.cancel(t.id);
    await schedulerStopped;
    for (const t of this.engine.config().config.targets) this.engine.cancel(t.id);
    await Promise.allSettled([...this.inflight]);
    this.unsubscribe();
  }

  private actor(): Actor {
    return this.opts.actor ?? 'api';
  }
}


/** Loads the config, recovers interrupted operations and returns a running core (scheduler not started). */
export async function createDaemon(o: DaemonOptions = {}): Promise<Daemon> {
  limitUmask();
  const loaded = await loadConfig({ ...(o.configPath ? { path: o.configPath } : {}), ...(o.env ? { env: o.env } : {}) });
  const engine = new OperationRunner({ loaded, actor: o.actor ?? 'api', bus: new EventBus(), ...(o.now ? { now: o.now } : {}) });
  const recovered = await engine.recoverAll('recovery');
  const d = new Daemon(engine, o, packageVersion());
  for (const r of recovered) engine.bus.log('warn', `Recovered ${r.target}: ${r.outcome}`, r.target);
  return d;
}

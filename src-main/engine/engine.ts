/**
 * The update pipeline for every target: check → download → verify → stage → backup → switch →
 * health → commit, or rollback. One operation per target across processes (lock), every
 * operation in history, every change announced on the event bus. Hosts (CLI, daemon, tray) only
 * drive this class.
 */
import { applyProxyConfig } from './net/proxy';
import type {
  Actor, ApplyResult, CheckResult, DownloadResult, ErrorView, HistoryRecord, OperationKind, OperationResult,
  Progress, Phase, ReleaseList, ReleaseView, RollbackPointView, RollbackResult, TargetState, TargetView,
} from '../../src-shared/api';
import { BusyError, NotFoundError, UpkeepError, UsageError, toUpkeepError, OperationError } from '../../src-shared/errors';
import type { TargetConfig, FilesTargetConfig } from './config/schema';
import { findTarget, type LoadedConfig } from './config/load';
import { DEFAULT_LIMITS, type Limits } from './limits';
import { EventBus } from './events';
import { targetPaths } from './target-paths';
import { effectivePolicy } from './policy';
import { releaseView } from './release-view';
import { currentArch, currentPlatform } from './platform';
import { loadIndex, loadManifest, type FeedTarget, type LoadedManifest } from './feed/native-feed';
import { parseTrust } from './trust/feed-checks';
import { candidateReleases, checkUpgradePolicy, filesForPlatform, isInRollout } from './trust/select';
import { compareVersions, isValidVersion } from './trust/versions';
import { fetchRelease, materialiseRelease } from './fetch-release';
import { readInstalled, listPoints, recover } from './apply';
import { readRuntime, updateRuntime, type RuntimeState } from './state/store';
import { getMachineId } from './state/machine-id';
import { appendHistory, readHistory } from './history';
import { acquireTargetLock } from './lock';
import { runHook } from './hooks';
import type { ManifestDetails } from './daemon-types';
import { installFiles, rollbackFiles, verifyFiles, type ApplyFlags } from './files-target';
import { runCommandApply, runCommandRollback, commandCurrentVersion, listCommandPoints } from './command-target';
import { DsseEnvelopeSchema, isSymlinkEntry, type RegularManifestFile, type ReleaseManifest } from '../../src-shared/feed-schema';
import { availableOf, derivedState, newOperationId, resultOf } from './operation-helpers';

export interface EngineOptions {
  loaded: LoadedConfig;
  actor?: Actor;
  now?: () => Date;
  limits?: Limits;
  bus?: EventBus;
}

export interface OpContext {
  loaded: LoadedConfig;
  target: TargetConfig;
  opId: string;
  actor: Actor;
  started: Date;
  timings: Record<string, number>;
  abort: AbortController;
}

/** Most eligible releases `listReleases` verifies and returns (each costs a manifest fetch). */
export const MAX_LISTED_RELEASES = 20;

interface Resolved {
  current: string | null;
  chosen: LoadedManifest | null;
}



export class Engine {
  readonly bus: EventBus;
  readonly limits: Limits;
  private loaded: LoadedConfig;
  private readonly now: () => Date;
  private readonly actor: Actor;
  private readonly states = new Map<string, TargetState>();
  private readonly running = new Map<string, { abort: AbortController; cancellable: boolean }>();
  private readonly lastProgress = new Map<string, { op: string; phase: Phase; at: number }>();

  constructor(o: EngineOptions) {
    this.loaded = o.loaded;
    applyProxyConfig(o.loaded.config.proxy);
    this.now = o.now ?? (() => new Date());
    this.actor = o.actor ?? 'cli';
    this.limits = o.limits ?? DEFAULT_LIMITS;
    this.bus = o.bus ?? new EventBus();
  }

  /** The config in force for new operations. */
  config(): LoadedConfig {
    return this.loaded;
  }

  /** Swaps the config; operations already running keep the one they started with. */
  setConfig(loaded: LoadedConfig): void {
    this.loaded = loaded;
    applyProxyConfig(loaded.config.proxy);
  }

  /** Target config by id (id may be omitted when there is exactly one). */
  target(id?: string): TargetConfig {
    return findTarget(this.loaded.config, id);
  }

  isRunning(id: string): boolean {
    return this.running.has(id);
  }

  // ---------------------------------------------------------------- recovery

  /**
   * Finishes or undoes any operation a crash interrupted, for every target whose lock is free.
   * Run at the start of every command and of the daemon.
   */
  async recoverAll(actor: Actor = 'recovery'): Promise<Array<{ target: string; outcome: string }>> {
    const out: Array<{ target: string; outcome: string }> = [];
    for (const t of this.loaded.config.targets) {
      if (t.kind !== 'files') continue;
      let lock;
      try {
        lock = await acquireTargetLock(this.loaded.config.state_dir, t.id, { actor, opId: 'recovery' });
      } catch (err) {
        if (err instanceof UpkeepError && err.code === 'ERR_BUSY') continue; // a live operation owns it
        throw err;
      }
      try {
        const outcome = await this.recoverTarget(this.loaded, t, actor);
        if (outcome !== 'none') out.push({ target: t.id, outcome });
      } finally {
        await lock.release();
      }
    }
    return out;
  }

  private async recoverTarget(loaded: LoadedConfig, t: FilesTargetConfig, actor: Actor): Promise<string> {
    const p = targetPaths(loaded.config, t.id);
    const started = this.now();
    const outcome = await recover({ stateDir: p.stateDir, installDir: t.install_dir, pointsDir: p.pointsDir });
    if (outcome !== 'none') {
      const installed = await readInstalled(p.stateDir);
      this.bus.log('warn', `Recovered an interrupted operation on ${t.id}: ${outcome}`, t.id);
      await this.record(loaded, {
        id: newOperationId(started), target: t.id, operation: 'recover', actor,
        from_version: null, to_version: installed?.version ?? null, result: 'recovered',
        error_code: null, error_message: outcome === 'rolled-back' ? 'Interrupted operation undone' : 'Interrupted operation completed',
        started_at: started.toISOString(), finished_at: this.now().toISOString(), duration_ms: this.now().getTime() - started.getTime(),
      });
    }
    return outcome;
  }

  // ---------------------------------------------------------------- views

  /** The full view of one target (config, installed version, last check, live state). */
  async view(id: string): Promise<TargetView> {
    const loaded = this.loaded;
    const t = findTarget(loaded.config, id);
    const p = targetPaths(loaded.config, t.id);
    const runtime = await readRuntime(loaded.config.state_dir, t.id);
    const current = await this.currentVersion(loaded, t);
    const points = t.kind === 'files' ? await listPoints(p.pointsDir) : await listCommandPoints(p.stateDir);
    let available = availableOf(runtime);
    if (available && current && compareVersions(available.version, current) <= 0) available = null;
    return {
      id: t.id,
      name: t.name ?? t.id,
      kind: t.kind,
      layout: t.kind === 'files' ? t.layout : null,
      install_dir: t.install_dir,
      product: t.product ?? t.id,
      current_version: current,
      state: this.states.get(t.id) ?? derivedState(runtime, available),
      available,
      policy: effectivePolicy(t, runtime.settings, loaded.config.check_interval),
      last_checked_at: runtime.last_checked_at ?? null,
      last_error: runtime.last_error ?? null,
      points_count: points.length,
    };
  }

  async views(): Promise<TargetView[]> {
    return Promise.all(this.loaded.config.targets.map((t) => this.view(t.id)));
  }

  private async currentVersion(loaded: LoadedConfig, t: TargetConfig): Promise<string | null> {
    const p = targetPaths(loaded.config, t.id);
    if (t.kind === 'command') return commandCurrentVersion(p.stateDir, t);
    return (await readInstalled(p.stateDir))?.version ?? null;
  }

  private async setState(id: string, s: TargetState | null): Promise<void> {
    if (s) this.states.set(id, s);
    else this.states.delete(id);
    try {
      this.bus.emit({ type: 'state', target: await this.view(id) });
    } catch {
      // A view that cannot be built (target removed by a reload) is not announced.
    }
  }

  // ---------------------------------------------------------------- check

  /** Fetches and verifies the feed; reports the newest eligible release. */
  async check(id: string, o: { actor?: Actor; quiet?: boolean } = {}): Promise<CheckResult> {
    const loaded = this.loaded;
    const t = findTarget(loaded.config, id);
    const actor = o.actor ?? this.actor;
    const started = this.now();
    const before = await readRuntime(loaded.config.state_dir, t.id);
    if (!this.running.has(t.id)) await this.setState(t.id, { kind: 'checking' });
    try {
      const r = await this.resolve(loaded, t, {});
      const checkedAt = this.now().toISOString();
      const release = r.chosen ? releaseView(r.chosen.manifest, r.chosen.sha256, r.current, this.selectFiles(t, r.chosen)) : null;
      await updateRuntime(loaded.config.state_dir, t.id, (rt) => ({ ...rt, last_checked_at: checkedAt, available: release, last_error: null }));
      const result: CheckResult = {
        target: t.id,
        current_version: r.current,
        latest_version: release?.version ?? r.current,
        update_available: release !== null,
        is_critical: release?.is_critical ?? false,
        is_breaking: release?.is_breaking ?? false,
        release_notes: release?.release_notes ?? '',
        release,
        checked_at: checkedAt,
      };
      if (!this.running.has(t.id)) await this.setState(t.id, null);
      if (release && availableOf(before)?.version !== release.version) {
        this.bus.notify({
          type: 'update_available', target: t.id, version: release.version, from_version: r.current, is_critical: release.is_critical,
          message: `${t.name ?? t.id} ${release.version} is available${release.is_critical ? ' (critical)' : ''}`,
        });
      }
      this.bus.log('info', release ? `${t.id}: ${release.version} is available (installed: ${r.current ?? 'nothing'})` : `${t.id}: up to date (${r.current ?? 'nothing installed'})`, t.id);
      if (!o.quiet && (release || actor !== 'scheduler')) {
        await this.record(loaded, this.historyRecord(t.id, 'check', actor, started, r.current, release?.version ?? null, release ? 'success' : 'up_to_date'));
      }
      return result;
    } catch (err) {
      const e = toUpkeepError(err);
      if (o.quiet) {
        if (!this.running.has(t.id)) await this.setState(t.id, null);
        throw e;
      }
      this.bus.log('error', `${t.id}: check failed: ${e.message} (${e.code})`, t.id);
      await updateRuntime(loaded.config.state_dir, t.id, (rt) => ({ ...rt, last_checked_at: this.now().toISOString(), last_error: { code: e.code, message: e.message } }));
      if (!this.running.has(t.id)) await this.setState(t.id, { kind: 'failed', error: { code: e.code, message: e.message }, at: this.now().toISOString() });
      await this.record(loaded, this.historyRecord(t.id, 'check', actor, started, null, null, resultOf(e), e));
      throw e;
    }
  }

  /** Picks the release to act on: `version` exactly, else the newest eligible one. */
  private async resolve(loaded: LoadedConfig, t: TargetConfig, o: { version?: string; signal?: AbortSignal }): Promise<Resolved> {
    const current = await this.currentVersion(loaded, t);
    const runtime = await readRuntime(loaded.config.state_dir, t.id);
    const ft = this.feedTarget(loaded, t, runtime);
    // No feed (a command target driven by --version only): nothing to resolve.
    if (!ft) return { current, chosen: null };
    const ctx = { stateDir: loaded.config.state_dir, limits: this.limits, now: this.now, ...(o.signal ? { signal: o.signal } : {}) };
    const { index, feedRoot } = await loadIndex(ft, ctx);
    const policy = effectivePolicy(t, runtime.settings, loaded.config.check_interval);
    if (o.version) {
      const entry = index.releases.find((e) => e.version === o.version);
      if (!entry) throw new NotFoundError('ERR_MANIFEST_NOT_FOUND', `Manifest not found for version: ${o.version}`, { version: o.version });
      const chosen = await loadManifest(ft, feedRoot, entry, ctx);
      if (!this.hasFilesForMachine(t, chosen)) {
        throw new NotFoundError('ERR_NO_RELEASE', `${chosen.manifest.version} has no files for ${this.machineLabel(t)}`, { version: chosen.manifest.version });
      }
      checkUpgradePolicy({ current, target: chosen.manifest, allowDowngrade: policy.allow_downgrade });
      return { current, chosen };
    }
    const machineId = await getMachineId(loaded.config.state_dir);
    const candidates = candidateReleases(index, { current, skip: policy.skip_versions, machineId, product: ft.product });
    let blocked: UpkeepError | null = null;
    for (const entry of candidates) {
      const lm = await loadManifest(ft, feedRoot, entry, ctx);
      // A release built only for other platforms is not an update for this machine (installing
      // its empty file set would remove every managed file).
      if (!this.hasFilesForMachine(t, lm)) continue;
      try {
        checkUpgradePolicy({ current, target: lm.manifest, allowDowngrade: policy.allow_downgrade });
        return { current, chosen: lm };
      } catch (err) {
        if (err instanceof UpkeepError && err.code === 'ERR_INCOMPATIBLE_UPGRADE') {
          blocked ??= err;
          continue;
        }
        throw err;
      }
    }
    if (blocked) throw blocked;
    return { current, chosen: null };
  }

  private feedTarget(loaded: LoadedConfig, t: TargetConfig, runtime: RuntimeState): FeedTarget | null {
    if (!t.feed || !t.trust || !t.product) return null;
    const policy = effectivePolicy(t, runtime.settings, loaded.config.check_interval);
    return {
      id: t.id,
      product: t.product,
      channel: policy.channel,
      feedUrl: t.feed.url,
      allowInsecureHttp: t.feed.allow_insecure_http,
      trust: parseTrust(t.trust),
    };
  }

  /** Command targets may take file-less releases; a files target needs files for this machine. */
  private hasFilesForMachine(t: TargetConfig, lm: LoadedManifest): boolean {
    return t.kind !== 'files' || this.selectFiles(t, lm).length > 0;
  }

  private machineLabel(t: TargetConfig): string {
    return `${currentPlatform(t.kind === 'files' ? t.platform : undefined)}/${currentArch(t.kind === 'files' ? t.arch : undefined)}`;
  }

  private selectFiles(t: TargetConfig, lm: LoadedManifest) {
    const plat = t.kind === 'files' ? t.platform : undefined;
    const arch = t.kind === 'files' ? t.arch : undefined;
    return filesForPlatform(lm.manifest, currentPlatform(plat), currentArch(arch));
  }

  /** The signed manifest of one version, verified against the channel index. */
  async getManifest(id: string, version: string): Promise<ManifestDetails> {
    const loaded = this.loaded;
    const t = findTarget(loaded.config, id);
    const ft = this.feedTarget(loaded, t, await readRuntime(loaded.config.state_dir, t.id));
    if (!ft) throw new NotFoundError('ERR_MANIFEST_NOT_FOUND', `Manifest not found for version: ${version}`);
    const ctx = { stateDir: loaded.config.state_dir, limits: this.limits, now: this.now };
    const { index, feedRoot } = await loadIndex(ft, ctx);
    const entry = index.releases.find((e) => e.version === version);
    if (!entry) throw new NotFoundError('ERR_MANIFEST_NOT_FOUND', `Manifest not found for version: ${version}`, { version });
    const lm = await loadManifest(ft, feedRoot, entry, ctx);
    const current = await this.currentVersion(loaded, t);
    return {
      release: releaseView(lm.manifest, lm.sha256, current, this.selectFiles(t, lm)),
      envelope: DsseEnvelopeSchema.parse(JSON.parse(lm.bytes.toString('utf8'))),
      manifest_sha256: lm.sha256,
    };
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
    const current = await this.currentVersion(loaded, t);
    const ft = this.feedTarget(loaded, t, runtime);
    if (!ft) return { target: t.id, current_version: current, installed: null, eligible: [], rollout_pending: null };
    const ctx = { stateDir: loaded.config.state_dir, limits: this.limits, now: this.now };
    const { index, feedRoot } = await loadIndex(ft, ctx);
    const policy = effectivePolicy(t, runtime.settings, loaded.config.check_interval);
    const machineId = await getMachineId(loaded.config.state_dir);
    const view = (lm: LoadedManifest): ReleaseView => releaseView(lm.manifest, lm.sha256, current, this.selectFiles(t, lm));
    const eligible: ReleaseView[] = [];
    for (const entry of candidateReleases(index, { current, skip: policy.skip_versions, machineId, product: ft.product })) {
      if (eligible.length >= MAX_LISTED_RELEASES) break;
      const lm = await loadManifest(ft, feedRoot, entry, ctx);
      if (!this.hasFilesForMachine(t, lm)) continue;
      try {
        checkUpgradePolicy({ current, target: lm.manifest, allowDowngrade: policy.allow_downgrade });
      } catch (err) {
        if (err instanceof UpkeepError && err.code === 'ERR_INCOMPATIBLE_UPGRADE') continue;
        throw err;
      }
      eligible.push(view(lm));
    }
    const installedEntry = current === null ? undefined : index.releases.find((e) => e.version === current);
    const installed = installedEntry ? view(await loadManifest(ft, feedRoot, installedEntry, ctx)) : null;
    const floor = eligible[0]?.version ?? current;
    const held = index.releases
      .filter((e) => isValidVersion(e.version) && (floor === null || compareVersions(e.version, floor) > 0))
      .filter((e) => !policy.skip_versions.includes(e.version) && !isInRollout(e, machineId, ft.product))
      .sort((a, b) => compareVersions(b.version, a.version))[0];
    return {
      target: t.id,
      current_version: current,
      installed,
      eligible,
      rollout_pending: held ? { version: held.version, percent: Math.max(0, Math.min(100, held.rollout?.percent ?? 100)) } : null,
    };
  }

  // ---------------------------------------------------------------- download / apply

  /** Downloads and verifies a release without installing it. */
  async download(id: string, o: { version?: string; actor?: Actor } = {}): Promise<DownloadResult> {
    const ctx = await this.begin(id, o.actor);
    try {
      const r = await this.resolve(ctx.loaded, ctx.target, { ...(o.version ? { version: o.version } : {}), signal: ctx.abort.signal });
      if (!r.chosen) {
        await this.record(ctx.loaded, this.historyRecord(ctx.target.id, 'download', ctx.actor, ctx.started, r.current, r.current, 'up_to_date', undefined, ctx.opId));
        return { success: true, target: ctx.target.id, version: r.current ?? '', download_path: '', files: 0, bytes: 0, reused_bytes: 0, up_to_date: true };
      }
      const fetched = await this.fetchPhase(ctx, r.chosen);
      const p = targetPaths(ctx.loaded.config, ctx.target.id);
      const dir = await materialiseRelease(p.releasesDir, r.chosen.manifest.version, fetched.blobs, r.chosen.bytes);
      const rec = this.historyRecord(ctx.target.id, 'download', ctx.actor, ctx.started, r.current, r.chosen.manifest.version, 'success', undefined, ctx.opId, ctx.timings);
      rec.bytes_downloaded = fetched.bytes - fetched.reusedBytes;
      await this.record(ctx.loaded, rec);
      return {
        success: true, target: ctx.target.id, version: r.chosen.manifest.version, download_path: dir,
        files: fetched.blobs.size, bytes: fetched.bytes, reused_bytes: fetched.reusedBytes,
      };
    } catch (err) {
      const e = toUpkeepError(err);
      await this.record(ctx.loaded, this.historyRecord(ctx.target.id, 'download', ctx.actor, ctx.started, null, o.version ?? null, resultOf(e), e, ctx.opId));
      await this.fail(ctx, e);
      throw e;
    } finally {
      await this.end(ctx);
    }
  }

  /**
   * Installs a release (the newest eligible one, or `version`), verifying everything first; with
   * `verifyOnly` it stops after verification. A failing migrate/smoke hook or health check after
   * the switch rolls back automatically and rethrows with details.rolled_back = true.
   */
  async apply(id: string, o: { version?: string; verifyOnly?: boolean; actor?: Actor } = {}): Promise<ApplyResult> {
    const ctx = await this.begin(id, o.actor);
    const t = ctx.target;
    const op: OperationKind = o.verifyOnly ? 'verify' : 'apply';
    let current: string | null = null;
    let toVersion: string | null = o.version ?? null;
    // Set by the install: the tree was switched; the commit is durable.
    const flags: ApplyFlags = { switched: false, committed: false };
    try {
      if (t.kind === 'command') {
        const r = await this.resolve(ctx.loaded, t, { ...(o.version ? { version: o.version } : {}), signal: ctx.abort.signal });
        current = r.current;
        const version = r.chosen?.manifest.version ?? o.version ?? null;
        if (!version) return await this.upToDate(ctx, op, current, !!o.verifyOnly);
        if (!r.chosen) {
          // No feed: the version comes from the caller; hold it to the same rules as feed versions.
          if (!isValidVersion(version)) throw new UsageError('ERR_USAGE', `"${version}" is not a SemVer version`);
          checkUpgradePolicy({ current, target: { version } as ReleaseManifest, allowDowngrade: effectivePolicy(t, (await readRuntime(ctx.loaded.config.state_dir, t.id)).settings).allow_downgrade });
        }
        toVersion = version;
        return await runCommandApply(this, ctx, t, { from: current, to: version, verifyOnly: !!o.verifyOnly, manifest: r.chosen });
      }
      if (t.kind !== 'files') throw new UpkeepError('ERR_INTERNAL', 'unknown target kind');
      const r = await this.resolve(ctx.loaded, t, { ...(o.version ? { version: o.version } : {}), signal: ctx.abort.signal });
      current = r.current;
      if (!r.chosen) return await this.upToDate(ctx, op, current, !!o.verifyOnly);
      const m = r.chosen.manifest;
      toVersion = m.version;
      this.bus.log('info', `${t.id}: ${o.verifyOnly ? 'verifying' : 'updating'} ${current ?? 'nothing'} -> ${m.version} (by ${ctx.actor})`, t.id);
      if (!o.verifyOnly) {
        this.bus.notify({ type: 'update_started', target: t.id, version: m.version, from_version: current, is_critical: m.is_critical, message: `Updating ${t.name ?? t.id} to ${m.version}` });
      }
      const fetched = await this.fetchPhase(ctx, r.chosen);
      const files = this.selectFiles(t, r.chosen);
      if (o.verifyOnly) return await verifyFiles(this, ctx, t, { manifest: m, files, current });
      return await installFiles(this, ctx, t, { manifest: m, files, fetched, current }, flags);
    } catch (err) {
      let e = toUpkeepError(err);
      if (flags.committed) {
        e = new OperationError('ERR_APPLY_FAILED', `${toVersion} is installed, but finishing the update failed: ${e.message} — the next Upkeep command completes it`, { ...(e.details ?? {}), committed: true });
      }
      const rolledBack = flags.switched && !flags.committed && !e.details?.undo_failed && t.kind === 'files';
      this.bus.log('error', `${t.id}: ${op} of ${toVersion ?? 'the newest release'} failed: ${e.message} (${e.code})${rolledBack ? '; rolled back' : ''}`, t.id);
      if (rolledBack) {
        const withDetails = new OperationError(e.code, `${e.message} — rolled back to ${current ?? 'the previous state'}`, { ...(e.details ?? {}), rolled_back: true });
        try {
          await runHook('rollback', t.hooks.rollback, { target: t.id, fromVersion: toVersion, toVersion: current, installDir: t.install_dir, defaultTimeoutMs: t.hook_timeout * 1000 });
        } catch (hookErr) {
          this.bus.log('error', `rollback hook failed: ${(hookErr as Error).message}`, t.id);
        }
        await this.record(ctx.loaded, this.historyRecord(t.id, op, ctx.actor, ctx.started, current, toVersion, 'rolled_back', e, ctx.opId, ctx.timings));
        this.bus.notify({ type: 'rolled_back', target: t.id, version: current, from_version: toVersion, error: { code: e.code, message: e.message }, message: `${t.name ?? t.id} ${toVersion} failed (${e.code}); rolled back to ${current ?? 'the previous state'}` });
        await this.fail(ctx, withDetails);
        throw withDetails;
      }
      await this.record(ctx.loaded, this.historyRecord(t.id, op, ctx.actor, ctx.started, current, toVersion, e.details?.rolled_back ? 'rolled_back' : resultOf(e), e, ctx.opId, ctx.timings));
      if (!e.details?.rolled_back) {
        this.bus.notify({ type: 'update_failed', target: t.id, version: toVersion, from_version: current, error: { code: e.code, message: e.message }, message: `${t.name ?? t.id}: ${e.message}` });
      }
      await this.fail(ctx, e);
      throw e;
    } finally {
      await this.end(ctx);
    }
  }

  private async upToDate(ctx: OpContext, op: OperationKind, current: string | null, verifyOnly: boolean): Promise<ApplyResult> {
    await this.record(ctx.loaded, this.historyRecord(ctx.target.id, op, ctx.actor, ctx.started, current, current, 'up_to_date', undefined, ctx.opId));
    return { success: true, target: ctx.target.id, version: current ?? '', from_version: current, verify_only: verifyOnly, files_updated: [], files_removed: [], rollback_id: null, operation_id: ctx.opId, up_to_date: true };
  }

  private async fetchPhase(ctx: OpContext, lm: LoadedManifest) {
    const t = ctx.target;
    const files = this.selectFiles(t, lm).filter((f): f is RegularManifestFile => !isSymlinkEntry(f));
    const p = targetPaths(ctx.loaded.config, t.id);
    await this.setState(t.id, { kind: 'downloading', version: lm.manifest.version, progress: this.makeProgress(ctx, 'download', `Downloading ${lm.manifest.version}`, 0) });
    const started = Date.now();
    const fetched = await fetchRelease({
      files, manifestUrl: lm.url, cacheDir: p.cacheDir, allowInsecureHttp: t.feed?.allow_insecure_http ?? false, limits: this.limits, signal: ctx.abort.signal,
      // Staging copies every file next to its destination at most once (backups are renames).
      ...(t.kind === 'files' ? { reserve: [{ dir: t.install_dir, bytes: files.reduce((n, f) => n + f.size, 0) }] } : {}),
      onProgress: (s) => this.progress(ctx, 'download', `Downloading${s.file ? ` ${s.file}` : ''}`, Math.round((s.bytes_done / Math.max(1, s.bytes_total)) * 50), s),
    });
    ctx.timings.download = Date.now() - started;
    return fetched;
  }

  // ---------------------------------------------------------------- rollback

  /** Restores the target to the state before rollback point `rollbackId` (default: the newest). */
  async rollback(id: string, o: { rollbackId?: string; actor?: Actor } = {}): Promise<RollbackResult> {
    const ctx = await this.begin(id, o.actor);
    const t = ctx.target;
    let refreshAfter = false;
    try {
      this.markNotCancellable(ctx);
      if (t.kind !== 'files') {
        const res = await runCommandRollback(this, ctx, t, o.rollbackId ?? null);
        await updateRuntime(ctx.loaded.config.state_dir, t.id, (rt) => ({ ...rt, last_error: null }));
        refreshAfter = true;
        return res;
      }
      await this.setState(t.id, { kind: 'rolling-back', to_version: null, progress: this.makeProgress(ctx, 'rollback', 'Rolling back', 0) });
      const res = await rollbackFiles(this, ctx, t, o.rollbackId ?? null);
      refreshAfter = true;
      return res;
    } catch (err) {
      const e = toUpkeepError(err);
      this.bus.log('error', `${t.id}: rollback failed: ${e.message} (${e.code})`, t.id);
      await this.record(ctx.loaded, this.historyRecord(t.id, 'rollback', ctx.actor, ctx.started, null, null, resultOf(e), e, ctx.opId));
      await this.fail(ctx, e);
      throw e;
    } finally {
      await this.end(ctx);
      // The versions rolled back from are still published: show them as available again.
      if (refreshAfter) await this.check(t.id, { actor: ctx.actor, quiet: true }).catch(() => undefined);
    }
  }

  /** Rollback points of a target, newest first. */
  async points(id: string): Promise<RollbackPointView[]> {
    const t = findTarget(this.loaded.config, id);
    const p = targetPaths(this.loaded.config, t.id);
    if (t.kind === 'command') return listCommandPoints(p.stateDir);
    const list = await listPoints(p.pointsDir);
    return list.map((pt) => ({
      rollback_id: pt.rollback_id, target: pt.target, from_version: pt.from_version, to_version: pt.to_version,
      created_at: pt.created_at, size_bytes: pt.size_bytes, files: pt.files,
    }));
  }

  /** History records, newest first. */
  async history(id?: string, limit = 100): Promise<HistoryRecord[]> {
    const target = id !== undefined ? findTarget(this.loaded.config, id).id : undefined;
    return readHistory(this.loaded.config.state_dir, { ...(target ? { target } : {}), limit });
  }

  /** From now on the running operation of ctx's target can no longer be cancelled safely. */
  markNotCancellable(ctx: OpContext): void {
    const r = this.running.get(ctx.target.id);
    if (r) r.cancellable = false;
  }

  /** Cancels the running operation of `id` while that is still safe. */
  cancel(id: string): boolean {
    const r = this.running.get(id);
    if (!r || !r.cancellable) return false;
    r.abort.abort(new UpkeepError('ERR_CANCELLED', 'Cancelled by the user'));
    return true;
  }

  // ---------------------------------------------------------------- plumbing

  private async begin(id: string, actor?: Actor): Promise<OpContext> {
    const loaded = this.loaded;
    const target = findTarget(loaded.config, id);
    if (this.running.has(target.id)) throw new BusyError(`${target.id} is busy with another operation in this process`, { target: target.id });
    const started = this.now();
    const opId = newOperationId(started);
    const who = actor ?? this.actor;
    const lock = await acquireTargetLock(loaded.config.state_dir, target.id, { actor: who, opId });
    const abort = new AbortController();
    this.running.set(target.id, { abort, cancellable: true });
    const ctx: OpContext & { release?: () => Promise<void> } = { loaded, target, opId, actor: who, started, timings: {}, abort };
    ctx.release = () => lock.release();
    try {
      if (target.kind === 'files') await this.recoverTarget(loaded, target, 'recovery');
    } catch (err) {
      this.running.delete(target.id);
      await lock.release();
      throw err;
    }
    return ctx;
  }

  private async end(ctx: OpContext & { release?: () => Promise<void> }): Promise<void> {
    this.running.delete(ctx.target.id);
    await ctx.release?.();
    if (this.states.get(ctx.target.id)?.kind !== 'failed') await this.setState(ctx.target.id, null);
  }

  private async fail(ctx: OpContext, e: UpkeepError): Promise<void> {
    const error: ErrorView = { code: e.code, message: e.message };
    await updateRuntime(ctx.loaded.config.state_dir, ctx.target.id, (rt) => ({ ...rt, last_error: error })).catch(() => undefined);
    await this.setState(ctx.target.id, { kind: 'failed', error, at: this.now().toISOString() });
  }

  /** Runs one phase, timing it and announcing it. */
  async phase<T>(ctx: OpContext, phase: Phase, message: string, percent: number, fn: () => Promise<T>): Promise<T> {
    this.progress(ctx, phase, message, percent);
    return this.timed(ctx, phase, fn);
  }

  async timed<T>(ctx: OpContext, name: string, fn: () => Promise<T>): Promise<T> {
    const s = Date.now();
    try {
      return await fn();
    } finally {
      ctx.timings[name] = (ctx.timings[name] ?? 0) + (Date.now() - s);
    }
  }

  makeProgress(ctx: OpContext, phase: Phase, message: string, percent: number, extra: Partial<Progress> = {}): Progress {
    return {
      operation_id: ctx.opId, phase, message, bytes_done: 0, bytes_total: 0, speed_bps: 0, eta_s: null,
      files_done: 0, files_total: 0, percent, cancellable: this.running.get(ctx.target.id)?.cancellable ?? false, ...extra,
    };
  }

  /**
   * Emits a progress event and keeps the target's live state in step with it. Events within one
   * phase are throttled to limits.progressHz; a new phase and 100 % always go out.
   */
  progress(ctx: OpContext, phase: Phase, message: string, percent: number, extra: Partial<Progress> = {}): void {
    const last = this.lastProgress.get(ctx.target.id);
    const nowMs = Date.now();
    if (last && last.op === ctx.opId && last.phase === phase && percent < 100 && nowMs - last.at < 1000 / this.limits.progressHz) return;
    this.lastProgress.set(ctx.target.id, { op: ctx.opId, phase, at: nowMs });
    const p = this.makeProgress(ctx, phase, message, percent, extra);
    const version = (this.states.get(ctx.target.id) as { version?: string } | undefined)?.version ?? '';
    const kind: TargetState['kind'] = phase === 'download' ? 'downloading' : phase === 'verify' ? 'verifying' : phase === 'health' ? 'health-checking' : phase === 'rollback' ? 'rolling-back' : 'applying';
    const state: TargetState = kind === 'rolling-back' ? { kind, to_version: null, progress: p } : { kind, version, progress: p } as TargetState;
    this.states.set(ctx.target.id, state);
    this.bus.emit({ type: 'progress', target: ctx.target.id, progress: p });
  }

  historyRecord(target: string, operation: OperationKind, actor: Actor, started: Date, from: string | null, to: string | null, result: OperationResult, e?: UpkeepError, id?: string, timings?: Record<string, number>): HistoryRecord {
    const finished = this.now();
    return {
      id: id ?? newOperationId(started), target, operation, actor, from_version: from, to_version: to, result,
      error_code: e?.code ?? null, error_message: e?.message ?? null,
      started_at: started.toISOString(), finished_at: finished.toISOString(), duration_ms: finished.getTime() - started.getTime(),
      ...(timings ? { timings: { ...timings } } : {}),
    };
  }

  async record(loaded: LoadedConfig, rec: HistoryRecord): Promise<void> {
    await appendHistory(loaded.config.state_dir, rec);
    this.bus.emit({ type: 'history', record: rec });
  }
}


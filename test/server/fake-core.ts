/**
 * An in-memory DaemonCore for the HTTP server's tests: targets, releases, rollback points, history
 * and logs held in maps; every call recorded; events emitted to subscribers like the real core;
 * any method can be told to fail with a given stable code.
 */
import type { GroupResult } from '../../src-main/engine/runner/target-group';
import path from 'node:path';
import type {
  ApplyResult,
  CheckResult,
  DaemonInfo,
  DownloadResult,
  HistoryRecord,
  LogLine,
  ReleaseList,
  ReleaseView,
  RollbackPointView,
  RollbackResult,
  SettingsPatch,
  TargetView,
  UpkeepEvent,
} from '../../src-shared/api';
import { ConfigError, NotFoundError, UpkeepError, type ErrorCode } from '../../src-shared/errors';
import type { DaemonCore, ManifestDetails, ReloadOutcome, RestartResult } from '../../src-main/engine/daemon-types';
import type { LoadedConfig } from '../../src-main/engine/config/load';
import { ConfigSchema, type RawConfig } from '../../src-main/engine/config/schema';

export type RawApi = NonNullable<RawConfig['api']>;

/** A valid config with two targets: `app` (default, has a restart command) and `tool`. */
export function makeConfig(api: RawApi = {}, dir = '/srv/upkeep'): LoadedConfig {
  const raw: RawConfig = {
    api,
    targets: [
      {
        id: 'app',
        kind: 'files',
        product: 'demo',
        install_dir: path.join(dir, 'app'),
        feed: { url: 'http://127.0.0.1:1/feed' },
        trust: { keys: ['ed25519:' + Buffer.alloc(32, 9).toString('base64')] },
        restart: 'systemctl restart demo',
        default: true,
      },
      {
        id: 'tool',
        kind: 'files',
        product: 'tool',
        install_dir: path.join(dir, 'tool'),
        feed: { url: 'http://127.0.0.1:1/tool' },
        trust: { keys: ['ed25519:' + Buffer.alloc(32, 9).toString('base64')] },
      },
    ],
  };
  return { config: ConfigSchema.parse(raw), path: path.join(dir, 'upkeep.yaml'), dir, text: null };
}

/** A release view of `version` with one file. */
export function makeRelease(version: string, o: Partial<ReleaseView> = {}): ReleaseView {
  return {
    version,
    tag_name: `v${version}`,
    channel: 'stable',
    released_at: '2025-01-20T10:30:00Z',
    release_notes: `Notes for ${version}`,
    is_critical: false,
    is_breaking: false,
    breaking_changes: [],
    migrations_required: false,
    min_upgrade_from: null,
    build_commit: `c0ffee${version.replace(/\D/g, '')}`,
    manifest_sha256: 'ab'.repeat(32),
    verification: 'signed',
    files: [
      { path: 'bin/demo', type: 'executable', sha256: 'cd'.repeat(32), size: 1024, platform: 'linux', arch: 'x64', url: `http://127.0.0.1:1/files/${version}/bin/demo` },
    ],
    file_count: 1,
    total_size: 1024,
    ...o,
  };
}

function view(id: string, current: string | null, install: string): TargetView {
  return {
    id,
    name: id,
    kind: 'files',
    layout: 'in-place',
    install_dir: install,
    product: id === 'app' ? 'demo' : 'tool',
    current_version: current,
    state: { kind: 'idle' },
    available: null,
    policy: {
      channel: 'stable',
      check_schedule: null,
      check_interval_s: null,
      maintenance_window: null,
      auto_download: false,
      auto_apply: 'none',
      paused_until: null,
      skip_versions: [],
      retention: 3,
      allow_downgrade: false,
    },
    last_checked_at: null,
    last_error: null,
    points_count: 0,
  };
}

type Method = keyof DaemonCore;

export class FakeCore implements DaemonCore {
  readonly calls: { method: Method; args: unknown[] }[] = [];
  readonly targets = new Map<string, TargetView>();
  /** Published releases per target (newest last). */
  readonly releases = new Map<string, ReleaseView[]>();
  readonly points = new Map<string, RollbackPointView[]>();
  readonly records: HistoryRecord[] = [];
  readonly lines: LogLine[] = [];
  generation = 1;
  /** The config the next successful reloadConfig swaps in (null: keep the current one). */
  nextConfig: LoadedConfig | null = null;
  /** Makes the next reloadConfig fail with this message. */
  reloadError: string | null = null;
  private loaded: LoadedConfig;
  private readonly failures = new Map<Method, { code: ErrorCode; message: string }>();
  private readonly listeners = new Set<(e: UpkeepEvent) => void>();
  private seq = 0;

  constructor(api: RawApi = {}) {
    this.loaded = makeConfig(api);
    this.targets.set('app', view('app', '1.0.0', '/srv/upkeep/app'));
    this.targets.set('tool', view('tool', '2.0.0', '/srv/upkeep/tool'));
    this.releases.set('app', [makeRelease('1.0.0'), makeRelease('1.2.0')]);
    this.releases.set('tool', [makeRelease('2.0.0')]);
  }

  // ---- test controls ----------------------------------------------------------------------------
  /** Makes every later call of `method` reject with `code` until cleared. */
  failWith(method: Method, code: ErrorCode, message = `${method} failed (${code})`): void {
    this.failures.set(method, { code, message });
  }
  clearFailures(): void {
    this.failures.clear();
  }
  /** Replaces the config in force (what a hot reload does). */
  setConfig(loaded: LoadedConfig): void {
    this.loaded = loaded;
  }
  /** Sends an event to every subscriber. */
  emit(event: UpkeepEvent): void {
    for (const l of [...this.listeners]) l(event);
  }
  subscriberCount(): number {
    return this.listeners.size;
  }
  called(method: Method): { method: Method; args: unknown[] }[] {
    return this.calls.filter((c) => c.method === method);
  }

  private enter(method: Method, args: unknown[]): void {
    this.calls.push({ method, args });
    const f = this.failures.get(method);
    if (f) throw new UpkeepError(f.code, f.message);
  }
  private target(id: string): TargetView {
    const t = this.targets.get(id);
    if (!t) throw new NotFoundError('ERR_TARGET_NOT_FOUND', `Unknown target '${id}'`);
    return t;
  }
  private newest(id: string): ReleaseView | null {
    const list = this.releases.get(id) ?? [];
    return list.length > 0 ? list[list.length - 1] : null;
  }
  private release(id: string, version: string): ReleaseView {
    const r = (this.releases.get(id) ?? []).find((x) => x.version === version);
    if (!r) throw new NotFoundError('ERR_MANIFEST_NOT_FOUND', `Manifest not found for version: ${version}`, { version });
    return r;
  }
  private record(r: Omit<HistoryRecord, 'id' | 'actor' | 'started_at' | 'finished_at'>): HistoryRecord {
    const now = new Date().toISOString();
    const full: HistoryRecord = { id: `h${++this.seq}`, actor: 'api', started_at: now, finished_at: now, ...r };
    this.records.unshift(full);
    this.emit({ type: 'history', record: full });
    return full;
  }

  // ---- DaemonCore -------------------------------------------------------------------------------
  config(): LoadedConfig {
    return this.loaded;
  }
  async info(): Promise<DaemonInfo> {
    this.enter('info', []);
    return { version: '9.9.9-test', config_generation: this.generation, config_path: this.loaded.path, started_at: '2025-01-01T00:00:00Z', restart_required: [] };
  }
  defaultTargetId(): string {
    return 'app';
  }
  async listTargets(): Promise<TargetView[]> {
    this.enter('listTargets', []);
    return [...this.targets.values()];
  }
  async getTarget(id: string): Promise<TargetView> {
    this.enter('getTarget', [id]);
    return this.target(id);
  }
  /** The fake keeps no check cache: every status read sees the releases as they are now. */
  latestCheck(id: string, _maxAgeS: number): Promise<CheckResult> {
    return this.check(id);
  }
  async check(id: string): Promise<CheckResult> {
    this.enter('check', [id]);
    const t = this.target(id);
    const latest = this.newest(id);
    const newer = latest !== null && latest.version !== t.current_version ? latest : null;
    const at = new Date().toISOString();
    t.available = newer;
    t.last_checked_at = at;
    t.state = newer ? { kind: 'available', version: newer.version, is_critical: newer.is_critical, is_breaking: newer.is_breaking, checked_at: at } : { kind: 'up-to-date', checked_at: at };
    this.emit({ type: 'state', target: t });
    return {
      target: id,
      current_version: t.current_version,
      latest_version: latest?.version ?? null,
      update_available: newer !== null,
      is_critical: newer?.is_critical ?? false,
      is_breaking: newer?.is_breaking ?? false,
      release_notes: newer?.release_notes ?? '',
      release: newer,
      checked_at: at,
    };
  }
  async download(id: string, version?: string): Promise<DownloadResult> {
    this.enter('download', [id, version]);
    this.target(id);
    const r = version ? this.release(id, version) : this.newest(id);
    if (!r) throw new NotFoundError('ERR_NO_RELEASE', 'No release');
    this.record({ target: id, operation: 'download', from_version: null, to_version: r.version, result: 'success', error_code: null, error_message: null, duration_ms: 1500, bytes_downloaded: r.total_size, timings: { download: 1500 } });
    return { success: true, target: id, version: r.version, download_path: `/srv/upkeep/state/downloads/${id}/${r.version}`, files: r.files.length, bytes: r.total_size, reused_bytes: 0 };
  }
  async apply(id: string, opts: { version?: string; verify_only?: boolean } = {}): Promise<ApplyResult> {
    this.calls.push({ method: 'apply', args: [id, opts] });
    const t = this.target(id);
    const r = opts.version ? this.release(id, opts.version) : this.newest(id);
    if (!r) throw new NotFoundError('ERR_NO_RELEASE', 'No release');
    const progress = (percent: number, phase: 'download' | 'switch') =>
      this.emit({ type: 'progress', target: id, progress: { operation_id: 'op1', phase, message: phase, bytes_done: 0, bytes_total: 0, speed_bps: 0, eta_s: null, files_done: 0, files_total: 1, percent, cancellable: phase === 'download' } });
    const from = t.current_version;
    if (!opts.verify_only && r.version === from) {
      return { success: true, target: id, version: r.version, from_version: from, verify_only: false, files_updated: [], files_removed: [], rollback_id: null, operation_id: 'op0', up_to_date: true };
    }
    progress(30, 'download');
    const f = this.failures.get('apply');
    if (f) {
      progress(60, 'switch');
      this.record({ target: id, operation: 'apply', from_version: from, to_version: r.version, result: 'rolled_back', error_code: f.code, error_message: f.message, duration_ms: 2500 });
      throw new UpkeepError(f.code, f.message, { rolled_back: true });
    }
    if (opts.verify_only) {
      return { success: true, target: id, version: r.version, from_version: from, verify_only: true, files_updated: [], files_removed: [], rollback_id: null, operation_id: `op${++this.seq}` };
    }
    progress(80, 'switch');
    const rollbackId = `rb-${id}-${++this.seq}`;
    const pts = this.points.get(id) ?? [];
    pts.unshift({ rollback_id: rollbackId, target: id, from_version: from, to_version: r.version, created_at: new Date(Date.UTC(2025, 0, 20, 10, 30, this.seq)).toISOString(), size_bytes: 1024, files: 1 });
    this.points.set(id, pts);
    t.current_version = r.version;
    t.available = null;
    t.points_count = pts.length;
    t.state = { kind: 'idle' };
    this.emit({ type: 'state', target: t });
    this.record({ target: id, operation: 'apply', from_version: from, to_version: r.version, result: 'success', error_code: null, error_message: null, duration_ms: 3000, rollback_id: rollbackId, timings: { download: 2000 }, bytes_downloaded: 4096 });
    return { success: true, target: id, version: r.version, from_version: from, verify_only: false, files_updated: r.files.map((x) => x.path), files_removed: [], rollback_id: rollbackId, operation_id: `op${this.seq}` };
  }
  async cancel(id: string): Promise<{ cancelled: boolean }> {
    this.enter('cancel', [id]);
    this.target(id);
    return { cancelled: false };
  }
  async listReleases(id: string): Promise<ReleaseList> {
    this.enter('listReleases', [id]);
    const t = this.target(id);
    const all = this.releases.get(id) ?? [];
    const current = t.current_version;
    const eligible = all.filter((r) => current === null || r.version.localeCompare(current, undefined, { numeric: true }) > 0).reverse();
    return { target: id, current_version: current, installed: all.find((r) => r.version === current) ?? null, eligible, rollout_pending: null };
  }
  async listPoints(id: string): Promise<RollbackPointView[]> {
    this.enter('listPoints', [id]);
    this.target(id);
    return this.points.get(id) ?? [];
  }
  async rollback(id: string, rollbackId?: string): Promise<RollbackResult> {
    this.enter('rollback', [id, rollbackId]);
    const t = this.target(id);
    const pts = this.points.get(id) ?? [];
    const p = rollbackId === undefined ? pts[0] : pts.find((x) => x.rollback_id === rollbackId);
    if (!p) throw new NotFoundError('ERR_ROLLBACK_POINT_NOT_FOUND', `Rollback point not found: ${rollbackId ?? '(newest)'}`);
    const from = t.current_version;
    t.current_version = p.from_version;
    this.points.set(id, pts.filter((x) => x !== p));
    this.emit({ type: 'state', target: t });
    this.record({ target: id, operation: 'rollback', from_version: from, to_version: p.from_version, result: 'success', error_code: null, error_message: null, duration_ms: 500, rollback_id: p.rollback_id });
    return { success: true, target: id, rollback_id: p.rollback_id, version: p.from_version, from_version: from, operation_id: `op${++this.seq}` };
  }
  async history(id?: string, limit?: number): Promise<HistoryRecord[]> {
    this.enter('history', [id, limit]);
    if (id !== undefined) this.target(id);
    const list = id === undefined ? this.records : this.records.filter((r) => r.target === id);
    return list.slice(0, limit ?? 100);
  }
  async skipVersion(id: string, version: string): Promise<TargetView> {
    this.enter('skipVersion', [id, version]);
    const t = this.target(id);
    t.policy = { ...t.policy, skip_versions: [...t.policy.skip_versions, version] };
    return t;
  }
  async updateSettings(id: string, patch: SettingsPatch): Promise<TargetView> {
    this.enter('updateSettings', [id, patch]);
    const t = this.target(id);
    t.policy = { ...t.policy, ...patch } as TargetView['policy'];
    return t;
  }
  async reloadConfig(actor?: string): Promise<ReloadOutcome> {
    this.enter('reloadConfig', [actor]);
    const at = new Date().toISOString();
    if (this.reloadError !== null) {
      const message = this.reloadError;
      this.emit({ type: 'notification', notification: { type: 'config_reload_failed', target: null, at, message, config_generation: this.generation } });
      throw new ConfigError(message);
    }
    if (this.nextConfig) this.loaded = this.nextConfig;
    this.nextConfig = null;
    this.generation++;
    this.emit({ type: 'notification', notification: { type: 'config_reloaded', target: null, at, message: 'reloaded', config_generation: this.generation } });
    return { config_generation: this.generation, restart_required: [] };
  }
  async logs(limit?: number): Promise<LogLine[]> {
    this.enter('logs', [limit]);
    return this.lines.slice(-(limit ?? 200));
  }
  subscribe(listener: (event: UpkeepEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }
  async getManifest(targetId: string, version: string): Promise<ManifestDetails> {
    this.enter('getManifest', [targetId, version]);
    const release = this.release(targetId, version);
    return {
      release,
      envelope: { payloadType: 'application/vnd.upkeep.manifest+json', payload: 'e30', signatures: [{ keyid: 'k1', sig: `sig-of-${version}` }] },
      manifest_sha256: release.manifest_sha256,
    };
  }
  async applyGroup(groupId: string): Promise<GroupResult> {
    this.enter('applyGroup', [groupId]);
    throw new NotFoundError('ERR_TARGET_NOT_FOUND', `No target group "${groupId}"`, { group: groupId });
  }
  async restart(targetId: string, graceful: boolean): Promise<RestartResult> {
    this.enter('restart', [targetId, graceful]);
    this.target(targetId);
    return { status: 'restarted', message: `Restarted ${targetId}${graceful ? ' gracefully' : ''}` };
  }
  startScheduler(): void {
    this.calls.push({ method: 'startScheduler', args: [] });
  }
  async close(): Promise<void> {
    this.calls.push({ method: 'close', args: [] });
  }
}

/**
 * A fake UpdaterApi for renderer tests: in-memory targets, points, history and logs; records every
 * call; can hold a call open (to emit progress events meanwhile) or fail it with an ApiError; and
 * emits UpkeepEvents to subscribers like the real engine does.
 */
import {
  ApiError,
  type ApplyResult,
  type CheckResult,
  type DaemonInfo,
  type HistoryRecord,
  type LogLine,
  type Progress,
  type ReleaseList,
  type ReleaseView,
  type RollbackPointView,
  type RollbackResult,
  type SettingsPatch,
  type TargetView,
  type UpkeepEvent,
} from '../../src-shared/api';
import type { ConnectionState, RendererApi } from '../../src-renderer/api/types';

export interface Call {
  method: string;
  args: unknown[];
}

interface Deferred {
  promise: Promise<void>;
  release: () => void;
}

/** A release view with sensible defaults. */
export function makeRelease(overrides: Partial<ReleaseView> = {}): ReleaseView {
  return {
    version: '1.1.0',
    tag_name: 'v1.1.0',
    channel: 'stable',
    released_at: '2025-03-01T10:00:00Z',
    release_notes: '## What is new\n\n- Faster startup\n- [Changelog](https://example.com/changelog)',
    is_critical: false,
    is_breaking: false,
    breaking_changes: [],
    migrations_required: false,
    min_upgrade_from: null,
    build_commit: 'abcdef0123456789',
    manifest_sha256: 'f'.repeat(64),
    verification: 'signed',
    files: [{ path: 'bin/demo', type: 'file', sha256: 'a'.repeat(64), size: 2048, platform: 'any', arch: 'any', url: 'https://example.com/demo' }],
    file_count: 1,
    total_size: 2048,
    ...overrides,
  };
}

/** A target view with sensible defaults (state "available" 1.1.0 over installed 1.0.0). */
export function makeTarget(overrides: Partial<TargetView> = {}): TargetView {
  const release = overrides.available === undefined ? makeRelease() : overrides.available;
  return {
    id: 'demo',
    name: 'Demo Service',
    kind: 'files',
    layout: 'in-place',
    install_dir: '/opt/demo',
    product: 'demo',
    current_version: '1.0.0',
    state: release
      ? { kind: 'available', version: release.version, is_critical: release.is_critical, is_breaking: release.is_breaking, checked_at: '2025-03-02T08:00:00Z' }
      : { kind: 'up-to-date', checked_at: '2025-03-02T08:00:00Z' },
    available: release,
    policy: {
      channel: 'stable',
      check_schedule: null,
      check_interval_s: 21600,
      maintenance_window: null,
      auto_download: false,
      auto_apply: 'none',
      paused_until: null,
      skip_versions: [],
      retention: 3,
      allow_downgrade: false,
    },
    last_checked_at: '2025-03-02T08:00:00Z',
    last_error: null,
    points_count: 0,
    ...overrides,
  };
}

/** Live progress with sensible defaults. */
export function makeProgress(overrides: Partial<Progress> = {}): Progress {
  return {
    operation_id: 'op-1',
    phase: 'download',
    message: 'Downloading bin/demo',
    bytes_done: 0,
    bytes_total: 4 * 1024 * 1024,
    speed_bps: 1024 * 1024,
    eta_s: 4,
    files_done: 0,
    files_total: 1,
    file: 'bin/demo',
    percent: 0,
    cancellable: true,
    ...overrides,
  };
}

export function makePoint(overrides: Partial<RollbackPointView> = {}): RollbackPointView {
  return {
    rollback_id: 'rb-20250301-1',
    target: 'demo',
    from_version: '0.9.0',
    to_version: '1.0.0',
    created_at: '2025-03-01T12:00:00Z',
    size_bytes: 3 * 1024 * 1024,
    files: 4,
    ...overrides,
  };
}

export function makeHistory(overrides: Partial<HistoryRecord> = {}): HistoryRecord {
  return {
    id: 'h-1',
    target: 'demo',
    operation: 'apply',
    actor: 'tray',
    from_version: '0.9.0',
    to_version: '1.0.0',
    result: 'success',
    error_code: null,
    error_message: null,
    started_at: '2025-03-01T12:00:00Z',
    finished_at: '2025-03-01T12:00:04Z',
    duration_ms: 4200,
    ...overrides,
  };
}

export class FakeApi implements RendererApi {
  transport: 'ipc' | 'http' = 'ipc';
  calls: Call[] = [];
  targets = new Map<string, TargetView>();
  points: Record<string, RollbackPointView[]> = {};
  /** Release lists per target; by default the available release alone, nothing installed listed. */
  releaseLists: Record<string, Partial<ReleaseList>> = {};
  /** What the engine's re-selection after a skip changes in a target's view (offer, state). */
  afterSkip: Record<string, Partial<TargetView>> = {};
  records: HistoryRecord[] = [];
  logLines: LogLine[] = [];
  info_: DaemonInfo = { version: '0.1.0', config_generation: 1, config_path: '/etc/upkeep.yaml', started_at: '2025-03-01T00:00:00Z', restart_required: [] };
  /** Next result of apply (default: success from current to available). */
  applyResult: ((id: string, opts?: { version?: string; verify_only?: boolean }) => ApplyResult) | null = null;
  private failures = new Map<string, ApiError>();
  private holds = new Map<string, Deferred>();
  private listeners = new Set<(e: UpkeepEvent) => void>();
  private connectionListeners = new Set<(s: ConnectionState) => void>();
  opened: string[] = [];
  token: string | null = null;

  constructor(targets: TargetView[] = [makeTarget()]) {
    for (const t of targets) this.targets.set(t.id, t);
  }

  /** Makes the next calls of `method` reject with this error (until cleared with null). */
  fail(method: string, error: ApiError | null): void {
    if (error) this.failures.set(method, error);
    else this.failures.delete(method);
  }

  /** Holds calls of `method` open until the returned function is called. */
  hold(method: string): () => void {
    let release!: () => void;
    const promise = new Promise<void>((r) => (release = r));
    this.holds.set(method, { promise, release });
    return () => {
      this.holds.delete(method);
      release();
    };
  }

  /** Sends an event to every subscriber. */
  emit(event: UpkeepEvent): void {
    if (event.type === 'state') this.targets.set(event.target.id, event.target);
    for (const l of [...this.listeners]) l(event);
  }

  /** Updates a target and emits its `state` event. */
  update(id: string, patch: Partial<TargetView>): TargetView {
    const next = { ...this.target(id), ...patch };
    this.emit({ type: 'state', target: next });
    return next;
  }

  setConnection(state: ConnectionState): void {
    for (const l of [...this.connectionListeners]) l(state);
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  callsOf(method: string): unknown[][] {
    return this.calls.filter((c) => c.method === method).map((c) => c.args);
  }

  private target(id: string): TargetView {
    const t = this.targets.get(id);
    if (!t) throw new ApiError('ERR_TARGET_NOT_FOUND', `Unknown target: ${id}`, 404);
    return t;
  }

  private async run<T>(method: string, args: unknown[], body: () => T): Promise<T> {
    this.calls.push({ method, args });
    const held = this.holds.get(method);
    if (held) await held.promise;
    const failure = this.failures.get(method);
    if (failure) throw failure;
    return body();
  }

  info() {
    return this.run('info', [], () => this.info_);
  }
  listTargets() {
    return this.run('listTargets', [], () => [...this.targets.values()]);
  }
  getTarget(id: string) {
    return this.run('getTarget', [id], () => this.target(id));
  }
  check(id: string) {
    return this.run('check', [id], (): CheckResult => {
      const t = this.target(id);
      return {
        target: id,
        current_version: t.current_version,
        latest_version: t.available?.version ?? t.current_version,
        update_available: t.available !== null,
        is_critical: t.available?.is_critical ?? false,
        is_breaking: t.available?.is_breaking ?? false,
        release_notes: t.available?.release_notes ?? '',
        release: t.available,
        checked_at: '2025-03-03T00:00:00Z',
      };
    });
  }
  download(id: string, version?: string) {
    return this.run('download', [id, version], () => ({ success: true as const, target: id, version: version ?? '1.1.0', download_path: '/tmp/x', files: 1, bytes: 2048, reused_bytes: 0 }));
  }
  apply(id: string, opts?: { version?: string; verify_only?: boolean }) {
    const before = this.targets.get(id); // the result reports the state the call started from
    return this.run('apply', [id, opts], (): ApplyResult => {
      if (this.applyResult) return this.applyResult(id, opts);
      const t = before ?? this.target(id);
      return {
        success: true,
        target: id,
        version: opts?.version ?? t.available?.version ?? '1.1.0',
        from_version: t.current_version,
        verify_only: opts?.verify_only ?? false,
        files_updated: ['bin/demo'],
        files_removed: [],
        rollback_id: opts?.verify_only ? null : 'rb-new',
        operation_id: 'op-1',
      };
    });
  }
  cancel(id: string) {
    return this.run('cancel', [id], () => ({ cancelled: true }));
  }
  listReleases(id: string) {
    return this.run('listReleases', [id], (): ReleaseList => {
      const t = this.target(id);
      return {
        target: id,
        current_version: t.current_version,
        installed: null,
        eligible: t.available ? [t.available] : [],
        rollout_pending: t.rollout_pending ?? null,
        ...this.releaseLists[id],
      };
    });
  }
  listPoints(id: string) {
    return this.run('listPoints', [id], () => this.points[id] ?? []);
  }
  rollback(id: string, rollbackId?: string) {
    return this.run('rollback', [id, rollbackId], (): RollbackResult => {
      const p = (this.points[id] ?? []).find((x) => x.rollback_id === rollbackId);
      if (!p) throw new ApiError('ERR_ROLLBACK_POINT_NOT_FOUND', `No rollback point ${rollbackId}`, 404);
      return { success: true, target: id, rollback_id: p.rollback_id, version: p.from_version, from_version: p.to_version, operation_id: 'op-rb' };
    });
  }
  history(id?: string, limit?: number) {
    return this.run('history', [id, limit], () => this.records.filter((r) => id === undefined || r.target === id).slice(0, limit ?? 1000));
  }
  skipVersion(id: string, version: string) {
    return this.run('skipVersion', [id, version], () => {
      const t = this.target(id);
      const next = { ...t, ...this.afterSkip[id], policy: { ...t.policy, skip_versions: [...t.policy.skip_versions, version] } };
      this.targets.set(id, next);
      return next;
    });
  }
  updateSettings(id: string, patch: SettingsPatch) {
    return this.run('updateSettings', [id, patch], () => {
      const t = this.target(id);
      const next = { ...t, policy: { ...t.policy, ...patch } };
      this.targets.set(id, next);
      return next;
    });
  }
  reloadConfig() {
    return this.run('reloadConfig', [], () => ({ config_generation: 2, restart_required: [] }));
  }
  logs(limit?: number) {
    return this.run('logs', [limit], () => this.logLines.slice(-(limit ?? 1000)));
  }
  subscribe(listener: (event: UpkeepEvent) => void) {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }
  onConnectionChange(listener: (state: ConnectionState) => void) {
    this.connectionListeners.add(listener);
    listener('online');
    return () => {
      this.connectionListeners.delete(listener);
    };
  }
  openExternal(url: string) {
    this.opened.push(url);
  }
}

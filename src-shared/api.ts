/**
 * The contract between the engine's owners (daemon, Electron main) and every UI: the view types,
 * the state union, the event stream and the `UpdaterApi` interface. The renderer talks only to
 * `UpdaterApi`; it has two implementations (preload IPC, and HTTP + server-sent events).
 */
import type { ErrorCode } from './errors';

/** Who started an operation (recorded in history). */
export type Actor = 'cli' | 'tray' | 'scheduler' | 'api' | 'dashboard' | 'recovery';

/** Phases of one operation on one target (the persisted pipeline's steps). */
export type Phase =
  | 'check'
  | 'download'
  | 'verify'
  | 'stage'
  | 'backup'
  | 'switch'
  | 'migrate'
  | 'smoke'
  | 'health'
  | 'commit'
  | 'rollback'
  | 'step';

/** Live progress of the running operation. Emitted at most ~10 times a second. */
export interface Progress {
  operation_id: string;
  phase: Phase;
  /** Human-readable line: "Downloading bin/demo", "Running smoke hook". */
  message: string;
  bytes_done: number;
  bytes_total: number;
  /** Bytes per second over the recent window, 0 when unknown. */
  speed_bps: number;
  /** Seconds left, null when unknown. */
  eta_s: number | null;
  files_done: number;
  files_total: number;
  /** Current file path, when the phase works file by file. */
  file?: string;
  /** 0–100 over the whole operation (download 0–50, install 50–100). */
  percent: number;
  /** True while cancelling is safe (before anything on disk changes). */
  cancellable: boolean;
}

export interface ErrorView {
  code: ErrorCode | string;
  message: string;
  /**
   * Safe facts about the failure, when the engine gave any: `rolled_back` (true: the change was
   * undone), `cause` (the ErrorView that caused the rollback), `to_version`, `rolled_back_to`, `step`.
   */
  details?: Record<string, unknown>;
}

export type { TargetState, TargetStateKind } from './target-state';
import type { TargetState } from './target-state';

export interface ReleaseFileView {
  path: string;
  type: string;
  sha256: string;
  size: number;
  mode?: number;
  platform: string;
  arch: string;
  url: string;
  /** A symbolic link entry's target (then `sha256` and `url` are empty and `size` is 0). */
  target?: string;
}

/**
 * How much the feed's checks vouch for a release: `signed` (trusted signatures over the metadata),
 * `checksums` (digests from the same unsigned source), `none` (UIs show "unverified").
 */
export type VerificationLevel = 'signed' | 'checksums' | 'none';

export interface ReleaseView {
  version: string;
  tag_name: string;
  channel: string;
  released_at: string;
  release_notes: string;
  is_critical: boolean;
  /** Major bump from the current version, or breaking_changes listed. */
  is_breaking: boolean;
  breaking_changes: string[];
  migrations_required: boolean;
  min_upgrade_from: string | null;
  build_commit: string | null;
  manifest_sha256: string;
  verification: VerificationLevel;
  /**
   * The release's files. In a target view (`TargetView.available`, `GET /api/targets`) at most
   * `TARGET_VIEW_MAX_FILES` of them, so status reads stay small (so does `latest_release` of
   * `GET /api/updates`); `file_count` is the whole count and `GET /api/targets/:id/releases`
   * lists every file.
   */
  files: ReleaseFileView[];
  /** Number of files in the release (whole, even when `files` is shortened). */
  file_count: number;
  /** Bytes of all files. */
  total_size: number;
}

/** Most files a target view's `available` release lists (see ReleaseView.files). */
export const TARGET_VIEW_MAX_FILES = 20;

export type AutoApply = 'none' | 'critical' | 'all';

export type WeekDay = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

export interface MaintenanceWindow {
  /** Lowercase three-letter day names: mon … sun. Empty = every day. */
  days: WeekDay[];
  /** "HH:MM" 24-hour, local to `timezone`. A window may cross midnight (start > end). */
  start: string;
  end: string;
  /** IANA zone, e.g. "Europe/Berlin"; default UTC. */
  timezone: string;
}

export interface TargetPolicy {
  channel: string;
  check_schedule: string | null;
  check_interval_s: number | null;
  maintenance_window: MaintenanceWindow | null;
  auto_download: boolean;
  auto_apply: AutoApply;
  paused_until: string | null;
  skip_versions: string[];
  retention: number;
  allow_downgrade: boolean;
}

export interface TargetView {
  id: string;
  name: string;
  kind: 'files' | 'command' | 'git' | 'compose';
  layout: 'in-place' | 'versioned' | null;
  install_dir: string;
  product: string;
  current_version: string | null;
  state: TargetState;
  /** The newest eligible release seen by the last check, if newer than current. */
  available: ReleaseView | null;
  policy: TargetPolicy;
  last_checked_at: string | null;
  last_error: ErrorView | null;
  points_count: number;
  /**
   * A release newer than the installed (and the available) one that this machine is not yet in,
   * held back by the channel's staged rollout: its version and the rollout's percent (0–100).
   * Null or absent when no release is held back.
   */
  rollout_pending?: RolloutPending | null;
  /**
   * The version a manual rollback moved away from: not applied automatically until a newer
   * release appears or the user applies it. Null or absent when nothing is held.
   */
  held_version?: string | null;
  /** Kind-specific facts of the installed state (git: the commit; compose: each service's digest). */
  facts?: Array<{ label: string; value: string }>;
}

/** A release newer than the installed one that this machine is not yet in (staged rollout). */
export interface RolloutPending {
  version: string;
  /** Share of machines the rollout reaches so far, 0–100. */
  percent: number;
}

/** The releases of a target's channel as this machine sees them (`listReleases`). */
export interface ReleaseList {
  target: string;
  current_version: string | null;
  /** The installed version's release as the feed lists it; null when nothing is installed or the feed no longer lists it. */
  installed: ReleaseView | null;
  /**
   * Releases this machine may apply now, newest first: newer than the installed version, inside
   * their staged rollout, not skipped, with files for this machine, and allowed from the installed
   * version (min_upgrade_from). `apply` without a version installs the first one.
   */
  eligible: ReleaseView[];
  /** The newest release newer than every eligible one that the staged rollout holds back from this machine. */
  rollout_pending: RolloutPending | null;
}

export interface CheckResult {
  target: string;
  current_version: string | null;
  latest_version: string | null;
  update_available: boolean;
  is_critical: boolean;
  is_breaking: boolean;
  release_notes: string;
  release: ReleaseView | null;
  checked_at: string;
  /** The version held after a manual rollback (see TargetView.held_version); absent or null when none. */
  held_version?: string | null;
}

export interface DownloadResult {
  success: true;
  target: string;
  version: string;
  download_path: string;
  files: number;
  bytes: number;
  reused_bytes: number;
  /** Nothing newer to download. */
  up_to_date?: boolean;
}

/** A locally edited managed file: its path and where the user's bytes were kept (install-relative). */
export interface LocalCopyView {
  path: string;
  kept_as: string;
}

/**
 * A successful apply (or verify-only run). A rolled-back or failed apply is not a result: it
 * rejects with the error (code, message, details such as `rolled_back` and `cause`).
 */
export interface ApplyResult {
  success: true;
  target: string;
  version: string;
  from_version: string | null;
  verify_only: boolean;
  files_updated: string[];
  files_removed: string[];
  rollback_id: string | null;
  operation_id: string;
  /** Nothing newer to apply: the target is already current. */
  up_to_date?: boolean;
  /** Managed files edited locally whose user copy was kept beside the new one (`on_local_change: keep`). */
  local_copies?: LocalCopyView[];
}

export interface RollbackResult {
  success: true;
  target: string;
  rollback_id: string;
  version: string | null;
  from_version: string | null;
  operation_id: string;
}

export interface RollbackPointView {
  rollback_id: string;
  target: string;
  from_version: string | null;
  to_version: string;
  created_at: string;
  size_bytes: number;
  files: number;
  /**
   * Present when the point's `point.json` cannot be read: ERR_STATE_CORRUPT with `details.file`.
   * Such a point is listed where its order is known, cannot be rolled back to, and refuses every
   * rollback that would consume it (to it or to an older point). Its other fields are what could be
   * salvaged: `to_version` '' and `from_version` null when unknown, sizes 0.
   */
  error?: ErrorView;
}

export type OperationKind = 'check' | 'download' | 'apply' | 'verify' | 'rollback' | 'recover';
export type OperationResult = 'success' | 'failed' | 'rolled_back' | 'cancelled' | 'refused' | 'up_to_date' | 'recovered';

export interface HistoryRecord {
  id: string;
  target: string;
  operation: OperationKind;
  actor: Actor;
  from_version: string | null;
  to_version: string | null;
  result: OperationResult;
  error_code: string | null;
  error_message: string | null;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  rollback_id?: string | null;
  /** Per-phase durations in milliseconds. */
  timings?: Record<string, number>;
  /** Bytes fetched from the network by this operation (reused cache bytes excluded). */
  bytes_downloaded?: number;
  /** Managed files edited locally whose user copy was kept beside the new one (`on_local_change: keep`). */
  local_copies?: LocalCopyView[];
}

export type NotificationKind =
  | 'update_available'
  | 'update_started'
  | 'update_progress'
  | 'update_completed'
  | 'update_failed'
  | 'update_cancelled'
  | 'rolled_back'
  | 'config_reloaded'
  | 'config_reload_failed';

export interface Notification {
  type: NotificationKind;
  target: string | null;
  at: string;
  /**
   * The version concerned: the one offered, installed or tried; for `rolled_back` the version
   * installed after the rollback (null: nothing, the state before the first install).
   */
  version?: string | null;
  /** The version installed before; for `rolled_back` the version the rollback left. */
  from_version?: string | null;
  is_critical?: boolean;
  error?: ErrorView;
  message: string;
  config_generation?: number;
}

export interface LogLine {
  at: string;
  level: 'error' | 'warn' | 'info' | 'debug';
  message: string;
  target?: string;
}

/** Everything pushed to UIs: one `state` event per change, plus progress and notifications. */
export type UpkeepEvent =
  | { type: 'state'; target: TargetView }
  | { type: 'progress'; target: string; progress: Progress }
  | { type: 'notification'; notification: Notification }
  | { type: 'log'; line: LogLine }
  | { type: 'history'; record: HistoryRecord };

export interface SettingsPatch {
  channel?: string;
  check_schedule?: string | null;
  check_interval_s?: number | null;
  maintenance_window?: MaintenanceWindow | null;
  auto_download?: boolean;
  auto_apply?: AutoApply;
  /** ISO time until which automatic work is paused; null resumes. */
  paused_until?: string | null;
  skip_versions?: string[];
}

export interface DaemonInfo {
  version: string;
  config_generation: number;
  config_path: string | null;
  started_at: string;
  restart_required: string[];
}

/** The one interface the renderer uses. Every method rejects with an ErrorView-shaped error. */
export interface UpdaterApi {
  info(): Promise<DaemonInfo>;
  listTargets(): Promise<TargetView[]>;
  getTarget(id: string): Promise<TargetView>;
  check(id: string): Promise<CheckResult>;
  download(id: string, version?: string): Promise<DownloadResult>;
  apply(id: string, opts?: { version?: string; verify_only?: boolean }): Promise<ApplyResult>;
  /** Cancel the running operation where it is still safe (download/verify). */
  cancel(id: string): Promise<{ cancelled: boolean }>;
  /** The installed release and the releases this machine may apply, each with its notes. */
  listReleases(id: string): Promise<ReleaseList>;
  listPoints(id: string): Promise<RollbackPointView[]>;
  rollback(id: string, rollbackId?: string): Promise<RollbackResult>;
  history(id?: string, limit?: number): Promise<HistoryRecord[]>;
  skipVersion(id: string, version: string): Promise<TargetView>;
  updateSettings(id: string, patch: SettingsPatch): Promise<TargetView>;
  reloadConfig(): Promise<{ config_generation: number; restart_required: string[] }>;
  logs(limit?: number): Promise<LogLine[]>;
  /** Subscribe to the event stream; returns the unsubscribe function. */
  subscribe(listener: (event: UpkeepEvent) => void): () => void;
}

/** Error thrown by UpdaterApi implementations: carries the engine's stable code. */
export class ApiError extends Error {
  readonly code: string;
  readonly status?: number;
  /** The engine's error details (`rolled_back`, `cause`, …) when the transport carried them. */
  readonly details?: Record<string, unknown>;
  constructor(code: string, message: string, status?: number, details?: Record<string, unknown>) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    if (status !== undefined) this.status = status;
    if (details !== undefined) this.details = details;
  }
}

/** The `details` object of an error-shaped value, when it has a plain one. */
export function errorDetails(err: unknown): Record<string, unknown> | undefined {
  const d = err && typeof err === 'object' && 'details' in err ? (err as { details: unknown }).details : undefined;
  return d && typeof d === 'object' && !Array.isArray(d) ? (d as Record<string, unknown>) : undefined;
}

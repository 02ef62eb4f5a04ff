/**
 * The daemon core's public shape: what the HTTP server and Electron main drive. It is the
 * UpdaterApi (the UI contract) plus the few things only hosts need.
 */
import type { Actor, CheckResult, UpdaterApi, ReleaseView, DaemonInfo } from '../../src-shared/api';
import type { DsseEnvelope } from '../../src-shared/feed-schema';
import type { LoadedConfig } from './config/load';
import type { GroupResult } from './runner/target-group';

export interface ManifestDetails {
  release: ReleaseView;
  /** The signed envelope exactly as fetched. */
  envelope: DsseEnvelope;
  /** Lowercase hex SHA-256 of the envelope file's bytes (the index entry's sha256). */
  manifest_sha256: string;
}

export interface RestartResult {
  status: 'restarted' | 'failed';
  message: string;
}

export interface ReloadOutcome {
  config_generation: number;
  restart_required: string[];
}

export interface DaemonCore extends UpdaterApi {
  /** The config in force now (swapped atomically on reload). */
  config(): LoadedConfig;
  info(): Promise<DaemonInfo>;
  /** Id of the target the compatibility routes act on. */
  defaultTargetId(): string;
  /**
   * The last check's result when younger than `maxAgeS` seconds, else one check (no history line)
   * shared by every concurrent caller: status routes answer from it instead of checking per request.
   */
  latestCheck(targetId: string, maxAgeS: number): Promise<CheckResult>;
  /** The signed manifest of one version (fetched and verified). ERR_MANIFEST_NOT_FOUND if absent. */
  getManifest(targetId: string, version: string): Promise<ManifestDetails>;
  /**
   * Applies every target of group `groupId` in order as one operation; when a member fails, the
   * members applied before it are rolled back and the call rejects with the failing member's code
   * (`details.group` holds every member's result). ERR_TARGET_NOT_FOUND for an unknown group.
   */
  applyGroup(groupId: string): Promise<GroupResult>;
  /** Runs the target's configured `restart` command. */
  restart(targetId: string, graceful: boolean): Promise<RestartResult>;
  /** Re-reads the config file: validate fully, then swap. Rejects with ERR_CONFIG_INVALID, keeping the old one. */
  reloadConfig(actor?: string): Promise<ReloadOutcome>;
  /** Starts schedules (checks, auto-download, auto-apply, maintenance windows). */
  startScheduler(): void;
  /** Stops schedules and waits for (or safely aborts) the running operations. */
  close(): Promise<void>;
}

export interface DaemonOptions {
  /** Config file path; default $UPKEEP_CONFIG, else ./upkeep.yaml. */
  configPath?: string;
  env?: NodeJS.ProcessEnv;
  /** Who starts operations from this host ('tray', 'api'...), recorded in history. */
  actor?: Actor;
  /** Injected clock for tests. */
  now?: () => Date;
}

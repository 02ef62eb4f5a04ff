/**
 * Where a target's files live under the configured directories. One function, so every part of
 * the engine agrees on the layout of the state directory.
 */
import path from 'node:path';
import { UsageError } from '../../src-shared/errors';
import type { Config } from './config/schema';

/** A target id: lowercase letters, digits, '-' and '_', 1–64 characters (safe as a file name). */
export const TARGET_ID_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Returns `id` when it is a valid target id; throws UsageError ERR_USAGE otherwise (guards path joins). */
export function assertTargetId(id: string): string {
  if (!TARGET_ID_RE.test(id)) throw new UsageError('ERR_USAGE', `invalid target id '${id}'`);
  return id;
}

/** `<stateDir>/targets/<id>`: installed.json, runtime.json, journal.json, command-state.json. */
export function targetStateDir(stateDir: string, id: string): string {
  return path.join(stateDir, 'targets', assertTargetId(id));
}

export interface TargetPaths {
  /** <state_dir>/targets/<id>: installed.json, runtime.json, journal.json */
  stateDir: string;
  /** <backup_dir>/<id>: one folder per rollback point */
  pointsDir: string;
  /** <download_dir>/blobs: the content-addressed cache shared by all targets */
  cacheDir: string;
  /** <download_dir>/releases/<id>: per-version views of downloaded releases */
  releasesDir: string;
}

/** The directories of target `id` under the resolved config. */
export function targetPaths(config: Config, id: string): TargetPaths {
  const downloadDir = config.download_dir ?? path.join(config.state_dir, 'downloads');
  const backupDir = config.backup_dir ?? path.join(config.state_dir, 'points');
  return {
    stateDir: targetStateDir(config.state_dir, id),
    pointsDir: path.join(backupDir, id),
    cacheDir: path.join(downloadDir, 'blobs'),
    releasesDir: path.join(downloadDir, 'releases', id),
  };
}

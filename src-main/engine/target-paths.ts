/**
 * Where a target's files live under the configured directories. One function, so every part of
 * the engine agrees on the layout of the state directory.
 */
import path from 'node:path';
import type { Config } from './config/schema';

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
    stateDir: path.join(config.state_dir, 'targets', id),
    pointsDir: path.join(backupDir, id),
    cacheDir: path.join(downloadDir, 'blobs'),
    releasesDir: path.join(downloadDir, 'releases', id),
  };
}

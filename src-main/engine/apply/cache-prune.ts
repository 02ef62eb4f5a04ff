/**
 * Pruning of the download cache (`<download_dir>/blobs`), which every target shares: after an
 * apply or a rollback it keeps the blobs of each target's installed version, of its retained
 * rollback points and of the newest available release, and nothing else. A per-version view
 * (`<download_dir>/releases/<id>/<version>/`, symbolic links to blobs) is kept exactly while its
 * version's blobs are (the installed version, a retained point's version, the newest available
 * release), so no view points at a pruned blob and no valid view is deleted only to be missed.
 * While a rollback point's `point.json` is damaged, no blob and none of its target's views is
 * pruned: what that point needs once repaired is not known.
 *
 * Crash safety (a SIGKILL at any instant): a blob is removed by one unlink, so every blob left
 * is whole (blobs enter the cache only by an atomic rename after verification). A view is first
 * renamed to a hidden `.pruning-<version>` name, then deleted, so a view under a version's name is
 * always complete; a hidden one an interrupted prune left is deleted by the next prune.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema';
import { BlobCache } from '../net/blob-cache';
import { availableDigests, availableRelease, readRuntime } from '../state/store';
import { targetPaths } from '../target-paths';
import { readInstalled } from './installed';
import { scanPoints } from './points';
import { isCode, rmrf } from './tree';
import { systemClock, type Clock } from '../clock';

/** Name prefix of a per-version view being deleted (never a version: versions do not start with '.'). */
const PRUNING_PREFIX = '.pruning-';

/**
 * Removes every cached blob no files target still needs (see the module comment) and stale
 * per-version views; returns the bytes freed. Call with no operation in flight on any target
 * sharing the cache (the caller holds its target's lock; blobs of releases being fetched right
 * now by another process are re-downloaded if removed, never trusted half-written).
 */
export async function pruneDownloadCache(config: Config, clock: Clock = systemClock): Promise<number> {
  const keep = new Set<string>();
  let keepAll = false;
  let cacheDir: string | null = null;
  for (const t of config.targets) {
    if (t.kind !== 'files') continue;
    const p = targetPaths(config, t.id);
    cacheDir = p.cacheDir;
    const keepViews = new Set<string>();
    const installed = await readInstalled(p.stateDir);
    if (installed) keepViews.add(installed.version);
    for (const f of installed?.files ?? []) if (f.sha256) keep.add(f.sha256);
    // A damaged point.json (ERR_STATE_CORRUPT) does not say which version and blobs its point
    // needs once repaired: this prune keeps every blob, and every view of this target.
    const { points, damaged } = await scanPoints(p.pointsDir);
    if (damaged.length > 0) keepAll = true;
    for (const pt of points) {
      if (pt.before) keepViews.add(pt.before.version);
      for (const f of [...(pt.before?.files ?? []), ...(pt.backed_up ?? [])]) if (f.sha256) keep.add(f.sha256);
    }
    const runtime = await readRuntime(config.state_dir, t.id);
    const availVersion = availableRelease(runtime.available)?.version ?? null;
    if (availVersion !== null) keepViews.add(availVersion);
    const availDigests = await availableDigests(config.state_dir, t.id, runtime);
    // Unknown digests of the available release (see availableDigests): this prune keeps every blob.
    if (availDigests === null) keepAll = true;
    for (const d of availDigests ?? []) keep.add(d);
    let versions: string[] = [];
    try {
      versions = await fsp.readdir(p.releasesDir);
    } catch (err) {
      if (!isCode(err, 'ENOENT')) throw err;
    }
    for (const v of versions) {
      if (v.startsWith(PRUNING_PREFIX)) {
        await rmrf(path.join(p.releasesDir, v));
        continue;
      }
      if (keepViews.has(v) || damaged.length > 0) continue;
      const gone = path.join(p.releasesDir, `${PRUNING_PREFIX}${v}`);
      try {
        await fsp.rename(path.join(p.releasesDir, v), gone);
      } catch (err) {
        if (isCode(err, 'ENOENT')) continue;
        throw err;
      }
      await rmrf(gone);
    }
  }
  if (cacheDir === null || keepAll) return 0;
  return new BlobCache(cacheDir).prune(keep, clock);
}

/**
 * `files` targets, after their release was resolved and every file downloaded and verified:
 * report what a verify-only run would change, or install it — pre_apply veto, the journaled
 * transaction with migrate/smoke/health after the switch, then post_apply and the records —
 * and restore rollback points.
 * The engine (engine.ts) owns locking, resolution, download and the failure/rollback report.
 */
import type { ApplyResult, RollbackResult } from '../../src-shared/api';
import { isSymlinkEntry, type ManifestFile, type ReleaseManifest } from '../../src-shared/feed-schema';
import type { FilesTargetConfig } from './config/schema';
import type { Engine, OpContext } from './engine';
import type { FetchedRelease } from './fetch-release';
import { applyRelease, readInstalled, rollbackToPoint } from './apply';
import { pruneDownloadCache } from './apply/cache-prune';
import { BlobCache } from './net/blob-cache';
import { exists } from './fs/atomic';
import { runHook } from './hooks';
import { runHealthCheck } from './health';
import { effectivePolicy } from './policy';
import { readRuntime, updateRuntime } from './state/store';
import { targetPaths } from './target-paths';
import { installPercent, labelOf, modeOf, phaseOf } from './operation-helpers';

/** Where an install got to, for the engine's failure report. */
export interface ApplyFlags {
  /** The new tree was switched in (a failure from here on is undone by the transaction). */
  switched: boolean;
  /** The commit is durable: nothing may be undone or reported as rolled back any more. */
  committed: boolean;
}

interface Release {
  manifest: ReleaseManifest;
  files: ManifestFile[];
  current: string | null;
}

/** Prunes the shared download cache after a commit; a failure is only logged (the commit stands). */
async function pruneCacheAfter(engine: Engine, ctx: OpContext, id: string): Promise<void> {
  try {
    const freed = await pruneDownloadCache(ctx.loaded.config);
    if (freed > 0) engine.bus.log('info', `${id}: download cache pruned (${freed} bytes freed)`, id);
  } catch (err) {
    engine.bus.log('warn', `${id}: pruning the download cache failed: ${(err as Error).message}`, id);
  }
}

/** A verify-only result: everything verified, nothing changed; lists the files that would change. */
export async function verifyFiles(engine: Engine, ctx: OpContext, t: FilesTargetConfig, r: Release): Promise<ApplyResult> {
  const installed = await readInstalled(targetPaths(ctx.loaded.config, t.id).stateDir);
  const have = new Map((installed?.files ?? []).map((f) => [f.path, f]));
  const changed = r.files.filter((f) => {
    const h = have.get(f.path);
    return isSymlinkEntry(f) ? h?.target !== f.target : h?.sha256 !== f.sha256 || h?.mode !== modeOf(f);
  }).map((f) => f.path);
  await engine.record(ctx.loaded, engine.historyRecord(t.id, 'verify', ctx.actor, ctx.started, r.current, r.manifest.version, 'success', undefined, ctx.opId, ctx.timings));
  return {
    success: true, target: t.id, version: r.manifest.version, from_version: r.current, verify_only: true,
    files_updated: changed, files_removed: [], rollback_id: null, operation_id: ctx.opId,
  };
}

/**
 * Installs the verified release. Throws with the transaction's error when anything before the
 * commit fails (the tree is then exactly the old one); `flags` tells the caller how far it got.
 */
export async function installFiles(
  engine: Engine,
  ctx: OpContext,
  t: FilesTargetConfig,
  r: Release & { fetched: FetchedRelease },
  flags: ApplyFlags,
): Promise<ApplyResult> {
  const m = r.manifest;
  const p = targetPaths(ctx.loaded.config, t.id);
  engine.markNotCancellable(ctx);
  const hookCtx = { target: t.id, fromVersion: r.current, toVersion: m.version, installDir: t.install_dir, defaultTimeoutMs: t.hook_timeout * 1000 };
  await engine.timed(ctx, 'pre_apply', () => runHook('pre_apply', t.hooks.pre_apply, hookCtx));
  const outcome = await applyRelease({
    opId: ctx.opId, target: t.id, installDir: t.install_dir, layout: t.layout, stateDir: p.stateDir, pointsDir: p.pointsDir,
    toVersion: m.version, onLocalChange: t.on_local_change,
    reservedDirs: [ctx.loaded.config.state_dir, ctx.loaded.config.download_dir, ctx.loaded.config.backup_dir, ctx.loaded.config.log.file, p.stateDir, p.pointsDir, p.cacheDir].filter((d): d is string => typeof d === 'string'), retention: effectivePolicy(t, (await readRuntime(ctx.loaded.config.state_dir, t.id)).settings).retention,
    files: r.files.map((f) => isSymlinkEntry(f)
      ? { path: f.path, source: '', sha256: '', size: 0, mode: 0, target: f.target }
      : { path: f.path, source: r.fetched.blobs.get(f.path)!, sha256: f.sha256, size: f.size, mode: modeOf(f) }),
  }, {
    onProgress: (pr) => engine.progress(ctx, phaseOf(pr.phase), `${labelOf(pr.phase)}${pr.file ? ` ${pr.file}` : ''}`, installPercent(pr.phase, pr.done, pr.total), { files_done: pr.done, files_total: pr.total, ...(pr.file ? { file: pr.file } : {}) }),
    verify: async () => {
      flags.switched = true;
      // A phase is shown only for a hook the target has: no "Running migrate hook" without one.
      if (t.hooks.migrate) await engine.phase(ctx, 'migrate', 'Running migrate hook', 89, () => runHook('migrate', t.hooks.migrate, hookCtx));
      if (t.hooks.smoke) await engine.phase(ctx, 'smoke', 'Running smoke hook', 91, () => runHook('smoke', t.hooks.smoke, hookCtx));
      if (t.health) {
        const health = t.health;
        await engine.phase(ctx, 'health', 'Checking health', 94, () => runHealthCheck(health, { version: m.version, signal: ctx.abort.signal }));
      }
    },
    onCommitted: () => {
      flags.committed = true;
    },
  });
  // Committed: from here nothing may undo the update or claim a rollback. Bookkeeping that
  // fails is logged; the installed tree and installed.json already say the truth.
  try {
    await engine.timed(ctx, 'post_apply', () => runHook('post_apply', t.hooks.post_apply, hookCtx));
  } catch (err) {
    engine.bus.log('warn', `post_apply hook failed after ${m.version} was committed: ${(err as Error).message}`, t.id);
  }
  try {
    await updateRuntime(ctx.loaded.config.state_dir, t.id, (rt) => ({ ...rt, available: null, last_error: null }));
    const rec = engine.historyRecord(t.id, 'apply', ctx.actor, ctx.started, r.current, m.version, 'success', undefined, ctx.opId, ctx.timings);
    rec.rollback_id = outcome.rollbackId;
    rec.bytes_downloaded = r.fetched.bytes - r.fetched.reusedBytes;
    if (outcome.localCopies.length > 0) rec.local_copies = outcome.localCopies;
    await engine.record(ctx.loaded, rec);
  } catch (err) {
    engine.bus.log('error', `${t.id}: ${m.version} is installed, but recording it failed: ${(err as Error).message}`, t.id);
  }
  for (const c of outcome.localCopies) engine.bus.log('warn', `${t.id}: ${c.path} was edited locally; your copy is kept as ${c.kept_as}`, t.id);
  await pruneCacheAfter(engine, ctx, t.id);
  engine.progress(ctx, 'commit', `Updated to ${m.version}`, 100);
  engine.bus.log('info', `${t.id}: updated ${r.current ?? 'nothing'} -> ${m.version}; rollback point ${outcome.rollbackId ?? 'none'}`, t.id);
  engine.bus.notify({ type: 'update_completed', target: t.id, version: m.version, from_version: r.current, message: `${t.name ?? t.id} updated to ${m.version}` });
  return {
    success: true, target: t.id, version: m.version, from_version: r.current, verify_only: false,
    files_updated: outcome.filesUpdated, files_removed: outcome.filesRemoved, rollback_id: outcome.rollbackId, operation_id: ctx.opId,
    ...(outcome.localCopies.length > 0 ? { local_copies: outcome.localCopies } : {}),
  };
}

/** Restores a rollback point of a files target (journaled), runs the rollback hook, records it. */
export async function rollbackFiles(engine: Engine, ctx: OpContext, t: FilesTargetConfig, rollbackId: string | null): Promise<RollbackResult> {
  const p = targetPaths(ctx.loaded.config, t.id);
  const cache = new BlobCache(p.cacheDir);
  // Bytes a point lacks (a managed file the user deleted) may still be in the download cache.
  const findBlob = async (sha: string): Promise<string | null> => {
    const blob = cache.pathFor(sha);
    return (await exists(blob)) ? blob : null;
  };
  const res = await rollbackToPoint({ target: t.id, installDir: t.install_dir, stateDir: p.stateDir, pointsDir: p.pointsDir, opId: ctx.opId, findBlob, onLocalChange: t.on_local_change, ...(rollbackId ? { rollbackId } : {}) }, {
    onProgress: (pr) => engine.progress(ctx, 'rollback', `Restoring${pr.file ? ` ${pr.file}` : ''}`, Math.round((pr.done / Math.max(1, pr.total)) * 100), { files_done: pr.done, files_total: pr.total }),
  });
  try {
    await runHook('rollback', t.hooks.rollback, { target: t.id, fromVersion: res.fromVersion, toVersion: res.version, installDir: t.install_dir, defaultTimeoutMs: t.hook_timeout * 1000 });
  } catch (err) {
    engine.bus.log('warn', `rollback hook failed after restoring ${res.version ?? 'the previous state'}: ${(err as Error).message}`, t.id);
  }
  const rec = engine.historyRecord(t.id, 'rollback', ctx.actor, ctx.started, res.fromVersion, res.version, 'success', undefined, ctx.opId, ctx.timings);
  rec.rollback_id = res.rollbackId;
  if (res.localCopies.length > 0) rec.local_copies = res.localCopies;
  await engine.record(ctx.loaded, rec);
  await updateRuntime(ctx.loaded.config.state_dir, t.id, (rt) => ({ ...rt, last_error: null }));
  await pruneCacheAfter(engine, ctx, t.id);
  engine.bus.log('info', `${t.id}: rolled back ${res.fromVersion ?? 'nothing'} -> ${res.version ?? 'nothing'} (point ${res.rollbackId})`, t.id);
  engine.bus.notify({ type: 'rolled_back', target: t.id, version: res.version, from_version: res.fromVersion, message: `${t.name ?? t.id} rolled back to ${res.version ?? 'its state before the first install'}` });
  return { success: true, target: t.id, rollback_id: res.rollbackId, version: res.version, from_version: res.fromVersion, operation_id: ctx.opId };
}

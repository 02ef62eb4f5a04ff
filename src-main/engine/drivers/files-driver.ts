/**
 * The `files` target driver: a managed tree of files in `install_dir`, changed only through the
 * journaled transactions of `apply/` (in-place or versioned layout). Hooks: `pre_apply` may veto
 * (nothing changed), `migrate`, `smoke` and the health check run after the switch and undo it when
 * they fail, `rollback` runs after an undo, `post_apply` after the commit.
 */
import type { RollbackPointView } from '../../../src-shared/api';
import { OperationError, UpkeepError, toUpkeepError } from '../../../src-shared/errors';
import type { FilesTargetConfig } from '../config/schema';
import { applyRelease, defaultMode, readInstalled, readInstalledVersion, recover, recoveryPending, rollbackToPoint, unfinishedUndoError, type PlannedFile } from '../apply';
import type { ApplyPhase, ApplyProgress } from '../apply/transaction';
import { pointViews, pointsForRollback, scanPoints } from '../apply/points';
import { BlobCache } from '../net/blob-cache';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { exists } from '../fs/atomic';
import { isStrictlyWithin } from '../trust/paths';
import { extractArchive } from '../archive/extract';
import { runHook, type HookContext } from '../hooks';
import { runHealthCheck } from '../health';
import type { Release } from '../feed/release';
import type {
  ApplyOutcome, ApplyPlan, ApplyPreview, DriverEnv, DriverFactory, OutcomeCause, ProgressSink, RecoveryResult, RollbackOutcome, TargetDriver,
} from './driver';

const LABELS: Record<ApplyPhase, string> = { stage: 'Staging', backup: 'Backing up', switch: 'Switching', commit: 'Committing', rollback: 'Restoring' };

/**
 * The progress line of one transaction step: what happens to the file. An entry that leaves the
 * tree says "Removing"; in a rollback every other step restores the earlier state ("Restoring").
 */
function stepMessage(pr: ApplyProgress, rollback: boolean): string {
  const verb = pr.removing ? 'Removing' : rollback ? 'Restoring' : LABELS[pr.phase];
  return `${verb}${pr.file ? ` ${pr.file}` : ''}`;
}

function causeOf(err: unknown): OutcomeCause {
  const e = toUpkeepError(err);
  return { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) };
}

/**
 * The whole new managed tree of a plan as files (and symbolic links) for the transaction.
 * Archive items (GitHub release assets, zipped bundles) are extracted by `archive/extract.ts`
 * (path, link, device, size and ratio rules; ERR_UNSAFE_ARCHIVE) into `extractDir/<n>/`, and their
 * entries join the tree under the item's `into` directory. Directories are implied by their files.
 */
export async function plannedFiles(plan: ApplyPlan, extractDir: string, signal?: AbortSignal): Promise<PlannedFile[]> {
  const release = plan.release;
  if (!release) throw new OperationError('ERR_APPLY_FAILED', `A files target needs a release from its feed to install ${plan.to}`);
  const out: PlannedFile[] = [];
  let n = 0;
  for (const item of release.items) {
    if (item.kind === 'symlink') {
      out.push({ path: item.path, source: '', sha256: '', size: 0, mode: 0, target: item.target });
      continue;
    }
    const local = plan.artifacts.get(item.kind === 'archive' ? item.name : item.path);
    if (!local) throw new OperationError('ERR_INTERNAL', `${item.kind === 'archive' ? item.name : item.path} of ${release.version} was not downloaded`);
    if (item.kind === 'file') {
      out.push({ path: item.path, source: local.file, sha256: local.sha256, size: local.size, mode: defaultMode(item.type, item.mode) });
      continue;
    }
    const dest = path.join(extractDir, String(n++));
    await fsp.rm(dest, { recursive: true, force: true });
    await fsp.mkdir(extractDir, { recursive: true, mode: 0o700 });
    const entries = await extractArchive(local.file, dest, { format: item.format, stripComponents: item.strip_components, ...(signal ? { signal } : {}) });
    const prefix = item.into.replace(/^\/+|\/+$/g, '');
    const at = (p: string): string => (prefix ? `${prefix}/${p}` : p);
    for (const e of entries) {
      if (e.type === 'file') out.push({ path: at(e.path), source: path.join(dest, e.path), sha256: e.sha256 ?? '', size: e.size, mode: e.mode & 0o777 });
      else if (e.type === 'symlink') out.push({ path: at(e.path), source: '', sha256: '', size: 0, mode: 0, target: e.target ?? '' });
    }
  }
  return out;
}

export class FilesDriver implements TargetDriver {
  readonly kind = 'files' as const;

  constructor(private readonly t: FilesTargetConfig, private readonly env: DriverEnv) {}

  private hookCtx(from: string | null, to: string | null): HookContext {
    return { target: this.t.id, fromVersion: from, toVersion: to, installDir: this.t.install_dir, defaultTimeoutMs: this.t.hook_timeout * 1000 };
  }

  async currentVersion(): Promise<string | null> {
    return readInstalledVersion(this.env.paths.stateDir);
  }

  async points(): Promise<RollbackPointView[]> {
    // A damaged point is listed with its error; the intact ones as always.
    return pointViews(await scanPoints(this.env.paths.pointsDir), this.t.id);
  }

  async assertRollbackIntact(point: string | null): Promise<void> {
    await pointsForRollback(this.env.paths.pointsDir, point ?? undefined);
  }

  recover(): Promise<RecoveryResult> {
    return recover({ stateDir: this.env.paths.stateDir, installDir: this.t.install_dir, pointsDir: this.env.paths.pointsDir });
  }

  recoveryPending(): boolean {
    return recoveryPending({ stateDir: this.env.paths.stateDir, installDir: this.t.install_dir, pointsDir: this.env.paths.pointsDir });
  }

  accepts(release: Release): boolean {
    // A release built only for other platforms is not an update for this machine (installing its
    // empty tree would remove every managed file).
    return release.items.length > 0;
  }

  private extractDir(opId: string): string {
    return path.join(this.env.paths.stateDir, 'extract', opId);
  }

  async preview(plan: ApplyPlan): Promise<ApplyPreview> {
    const dir = this.extractDir(`${plan.opId}-preview`);
    let files: PlannedFile[];
    try {
      files = await plannedFiles(plan, dir);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
    const installed = await readInstalled(this.env.paths.stateDir);
    const have = new Map((installed?.files ?? []).map((f) => [f.path, f]));
    const wanted = new Set(files.map((f) => f.path));
    return {
      files_updated: files.filter((f) => {
        const h = have.get(f.path);
        return f.target !== undefined ? h?.target !== f.target : h?.sha256 !== f.sha256 || h?.mode !== f.mode;
      }).map((f) => f.path),
      files_removed: (installed?.files ?? []).filter((f) => !wanted.has(f.path)).map((f) => f.path),
    };
  }

  async apply(plan: ApplyPlan, signal: AbortSignal, onProgress: ProgressSink): Promise<ApplyOutcome> {
    const dir = this.extractDir(plan.opId);
    try {
      const files = await plannedFiles(plan, dir, signal);
      // Staging without copying bytes: extracted files are scratch (deleted after the apply) and
      // may become the installed files; cache blobs may once (the cache records the hand-out
      // before the link exists and re-hashes such blobs before any reuse, see blob-cache.ts).
      const cache = new BlobCache(this.env.paths.cacheDir);
      for (const f of files) {
        if (f.target !== undefined) continue;
        f.linkable = isStrictlyWithin(dir, f.source) || (await cache.mayLink(f.source));
      }
      return await this.applyFiles(plan, files, cache, signal, onProgress);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  }

  private async applyFiles(plan: ApplyPlan, files: PlannedFile[], cache: BlobCache, signal: AbortSignal, onProgress: ProgressSink): Promise<ApplyOutcome> {
    const t = this.t;
    const hookCtx = this.hookCtx(plan.from, plan.to);
    const warnings: string[] = [];
    // A veto here changes nothing: thrown to the runner as a plain failure.
    await runHook('pre_apply', t.hooks.pre_apply, hookCtx);
    let switched = false;
    let committed = false;
    let outcome;
    try {
      outcome = await applyRelease({
        opId: plan.opId, target: t.id, installDir: t.install_dir, layout: t.layout, stateDir: this.env.paths.stateDir, pointsDir: this.env.paths.pointsDir,
        toVersion: plan.to, retention: plan.retention, files, onLocalChange: t.on_local_change, reservedDirs: this.env.reservedDirs, clock: this.env.clock,
      }, {
        onProgress: (pr) => onProgress({ phase: pr.phase, message: stepMessage(pr, false), done: pr.done, total: pr.total, ...(pr.file ? { file: pr.file } : {}) }),
        verify: async () => {
          switched = true;
          if (t.hooks.migrate) {
            onProgress({ phase: 'migrate', message: 'Running migrate hook', done: 0, total: 1 });
            await runHook('migrate', t.hooks.migrate, hookCtx);
          }
          if (t.hooks.smoke) {
            onProgress({ phase: 'smoke', message: 'Running smoke hook', done: 0, total: 1 });
            await runHook('smoke', t.hooks.smoke, hookCtx);
          }
          if (t.health) {
            onProgress({ phase: 'health', message: 'Checking health', done: 0, total: 1 });
            await runHealthCheck(t.health, { version: plan.to, signal });
          }
        },
        onCommitted: () => {
          committed = true;
        },
        beforeStage: (linked) => cache.recordHandedOut(plan.opId, linked.filter((p) => isStrictlyWithin(cache.dir, p))),
      });
    } catch (err) {
      const cause = causeOf(err);
      if (committed) {
        // The commit is durable; only finishing touches failed (recovery completes them).
        warnings.push(`${plan.to} is installed, but finishing the update failed: ${cause.message} — the next Upkeep command completes it`);
        return { kind: 'committed', files_updated: files.map((f) => f.path), files_removed: [], rollback_id: null, warnings };
      }
      if (!switched) throw err;
      if (err instanceof UpkeepError && err.details?.undo_failed) {
        const causeCode = typeof err.details.cause_code === 'string' ? err.details.cause_code : cause.code;
        return { kind: 'undo_failed', cause: { code: causeCode, message: cause.message }, undo_error: { code: cause.code, message: 'the target stays as it is until recovery finishes the undo' }, warnings };
      }
      try {
        await runHook('rollback', t.hooks.rollback, this.hookCtx(plan.to, plan.from));
      } catch (hookErr) {
        warnings.push(`rollback hook failed: ${toUpkeepError(hookErr).message}`);
      }
      return { kind: 'rolled_back', cause, warnings };
    }
    try {
      await runHook('post_apply', t.hooks.post_apply, hookCtx);
    } catch (err) {
      warnings.push(`post_apply hook failed after ${plan.to} was committed: ${toUpkeepError(err).message}`);
    }
    for (const c of outcome.localCopies) warnings.push(`${c.path} was edited locally; your copy is kept as ${c.kept_as}`);
    return {
      kind: 'committed', files_updated: outcome.filesUpdated, files_removed: outcome.filesRemoved, rollback_id: outcome.rollbackId, warnings,
      ...(outcome.localCopies.length > 0 ? { local_copies: outcome.localCopies } : {}),
    };
  }

  async rollback(point: string | null, opId: string, _signal: AbortSignal, onProgress: ProgressSink): Promise<RollbackOutcome> {
    const t = this.t;
    const cache = new BlobCache(this.env.paths.cacheDir);
    // Bytes a point lacks (a managed file the user deleted) may still be in the download cache.
    const findBlob = async (sha: string): Promise<string | null> => {
      const blob = cache.pathFor(sha);
      return (await exists(blob)) ? blob : null;
    };
    // A rollback that would consume a damaged point is refused by rollbackToPoint (pointsForRollback) before anything changes.
    let switched = false;
    let res;
    const deferred: Promise<void>[] = [];
    try {
      res = await rollbackToPoint({
        target: t.id, installDir: t.install_dir, stateDir: this.env.paths.stateDir, pointsDir: this.env.paths.pointsDir, opId, findBlob, onLocalChange: t.on_local_change, reservedDirs: this.env.reservedDirs, clock: this.env.clock, ...(point ? { rollbackId: point } : {}),
      }, {
        onProgress: (pr) => {
          if (pr.phase === 'switch' || pr.phase === 'backup') switched = true;
          onProgress({ phase: 'rollback', message: stepMessage(pr, true), done: pr.done, total: pr.total, ...(pr.file ? { file: pr.file } : {}) });
        },
        defer: (p) => deferred.push(p),
      });
    } catch (thrown) {
      // An undo that did not finish leaves the journal: reported as such, never as "rolled back".
      const err = await unfinishedUndoError(this.env.paths.stateDir, opId, thrown);
      if (!switched) throw err;
      const cause = causeOf(err);
      if (err instanceof UpkeepError && err.details?.undo_failed) return { kind: 'undo_failed', cause, undo_error: { code: cause.code, message: 'undoing the rollback failed too — the next Upkeep command finishes it' }, warnings: [] };
      return { kind: 'rolled_back', cause, warnings: [] };
    }
    const warnings: string[] = [];
    try {
      await runHook('rollback', t.hooks.rollback, this.hookCtx(res.fromVersion, res.version));
    } catch (err) {
      warnings.push(`rollback hook failed after restoring ${res.version ?? 'the previous state'}: ${toUpkeepError(err).message}`);
    }
    for (const c of res.localCopies) warnings.push(`${c.path} was edited locally; your copy is kept as ${c.kept_as}`);
    const cleanup = deferred.length === 0 ? null : Promise.all(deferred).then(
      () => null,
      (err: unknown) => `removing what the rollback left behind failed (the next operation sweeps it): ${toUpkeepError(err).message}`,
    );
    return { kind: 'committed', rollback_id: res.rollbackId, version: res.version, from_version: res.fromVersion, warnings, ...(res.localCopies.length > 0 ? { local_copies: res.localCopies } : {}), ...(cleanup ? { cleanup } : {}) };
  }
}

export const createFilesDriver: DriverFactory<FilesTargetConfig> = (t, env) => new FilesDriver(t, env);

/**
 * The step sequence shared by drivers whose rollback point is a record of the previous state
 * rather than a copy of files (git, compose): post-switch steps in order, and the tail of an
 * undo (restore, then the rollback hook, whose failure is only a warning).
 */
import type { ErrorView, Phase } from '../../../src-shared/api';
import { toUpkeepError } from '../../../src-shared/errors';
import type { HookCommand } from '../config/schema';
import { runHook, type HookContext } from '../hooks';
import type { ApplyOutcome, ProgressSink, RollbackOutcome } from './driver';

/** `{ code, message }` of any thrown value. */
export function errorView(e: unknown): ErrorView {
  const u = toUpkeepError(e);
  return { code: u.code, message: u.message };
}

/** Runs `hook` (when configured); a failure becomes the warning "<name> hook failed: …". */
export async function hookAsWarning(name: string, hook: HookCommand | undefined, ctx: HookContext, warnings: string[]): Promise<void> {
  try {
    await runHook(name, hook, ctx);
  } catch (err) {
    warnings.push(`${name} hook failed: ${toUpkeepError(err).message}`);
  }
}

/** One step after the switch: skipped when `run` is undefined. */
export interface PointStep {
  /** Name used in "Rolling back (<name> failed)". */
  name: string;
  phase: Phase;
  message: string;
  run: (() => Promise<unknown>) | undefined;
}

/**
 * Runs `steps` in order, reporting each one's progress. Returns null when all passed, else the
 * failing step's name and the error it threw.
 */
export async function runPointSteps(steps: PointStep[], onProgress: ProgressSink): Promise<{ step: string; error: unknown } | null> {
  for (const s of steps) {
    if (!s.run) continue;
    onProgress({ phase: s.phase, message: s.message, done: 0, total: 1 });
    try {
      await s.run();
    } catch (error) {
      return { step: s.name, error };
    }
  }
  return null;
}

/**
 * Undoes a failed apply: `restore()` then the rollback hook. Returns `rolled_back` with `cause`,
 * or `undo_failed` when `restore()` throws (the hook does not run then).
 */
export async function undoFailedApply(opts: {
  cause: ErrorView;
  restore: () => Promise<void>;
  hook: HookCommand | undefined;
  hookCtx: HookContext;
  warnings: string[];
}): Promise<ApplyOutcome> {
  try {
    await opts.restore();
  } catch (undoErr) {
    return { kind: 'undo_failed', cause: opts.cause, undo_error: errorView(undoErr), warnings: opts.warnings };
  }
  await hookAsWarning('rollback', opts.hook, opts.hookCtx, opts.warnings);
  return { kind: 'rolled_back', cause: opts.cause, warnings: opts.warnings };
}

/**
 * A manual rollback to a point: `restore()` (which also records the point's version as
 * installed and drops the point and newer ones), then the rollback hook. `undo_failed` when
 * `restore()` throws.
 */
export async function rollbackWithHook(opts: {
  rollbackId: string;
  version: string | null;
  fromVersion: string | null;
  restore: () => Promise<void>;
  hook: HookCommand | undefined;
  hookCtx: HookContext;
  onProgress: ProgressSink;
}): Promise<RollbackOutcome> {
  const warnings: string[] = [];
  try {
    await opts.restore();
  } catch (err) {
    return { kind: 'undo_failed', cause: errorView(err), undo_error: errorView(err), warnings };
  }
  opts.onProgress({ phase: 'rollback', message: 'Running rollback hook', done: 1, total: 2 });
  await hookAsWarning('rollback', opts.hook, opts.hookCtx, warnings);
  return { kind: 'committed', rollback_id: opts.rollbackId, version: opts.version, from_version: opts.fromVersion, warnings };
}

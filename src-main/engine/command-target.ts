/**
 * `command` targets: the update is carried out by configured step commands
 * (backup → pull → migrate → smoke → switch → health → confirm), e.g. a docker compose stack.
 * Any failing step after `backup` runs the `rollback` step and reports `rolled_back`.
 * Upkeep records the version it switched to and keeps rollback points as (from → to) records
 * whose `rollback` step is run with UPKEEP_TO_VERSION set to the version to return to.
 */
import type { ApplyResult, RollbackPointView, RollbackResult } from '../../src-shared/api';
import { NotFoundError, OperationError, UpkeepError, toUpkeepError } from '../../src-shared/errors';
import type { CommandTargetConfig, HookCommand, StepName } from './config/schema';
import { readCommandState as readState, writeCommandState } from './command-state';
import { runHook } from './hooks';
import { runHealthCheck } from './health';
import type { Engine, OpContext } from './engine';
import type { LoadedManifest } from './feed/native-feed';
import { targetPaths } from './target-paths';
import { newRollbackId } from './apply';
import { effectivePolicy } from './policy';
import { readRuntime, updateRuntime } from './state/store';

/** The version Upkeep recorded for a command target (or its configured initial version). */
export async function commandCurrentVersion(stateDir: string, t: CommandTargetConfig): Promise<string | null> {
  return (await readState(stateDir))?.version ?? t.initial_version ?? null;
}

/** Rollback points of a command target, newest first. */
export async function listCommandPoints(stateDir: string): Promise<RollbackPointView[]> {
  return (await readState(stateDir))?.points ?? [];
}

type ApplyOpts = { from: string | null; to: string; verifyOnly: boolean; manifest: LoadedManifest | null };

/** Applies version `o.to` to a command target through its steps. */
export function runCommandApply(engine: Engine, ctx: OpContext, t: CommandTargetConfig, o: ApplyOpts): Promise<ApplyResult> {
  return apply(engine, ctx, t, o);
}

/** Returns a command target to a rollback point's from-version by running its rollback step. */
export function runCommandRollback(engine: Engine, ctx: OpContext, t: CommandTargetConfig, rollbackId: string | null): Promise<RollbackResult> {
  return manualRollback(engine, ctx, t, rollbackId);
}

function stepRunner(engine: Engine, ctx: OpContext, t: CommandTargetConfig, from: string | null, to: string | null) {
  const base = { target: t.id, fromVersion: from, toVersion: to, installDir: t.install_dir, defaultTimeoutMs: t.hook_timeout * 1000 };
  return async (name: StepName, percent: number, cmd: HookCommand | undefined = t.steps[name]) => {
    if (!cmd) return;
    // kind 'step': failures are ERR_STEP_FAILED naming the step, UPKEEP_STEP is set.
    await engine.phase(ctx, 'step', `Running ${name} step`, percent, () => runHook(name, cmd, { ...base, kind: 'step', signal: ctx.abort.signal }));
  };
}

async function apply(engine: Engine, ctx: OpContext, t: CommandTargetConfig, o: ApplyOpts): Promise<ApplyResult> {
  const result: ApplyResult = {
    success: true, target: t.id, version: o.to, from_version: o.from, verify_only: o.verifyOnly,
    files_updated: [], files_removed: [], rollback_id: null, operation_id: ctx.opId,
  };
  if (o.verifyOnly) {
    await engine.record(ctx.loaded, engine.historyRecord(t.id, 'verify', ctx.actor, ctx.started, o.from, o.to, 'success', undefined, ctx.opId));
    return result;
  }
  const hookCtx = { target: t.id, fromVersion: o.from, toVersion: o.to, installDir: t.install_dir, defaultTimeoutMs: t.hook_timeout * 1000 };
  // From here on the steps change the running system: cancelling is no longer safe.
  engine.markNotCancellable(ctx);
  engine.bus.notify({ type: 'update_started', target: t.id, version: o.to, from_version: o.from, is_critical: o.manifest?.manifest.is_critical ?? false, message: `Updating ${t.name ?? t.id} to ${o.to}` });
  await engine.timed(ctx, 'pre_apply', () => runHook('pre_apply', t.hooks.pre_apply, hookCtx));
  const step = stepRunner(engine, ctx, t, o.from, o.to);
  await step('backup', 5);
  try {
    await step('pull', 20);
    await step('migrate', 40);
    await step('smoke', 55);
    await step('switch', 70);
    await step('health', 80);
    if (t.health) {
      const health = t.health;
      await engine.phase(ctx, 'health', 'Checking health', 85, () => runHealthCheck(health, { version: o.to, signal: ctx.abort.signal }));
    }
    await step('confirm', 95);
  } catch (err) {
    const e = toUpkeepError(err);
    let rollbackError: UpkeepError | null = null;
    try {
      await step('rollback', 97);
    } catch (rbErr) {
      rollbackError = toUpkeepError(rbErr);
    }
    if (rollbackError) {
      throw new OperationError(e.code, `${e.message}; the rollback step failed too: ${rollbackError.message}`, { ...(e.details ?? {}), rolled_back: false, rollback_error: rollbackError.message });
    }
    engine.bus.notify({ type: 'rolled_back', target: t.id, version: o.from, from_version: o.to, error: { code: e.code, message: e.message }, message: `${t.name ?? t.id} ${o.to} failed (${e.code}); rolled back to ${o.from ?? 'the previous state'}` });
    throw new OperationError(e.code, `${e.message} — rolled back to ${o.from ?? 'the previous state'}`, { ...(e.details ?? {}), rolled_back: true });
  }
  const p = targetPaths(ctx.loaded.config, t.id);
  const state = (await readState(p.stateDir)) ?? { version: null, updated_at: '', points: [] };
  const now = new Date();
  const point: RollbackPointView = {
    rollback_id: newRollbackId(now),
    target: t.id, from_version: o.from, to_version: o.to, created_at: now.toISOString(), size_bytes: 0, files: 0,
  };
  const retention = effectivePolicy(t, (await readRuntime(ctx.loaded.config.state_dir, t.id)).settings).retention;
  await writeCommandState(p.stateDir, {
    version: o.to, updated_at: now.toISOString(), points: [point, ...state.points].slice(0, retention),
  });
  try {
    await engine.timed(ctx, 'post_apply', () => runHook('post_apply', t.hooks.post_apply, hookCtx));
  } catch (err) {
    engine.bus.log('warn', `post_apply hook failed after ${o.to}: ${(err as Error).message}`, t.id);
  }
  await updateRuntime(ctx.loaded.config.state_dir, t.id, (rt) => ({ ...rt, available: null, last_error: null }));
  const rec = engine.historyRecord(t.id, 'apply', ctx.actor, ctx.started, o.from, o.to, 'success', undefined, ctx.opId, ctx.timings);
  rec.rollback_id = point.rollback_id;
  await engine.record(ctx.loaded, rec);
  engine.progress(ctx, 'commit', `Updated to ${o.to}`, 100);
  engine.bus.notify({ type: 'update_completed', target: t.id, version: o.to, from_version: o.from, message: `${t.name ?? t.id} updated to ${o.to}` });
  return { ...result, rollback_id: point.rollback_id };
}

async function manualRollback(engine: Engine, ctx: OpContext, t: CommandTargetConfig, rollbackId: string | null): Promise<RollbackResult> {
  const p = targetPaths(ctx.loaded.config, t.id);
  const state = await readState(p.stateDir);
  const points = state?.points ?? [];
  const idx = rollbackId ? points.findIndex((x) => x.rollback_id === rollbackId) : 0;
  const point = points[idx];
  if (!point) throw new NotFoundError('ERR_ROLLBACK_POINT_NOT_FOUND', rollbackId ? `No rollback point ${rollbackId} for ${t.id}` : `No rollback points for ${t.id}`);
  const current = state?.version ?? null;
  if (!t.steps.rollback) throw new UpkeepError('ERR_USAGE', `Target ${t.id} has no rollback step configured`);
  const step = stepRunner(engine, ctx, t, current, point.from_version);
  await step('rollback', 50);
  await writeCommandState(p.stateDir, {
    version: point.from_version, updated_at: new Date().toISOString(), points: points.slice(idx + 1),
  });
  const rec = engine.historyRecord(t.id, 'rollback', ctx.actor, ctx.started, current, point.from_version, 'success', undefined, ctx.opId, ctx.timings);
  rec.rollback_id = point.rollback_id;
  await engine.record(ctx.loaded, rec);
  engine.bus.notify({ type: 'rolled_back', target: t.id, version: point.from_version, from_version: current, message: `${t.name ?? t.id} rolled back to ${point.from_version ?? 'its previous state'}` });
  return { success: true, target: t.id, rollback_id: point.rollback_id, version: point.from_version, from_version: current, operation_id: ctx.opId };
}

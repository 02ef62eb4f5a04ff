/**
 * The `command` target driver: the update is carried out by configured step commands
 * (backup → pull → migrate → smoke → switch → health → confirm), e.g. a docker compose stack.
 * Any failing step after `backup` runs the `rollback` step: `rolled_back` when it succeeds,
 * `undo_failed` when it fails too. The rollback step always sees UPKEEP_FROM_VERSION = the version
 * being left and UPKEEP_TO_VERSION = the version returned to, after a failed apply as in a
 * manual rollback (as git targets' rollback hook does). Upkeep records the version it switched to and keeps rollback
 * points as (from → to) records in `command-state.json`; a manual rollback runs the `rollback`
 * step with UPKEEP_TO_VERSION set to the version to return to.
 */
import type { RollbackPointView } from '../../../src-shared/api';
import { NotFoundError, UpkeepError, toUpkeepError } from '../../../src-shared/errors';
import type { CommandTargetConfig, HookCommand, StepName } from '../config/schema';
import { readCommandState, writeCommandState, type CommandState } from '../command-state';
import { runHook, type HookContext } from '../hooks';
import { runHealthCheck } from '../health';
import { newRollbackId } from '../apply';
import type { Release } from '../feed/release';
import type {
  ApplyOutcome, ApplyPlan, ApplyPreview, DriverEnv, DriverFactory, OutcomeCause, ProgressSink, RecoveryResult, RollbackOutcome, TargetDriver,
} from './driver';


/** The steps of an apply after `backup`, in order (health also runs the configured health check). */
const APPLY_STEPS: StepName[] = ['pull', 'migrate', 'smoke', 'switch', 'health', 'confirm'];

function causeOf(err: unknown): OutcomeCause {
  const e = toUpkeepError(err);
  return { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) };
}

export class CommandDriver implements TargetDriver {
  readonly kind = 'command' as const;

  constructor(private readonly t: CommandTargetConfig, private readonly env: DriverEnv) {}

  private readState(): Promise<CommandState | undefined> {
    return readCommandState(this.env.paths.stateDir);
  }

  private writeState(state: CommandState): Promise<void> {
    return writeCommandState(this.env.paths.stateDir, state);
  }

  private hookCtx(from: string | null, to: string | null): HookContext {
    return { target: this.t.id, fromVersion: from, toVersion: to, installDir: this.t.install_dir, defaultTimeoutMs: this.t.hook_timeout * 1000 };
  }

  /** Runs one configured step (kind 'step': failures are ERR_STEP_FAILED naming it, UPKEEP_STEP set). */
  private async step(name: StepName, ctx: HookContext, signal: AbortSignal, onProgress: ProgressSink, done: number, total: number, cmd: HookCommand | undefined = this.t.steps[name]): Promise<void> {
    if (!cmd) return;
    onProgress({ phase: name === 'rollback' ? 'rollback' : name === 'health' ? 'health' : 'step', message: `Running ${name} step`, done, total });
    await runHook(name, cmd, { ...ctx, kind: 'step', signal });
  }

  async currentVersion(): Promise<string | null> {
    return (await this.readState())?.version ?? this.t.initial_version ?? null;
  }

  async points(): Promise<RollbackPointView[]> {
    return (await this.readState())?.points ?? [];
  }

  /** Steps leave no journal: an interrupted apply is the configured commands' own business. */
  async recover(): Promise<RecoveryResult> {
    return 'none';
  }

  /** Command targets may take file-less releases. */
  accepts(_release: Release): boolean {
    return true;
  }

  async preview(_plan: ApplyPlan): Promise<ApplyPreview> {
    return { files_updated: [], files_removed: [] };
  }

  async apply(plan: ApplyPlan, signal: AbortSignal, onProgress: ProgressSink): Promise<ApplyOutcome> {
    const t = this.t;
    const ctx = this.hookCtx(plan.from, plan.to);
    const steps = APPLY_STEPS.filter((s) => t.steps[s] || (s === 'health' && t.health));
    const total = steps.length + 1;
    // pre_apply and backup change nothing the rollback step would need to undo: a failure is thrown.
    await runHook('pre_apply', t.hooks.pre_apply, ctx);
    await this.step('backup', ctx, signal, onProgress, 0, total);
    try {
      let done = 1;
      for (const s of steps) {
        await this.step(s, ctx, signal, onProgress, done, total);
        if (s === 'health' && t.health) {
          onProgress({ phase: 'health', message: 'Checking health', done, total });
          await runHealthCheck(t.health, { version: plan.to, signal });
        }
        done += 1;
      }
    } catch (err) {
      const cause = causeOf(err);
      try {
        // Like a manual rollback: FROM is the version being left, TO the one returned to.
        await this.step('rollback', this.hookCtx(plan.to, plan.from), signal, onProgress, 0, 1);
      } catch (rbErr) {
        const e = toUpkeepError(rbErr);
        return { kind: 'undo_failed', cause, undo_error: { code: e.code, message: `the rollback step failed too: ${e.message}` }, warnings: [] };
      }
      return { kind: 'rolled_back', cause, warnings: [] };
    }
    const state = (await this.readState()) ?? { version: null, updated_at: '', points: [] };
    const now = this.env.clock.now();
    const point: RollbackPointView = {
      rollback_id: newRollbackId(now), target: t.id, from_version: plan.from, to_version: plan.to, created_at: now.toISOString(), size_bytes: 0, files: 0,
    };
    await this.writeState({ version: plan.to, updated_at: now.toISOString(), points: [point, ...state.points].slice(0, plan.retention) });
    const warnings: string[] = [];
    try {
      await runHook('post_apply', t.hooks.post_apply, ctx);
    } catch (err) {
      warnings.push(`post_apply hook failed after ${plan.to}: ${toUpkeepError(err).message}`);
    }
    return { kind: 'committed', files_updated: [], files_removed: [], rollback_id: point.rollback_id, warnings };
  }

  async rollback(pointId: string | null, _opId: string, signal: AbortSignal, onProgress: ProgressSink): Promise<RollbackOutcome> {
    const t = this.t;
    const state = await this.readState();
    const points = state?.points ?? [];
    const idx = pointId ? points.findIndex((x) => x.rollback_id === pointId) : 0;
    const point = points[idx];
    if (!point) throw new NotFoundError('ERR_ROLLBACK_POINT_NOT_FOUND', pointId ? `No rollback point ${pointId} for ${t.id}` : `No rollback points for ${t.id}`);
    const current = state?.version ?? null;
    if (!t.steps.rollback) throw new UpkeepError('ERR_USAGE', `Target ${t.id} has no rollback step configured`);
    // A failing rollback step leaves the recorded version as it was: thrown as a plain failure.
    await this.step('rollback', this.hookCtx(current, point.from_version), signal, onProgress, 0, 1);
    await this.writeState({ version: point.from_version, updated_at: this.env.clock.now().toISOString(), points: points.slice(idx + 1) });
    return { kind: 'committed', rollback_id: point.rollback_id, version: point.from_version, from_version: current, warnings: [] };
  }
}

export const createCommandDriver: DriverFactory<CommandTargetConfig> = (t, env) => new CommandDriver(t, env);

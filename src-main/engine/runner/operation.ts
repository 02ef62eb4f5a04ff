/**
 * One running operation and what the runner does around it: the `Op` record (config, driver,
 * lock, abort signal, progress bar, phase timings), the services every phase shares
 * (`RunnerContext`), and the ending of an operation — `conclude` records the history line,
 * sends the notification, logs, and for a failure persists the error and moves the state to
 * `failed`. Only the runner's modules call these; drivers and feeds never do.
 */
import type { Actor, HistoryRecord, Phase } from '../../../src-shared/api';
import { UpkeepError } from '../../../src-shared/errors';
import type { TargetConfig } from '../config/schema';
import type { LoadedConfig } from '../config/load';
import type { Clock } from '../clock';
import type { EventBus } from '../events';
import type { Limits } from '../limits';
import type { Fetcher } from '../net/fetcher';
import type { TargetDriver } from '../drivers';
import { updateRuntime, type RuntimeState } from '../state/store';
import { pruneDownloadCache } from '../apply/cache-prune';
import type { HistoryWriter } from './history-writer';
import type { LiveState } from './live-state';
import type { ProgressDetails, ProgressTracker } from './progress-tracker';
import type { Report, ReportSubject } from './reports';
import type { SnapshotCache } from './target-memory';
import type { FeedContext } from './hold';

/** The services an operation's phases share (one set per runner). */
export interface RunnerContext {
  readonly clock: Clock;
  readonly limits: Limits;
  readonly bus: EventBus;
  readonly fetcher: Fetcher;
  readonly live: LiveState;
  readonly memory: SnapshotCache;
  readonly historyWriter: HistoryWriter;
  /** Feed warnings (weak verification, shared HMAC secrets) go to the event bus's log. */
  readonly feedLog: (target: string, level: 'info' | 'warn', message: string) => void;
}

/** An operation in flight on one target. */
export interface Op {
  loaded: LoadedConfig;
  target: TargetConfig;
  driver: TargetDriver;
  opId: string;
  actor: Actor;
  started: Date;
  startedMono: number;
  /** Milliseconds spent per phase (`check`, `download`, `verify`, `apply`, `rollback`). */
  timings: Record<string, number>;
  abort: AbortController;
  tracker: ProgressTracker;
  release: () => Promise<void>;
  /** The version the operation moves to (state and reports). */
  version: string;
  /** The target's feed as the check step loaded it (null: no feed, or no check step ran). */
  feed: FeedContext | null;
  /**
   * The version a rollback in this operation restores, for the `rolling-back` state's
   * `to_version` (null: nothing installed before; unset: not known).
   */
  restores?: string | null;
}

/** An error whose report was already recorded and announced (rethrown as is). */
export class ReportedError extends Error {
  constructor(readonly error: UpkeepError) {
    super(error.message);
  }
}

/** Runs `fn` and adds its duration (ms, monotonic) to `op.timings[name]`. */
export async function timed<T>(c: RunnerContext, op: Op, name: string, fn: () => Promise<T>): Promise<T> {
  const s = c.clock.monoMs();
  try {
    return await fn();
  } finally {
    op.timings[name] = (op.timings[name] ?? 0) + Math.round(c.clock.monoMs() - s);
  }
}

/** Moves the operation's bar within `phase` to `fraction` (0–1) and announces it (throttled). */
export function opProgress(c: RunnerContext, op: Op, phase: Phase, message: string, fraction: number, d: ProgressDetails = {}, force = false): void {
  c.live.progress(op.target.id, op.tracker, phase, message, fraction, d, force);
}

/**
 * Read-modify-writes the target's `runtime.json` (serialised per target; `fn` sees the state on
 * disk) and keeps the in-memory snapshot in step.
 */
export async function writeRuntime(c: RunnerContext, loaded: LoadedConfig, id: string, fn: (rt: RuntimeState) => RuntimeState | Promise<RuntimeState>): Promise<void> {
  c.memory.setRuntime(id, await updateRuntime(loaded.config.state_dir, id, fn));
}

/** Appends the operation's history line (timed by the clock, with its phase timings). */
export async function recordOp(c: RunnerContext, op: Op, s: ReportSubject, result: HistoryRecord['result'], e: UpkeepError | null = null, extra: Partial<HistoryRecord> = {}): Promise<void> {
  await c.historyWriter.record(op.loaded.config.state_dir, {
    ...c.historyWriter.base(op.target.id, s.operation, op.actor, op.started, op.startedMono, op.opId),
    from_version: s.from, to_version: result === 'up_to_date' ? s.from : s.to, result,
    error_code: e?.code ?? null, error_message: e?.message ?? null, timings: { ...op.timings }, ...extra,
  });
}

/**
 * Records, announces and logs a report; for a failure also persists the error and moves the
 * state to `failed` (a cancel settles instead: cancel is not failure). Returns the caller's error.
 */
export async function conclude(c: RunnerContext, op: Op, s: ReportSubject, report: Report, extra: Partial<HistoryRecord> = {}): Promise<ReportedError> {
  const e = report.error;
  c.bus.log(report.log.level, report.log.message, op.target.id);
  await recordOp(c, op, s, report.history, e, extra).catch((err: unknown) => {
    const what = !e && s.operation === 'apply' ? `${s.to} is installed, but recording it failed` : `recording the ${s.operation} failed`;
    c.bus.log('error', `${op.target.id}: ${what}: ${(err as Error).message}`, op.target.id);
  });
  if (report.notification) c.bus.notify(report.notification);
  if (e && e.code !== 'ERR_CANCELLED') {
    const error = { code: e.code, message: e.message };
    await writeRuntime(c, op.loaded, op.target.id, (rt) => ({ ...rt, last_error: error })).catch(() => undefined);
    c.live.set(op.target.id, { type: 'failed', error, at: c.clock.now().toISOString() });
  }
  return new ReportedError(e ?? new UpkeepError('ERR_INTERNAL', 'no error'));
}

/** Prunes the shared download cache after a commit; a failure is only logged (the commit stands). */
export async function pruneCacheAfterCommit(c: RunnerContext, op: Op): Promise<void> {
  const id = op.target.id;
  try {
    const freed = await pruneDownloadCache(op.loaded.config, c.clock);
    if (freed > 0) c.bus.log('info', `${id}: download cache pruned (${freed} bytes freed)`, id);
  } catch (err) {
    c.bus.log('warn', `${id}: pruning the download cache failed: ${(err as Error).message}`, id);
  }
}

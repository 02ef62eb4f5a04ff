/**
 * The daemon's schedules: periodic checks (cron via croner, or an interval), automatic download
 * and apply by policy, maintenance windows, pause. Decisions are pure (`decide`); `tick(now)`
 * acts on them, so tests drive the clock and production calls tick from a timer.
 */
import { Cron } from 'croner';
import type { TargetView } from '../../src-shared/api';
import { isPaused } from './policy';
import { inMaintenanceWindow } from './maintenance-window';
import type { OperationRunner } from './runner/operation-runner';

export interface Decision {
  check: boolean;
  download: boolean;
  apply: boolean;
  /** Why nothing automatic happens, for logs. */
  reason?: string;
}

/** When the next check of `v` is due after `last` (null = never scheduled). */
export function nextCheckDue(v: TargetView, last: Date | null): Date | null {
  const p = v.policy;
  if (p.check_schedule) {
    const job = new Cron(p.check_schedule, { paused: true, timezone: p.maintenance_window?.timezone ?? 'UTC' });
    try {
      return job.nextRun(last ?? new Date(0));
    } finally {
      job.stop();
    }
  }
  if (p.check_interval_s) return last ? new Date(last.getTime() + p.check_interval_s * 1000) : new Date(0);
  return null;
}

/**
 * What the scheduler should do for one target at `now`. Pure. `blocked` names a version whose
 * automatic apply already failed (or whose download is backing off): no automatic work on it.
 */
export function decide(v: TargetView, now: Date, lastCheck: Date | null, downloaded: string | null, blocked: string | null = null): Decision {
  const due = nextCheckDue(v, lastCheck);
  const check = due !== null && due.getTime() <= now.getTime();
  const rel = v.available;
  if (!rel) return { check, download: false, apply: false };
  if (v.state.kind !== 'available' && v.state.kind !== 'up-to-date' && v.state.kind !== 'idle' && v.state.kind !== 'failed') {
    return { check: false, download: false, apply: false, reason: 'an operation is running' };
  }
  const p = v.policy;
  if (isPaused(p, now)) return { check, download: false, apply: false, reason: 'paused' };
  // The engine keeps a hold only while nothing newer than the held version is available.
  if (v.held_version) return { check, download: false, apply: false, reason: `${v.held_version} is held after a rollback; apply it by hand or wait for a newer release` };
  if (blocked === rel.version) return { check, download: false, apply: false, reason: `automatic work on ${rel.version} failed; apply it by hand or wait for a newer release` };
  if (rel.is_breaking) return { check, download: p.auto_download && downloaded !== rel.version, apply: false, reason: 'breaking changes are never applied automatically' };
  const wantsApply = p.auto_apply === 'all' || (p.auto_apply === 'critical' && rel.is_critical);
  // Critical updates under an auto policy apply at once; others wait for the maintenance window.
  const windowOk = rel.is_critical && p.auto_apply !== 'none' ? true : inMaintenanceWindow(now, p.maintenance_window);
  const apply = wantsApply && windowOk;
  return {
    check,
    download: !apply && p.auto_download && downloaded !== rel.version,
    apply,
    ...(wantsApply && !windowOk ? { reason: 'outside the maintenance window' } : {}),
  };
}

const DOWNLOAD_BACKOFF_BASE_MS = 60_000;
const DOWNLOAD_BACKOFF_MAX_MS = 6 * 3600_000;

/** Shortest timer period, however short a check_interval is configured. */
const MIN_PERIOD_MS = 1_000;

export class Scheduler {
  private timer: NodeJS.Timeout | null = null;
  private readonly lastCheck = new Map<string, Date>();
  private readonly downloaded = new Map<string, string>();
  private ticking: Promise<void> | null = null;
  private stopping = false;
  /** Versions whose automatic apply failed (never retried automatically). */
  private readonly failedApply = new Map<string, string>();
  /** Failed automatic downloads: retried with exponential backoff. */
  private readonly failedDownload = new Map<string, { version: string; failures: number; retryAt: number }>();

  constructor(private readonly engine: OperationRunner, private readonly now: () => Date = () => engine.clock.now(), private readonly periodMs = 15_000) {}

  /** Starts the timer (first tick at once). */
  start(): void {
    if (this.timer) return;
    this.schedule();
    void this.tick();
  }

  /** (Re)arms the timer: every periodMs, or as often as the shortest configured check_interval asks. */
  private schedule(): void {
    if (this.timer) clearInterval(this.timer);
    const cfg = this.engine.config().config;
    const intervalsMs = cfg.targets.map((t) => (t.check_interval ?? cfg.check_interval ?? Infinity) * 1000);
    const period = Math.max(MIN_PERIOD_MS, Math.min(this.periodMs, ...intervalsMs));
    this.timer = setInterval(() => void this.tick(), period);
    this.timer.unref?.();
  }

  /** Stops the timer; a tick in progress starts nothing new and is awaited. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.ticking;
  }

  /** Forget check times (after a config reload changes schedules). */
  reset(): void {
    this.lastCheck.clear();
    if (this.timer) this.schedule();
  }

  /** One pass over every target: check when due, then download/apply as policy allows. */
  tick(at?: Date): Promise<void> {
    if (this.stopping) return Promise.resolve();
    if (this.ticking) return this.ticking;
    this.ticking = this.runTick(at).finally(() => {
      this.ticking = null;
    });
    return this.ticking;
  }

  /** Which version, if any, automatic work on `id` must leave alone at `now`. */
  private blockedVersion(id: string, now: Date): string | null {
    const failed = this.failedApply.get(id);
    if (failed) return failed;
    const dl = this.failedDownload.get(id);
    return dl && dl.retryAt > now.getTime() ? dl.version : null;
  }

  /**
   * One pass over the targets. The clock is read again for each target (a long apply must not
   * let the next one start outside its window), and stop() ends the pass between steps.
   */
  private async runTick(at?: Date): Promise<void> {
    const clock = () => at ?? this.now();
    for (const t of this.engine.config().config.targets) {
      if (this.stopping) return;
      if (this.engine.isRunning(t.id)) continue;
      let version: string | null = null;
      let doing: 'check' | 'apply' | 'download' = 'check';
      try {
        let now = clock();
        let view = await this.engine.view(t.id);
        let d = decide(view, now, this.lastCheck.get(t.id) ?? null, this.downloaded.get(t.id) ?? null, this.blockedVersion(t.id, now));
        if (d.check) {
          this.lastCheck.set(t.id, now);
          await this.engine.check(t.id, { actor: 'scheduler' });
          if (this.stopping) return;
          now = clock();
          view = await this.engine.view(t.id);
          d = decide(view, now, now, this.downloaded.get(t.id) ?? null, this.blockedVersion(t.id, now));
        }
        version = view.available?.version ?? null;
        if (d.apply && version) {
          doing = 'apply';
          await this.engine.apply(t.id, { version, actor: 'scheduler' });
          this.failedDownload.delete(t.id);
        } else if (d.download && version) {
          doing = 'download';
          await this.engine.download(t.id, { version, actor: 'scheduler' });
          this.downloaded.set(t.id, version);
          this.failedDownload.delete(t.id);
        }
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (doing === 'apply' && version && code !== 'ERR_BUSY') {
          this.failedApply.set(t.id, version);
          this.engine.bus.log('error', `Automatic apply of ${version} on ${t.id} failed (${code ?? 'error'}); it will not be retried automatically`, t.id);
        } else if (doing === 'download' && version) {
          const prev = this.failedDownload.get(t.id);
          const failures = prev?.version === version ? prev.failures + 1 : 1;
          const delay = Math.min(DOWNLOAD_BACKOFF_MAX_MS, DOWNLOAD_BACKOFF_BASE_MS * 2 ** (failures - 1));
          this.failedDownload.set(t.id, { version, failures, retryAt: clock().getTime() + delay });
          this.engine.bus.log('error', `Automatic download of ${version} on ${t.id} failed (${code ?? 'error'}); retrying in ${Math.round(delay / 1000)} s`, t.id);
        } else {
          this.engine.bus.log('error', `Scheduled work on ${t.id} failed: ${(err as Error).message}`, t.id);
        }
      }
    }
  }

  /** Forgets a failed automatic apply (after the user acted on the target). */
  clearFailure(id: string): void {
    this.failedApply.delete(id);
    this.failedDownload.delete(id);
  }
}

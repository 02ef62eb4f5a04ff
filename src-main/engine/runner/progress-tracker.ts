/**
 * One operation's progress: a single 0–100 percent that never goes backwards, made of named
 * phases with fixed shares, so every surface shows the same bar whatever the driver reports.
 * Each phase reports its own fraction (0–1); the tracker maps it into the phase's range and
 * keeps the maximum. A phase outside the operation's plan (an automatic rollback after a failed
 * health check) continues from where the bar is.
 */
import type { Phase, Progress } from '../../../src-shared/api';

export type TrackedOperation = 'check' | 'download' | 'apply' | 'rollback';

type Ranges = Partial<Record<Phase, readonly [number, number]>>;

/** The share of the bar of each phase, per operation (percent). */
export const PHASE_RANGES: Readonly<Record<TrackedOperation, Ranges>> = {
  check: { check: [0, 100] },
  download: { check: [0, 3], download: [3, 97], verify: [97, 100] },
  apply: {
    check: [0, 3], download: [3, 50], verify: [50, 53],
    stage: [53, 66], backup: [66, 74], switch: [74, 84], step: [53, 84],
    migrate: [84, 86], smoke: [86, 88], health: [88, 96], commit: [96, 100],
  },
  rollback: { rollback: [0, 97], commit: [97, 100] },
};

export interface ProgressDetails {
  bytes_done?: number;
  bytes_total?: number;
  speed_bps?: number;
  eta_s?: number | null;
  files_done?: number;
  files_total?: number;
  file?: string;
}

export class ProgressTracker {
  private percent = 0;
  private openFrom: number | null = null;
  private phase: Phase | null = null;
  cancellable = true;

  constructor(readonly operationId: string, private readonly op: TrackedOperation) {}

  /** The percent a phase reaches at `fraction` (0–1) of its work. */
  private map(phase: Phase, fraction: number): number {
    const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
    const range = PHASE_RANGES[this.op][phase];
    if (range) return range[0] + f * (range[1] - range[0]);
    // An unplanned phase shares what is left of the bar.
    if (this.phase !== phase || this.openFrom === null) this.openFrom = this.percent;
    return this.openFrom + f * (99 - this.openFrom);
  }

  /** The progress value after `phase` reached `fraction`; percent is rounded to one decimal and never decreases. */
  next(phase: Phase, message: string, fraction: number, d: ProgressDetails = {}): Progress {
    const target = this.map(phase, fraction);
    this.phase = phase;
    this.percent = Math.max(this.percent, Math.round(target * 10) / 10);
    return {
      operation_id: this.operationId,
      phase,
      message,
      bytes_done: d.bytes_done ?? 0,
      bytes_total: d.bytes_total ?? 0,
      speed_bps: d.speed_bps ?? 0,
      eta_s: d.eta_s ?? null,
      files_done: d.files_done ?? 0,
      files_total: d.files_total ?? 0,
      ...(d.file !== undefined ? { file: d.file } : {}),
      percent: this.percent,
      cancellable: this.cancellable,
    };
  }

  /** The last percent reported. */
  current(): number {
    return this.percent;
  }
}

/**
 * Aggregates byte counts into progress samples (done/total, speed over a sliding window, ETA)
 * and throttles them to at most `hz` per second. The clock is injected; samples are pushed to
 * `emit` from `add` and `finish`, plus one trailing sample (a timer) when a throttled update
 * would otherwise be the last one seen before a stall.
 */
import { DEFAULT_LIMITS } from '../limits';
import { systemClock } from '../clock';

export interface ProgressSample {
  bytes_done: number;
  bytes_total: number;
  speed_bps: number;
  eta_s: number | null;
}

export interface ProgressMeterOptions {
  total: number;
  /** Most samples per second (default limits.progressHz); `finish` is always emitted. */
  hz?: number;
  /** Monotonic milliseconds (default: the system clock's `monoMs`). */
  now?: () => number;
  emit: (s: ProgressSample) => void;
  /** Speed is averaged over this much history (default 5 s). */
  windowMs?: number;
}

/** Samples closer together than this are not kept separately for the speed window. */
const SAMPLE_SPACING_MS = 100;

export class ProgressMeter {
  private done = 0;
  private finished = false;
  private lastEmit: number | null = null;
  private readonly minIntervalMs: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  /** (time, bytes done) points; the first one is the anchor at or before the window start. */
  private samples: Array<{ t: number; done: number }>;
  private trailing: NodeJS.Timeout | null = null;

  constructor(private readonly o: ProgressMeterOptions) {
    const hz = o.hz ?? DEFAULT_LIMITS.progressHz;
    this.minIntervalMs = hz > 0 ? 1000 / hz : Infinity;
    this.windowMs = o.windowMs ?? 5_000;
    this.now = o.now ?? systemClock.monoMs;
    this.samples = [{ t: this.now(), done: 0 }];
  }

  /**
   * Adds `delta` bytes (negative when a download restarts from zero; the count never drops below
   * zero) and emits a sample unless one was emitted less than 1/hz seconds ago. Ignored after
   * `finish`.
   */
  add(delta: number): void {
    if (this.finished || !Number.isFinite(delta) || delta === 0) return;
    const t = this.now();
    this.done = Math.max(0, this.done + delta);
    if (delta < 0) {
      // A restart: history no longer describes the transfer rate of what we hold.
      this.samples = [{ t, done: this.done }];
    } else {
      const last = this.samples[this.samples.length - 1];
      if (last === undefined || t - last.t >= SAMPLE_SPACING_MS) this.samples.push({ t, done: this.done });
      while (this.samples.length > 1 && (this.samples[1]?.t ?? t) <= t - this.windowMs) this.samples.shift();
    }
    if (this.lastEmit === null || t - this.lastEmit >= this.minIntervalMs) {
      this.emitNow(t);
    } else if (!this.trailing && Number.isFinite(this.minIntervalMs)) {
      // Throttled: make sure this update is shown even if no more bytes arrive for a while.
      this.trailing = setTimeout(() => {
        this.trailing = null;
        if (!this.finished) this.emitNow(this.now());
      }, Math.max(1, this.minIntervalMs - (t - this.lastEmit)));
      this.trailing.unref?.();
    }
  }

  /**
   * Counts `n` bytes that were already present (reused or resumed) toward `bytes_done` without
   * counting them as transferred: speed and ETA reflect only bytes this run moved.
   */
  skip(n: number): void {
    if (this.finished || !Number.isFinite(n) || n <= 0) return;
    this.done += n;
    for (const s of this.samples) s.done += n;
    const t = this.now();
    if (this.lastEmit === null || t - this.lastEmit >= this.minIntervalMs) this.emitNow(t);
  }

  private emitNow(t: number): void {
    if (this.trailing) {
      clearTimeout(this.trailing);
      this.trailing = null;
    }
    this.lastEmit = t;
    this.o.emit(this.sample(t));
  }

  /** Emits the final 100% sample (bytes_done = total, eta 0) exactly once; later calls do nothing. */
  finish(): void {
    if (this.finished) return;
    if (this.trailing) clearTimeout(this.trailing);
    this.trailing = null;
    const t = this.now();
    const speed = this.speed(t);
    this.finished = true;
    this.done = Math.max(this.done, this.o.total);
    this.lastEmit = t;
    this.o.emit({ bytes_done: this.o.total, bytes_total: this.o.total, speed_bps: speed, eta_s: 0 });
  }

  /** The current state, without emitting or throttling. */
  snapshot(): ProgressSample {
    return this.sample(this.now());
  }

  private speed(t: number): number {
    const anchor = this.samples[0];
    if (anchor === undefined) return 0;
    const dt = t - anchor.t;
    if (dt <= 0) return 0;
    return Math.max(0, Math.round(((this.done - anchor.done) * 1000) / dt));
  }

  private sample(t: number): ProgressSample {
    const speed = this.speed(t);
    const remaining = Math.max(0, this.o.total - this.done);
    const eta = remaining === 0 ? 0 : speed > 0 ? Math.ceil(remaining / speed) : null;
    return { bytes_done: this.done, bytes_total: this.o.total, speed_bps: speed, eta_s: eta };
  }
}

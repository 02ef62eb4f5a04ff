/**
 * The engine's only source of time. Engine code asks an injected `Clock` (python-tuf passes its
 * reference time the same way) so tests can pin "now", and time differences come from a
 * monotonic counter that a wall-clock jump cannot turn negative.
 */

/**
 * The monotonic counter's origin: when this module loaded. `process.hrtime` reads the same
 * monotonic clock as `performance.now()` without loading node:perf_hooks (about 1.5 ms of every
 * command line start).
 */
const ORIGIN_NS = process.hrtime.bigint();

/** Monotonic milliseconds since ORIGIN_NS (fractional, nanosecond resolution). */
function monoMs(): number {
  return Number(process.hrtime.bigint() - ORIGIN_NS) / 1e6;
}

export interface Clock {
  /** Wall-clock time: timestamps in history, state and feeds (expiry checks). */
  now(): Date;
  /** Monotonic milliseconds since an arbitrary origin: durations, throttles, speed windows. */
  monoMs(): number;
}

/** The real clock of this process. */
export const systemClock: Clock = {
  now: () => new Date(),
  monoMs,
};

/** A clock reading wall time from `now` (tests pin it); durations still come from the monotonic counter. */
export function clockFrom(now: () => Date): Clock {
  return { now, monoMs };
}

/** ISO 8601 text of the clock's wall time. */
export function isoNow(clock: Clock): string {
  return clock.now().toISOString();
}

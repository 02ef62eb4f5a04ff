/**
 * The engine's only source of time. Engine code asks an injected `Clock` (python-tuf passes its
 * reference time the same way) so tests can pin "now", and time differences come from a
 * monotonic counter that a wall-clock jump cannot turn negative.
 */
import { performance } from 'node:perf_hooks';

export interface Clock {
  /** Wall-clock time: timestamps in history, state and feeds (expiry checks). */
  now(): Date;
  /** Monotonic milliseconds since an arbitrary origin: durations, throttles, speed windows. */
  monoMs(): number;
}

/** The real clock of this process. */
export const systemClock: Clock = {
  now: () => new Date(),
  monoMs: () => performance.now(),
};

/** A clock reading wall time from `now` (tests pin it); durations still come from the monotonic counter. */
export function clockFrom(now: () => Date): Clock {
  return { now, monoMs: () => performance.now() };
}

/** ISO 8601 text of the clock's wall time. */
export function isoNow(clock: Clock): string {
  return clock.now().toISOString();
}

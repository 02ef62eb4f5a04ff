/**
 * Reads never starve an operation. A status read is cheap, but clients that loop on one (a
 * dashboard in many tabs, a monitoring script, 32 looping connections in the benchmark) can take
 * the whole event loop — and an apply runs its file work on that same loop, so a 2 s apply took
 * minutes and the window in which old and new files are mixed on disk grew with it.
 *
 * While an operation or a check runs on any target (checking, downloading, verifying, applying,
 * health checking, rolling back: an apply starts by checking), status reads are admitted through
 * a token bucket: at most
 * `ratePerSecond` a second, with a burst of `burst`; the others wait in FIFO order for their
 * turn (a read is delayed, never refused, up to `maxQueue` waiting; beyond that it is answered
 * at once, as before). When no operation is working, reads pass straight through.
 *
 * Written here rather than taken from a rate-limit plugin (such as @fastify/rate-limit): those
 * refuse with 429 per client; this one delays everyone only while an operation runs, so clients
 * see slower answers, never errors.
 */
import { isBusy } from '../../src-shared/target-state';
import type { UpkeepEvent } from '../../src-shared/api';

export interface ReadGateOptions {
  /** Reads admitted per second while an operation works (default 1,500). */
  ratePerSecond?: number;
  /** Reads admitted at once before the rate applies (default 16). */
  burst?: number;
  /** Reads that may wait; past this a read is admitted at once (default 4,096). */
  maxQueue?: number;
  /** Monotonic time in ms (injected by tests). */
  now?: () => number;
}

export class ReadGate {
  private readonly working = new Set<string>();
  private readonly rate: number;
  private readonly burst: number;
  private readonly maxQueue: number;
  private readonly now: () => number;
  private tokens: number;
  private last: number;
  private readonly queue: Array<() => void> = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(o: ReadGateOptions = {}) {
    this.rate = o.ratePerSecond ?? 1500;
    this.burst = o.burst ?? 16;
    this.maxQueue = o.maxQueue ?? 4096;
    this.now = o.now ?? (() => performance.now());
    this.tokens = this.burst;
    this.last = this.now();
  }

  /** Follows the core's events: a target is busy from its first busy state (checking included) to its next resting one. */
  onEvent(e: UpkeepEvent): void {
    if (e.type !== 'state') return;
    if (isBusy(e.target.state)) this.working.add(e.target.id);
    else if (this.working.delete(e.target.id) && this.working.size === 0) this.releaseAll();
  }

  /**
   * Stops following targets a config reload removed: the end of their operation is never
   * announced (a removed target has no view), so they would keep reads paced for good. `ids`:
   * the targets configured now. An operation a removed target still runs is no longer paced for.
   */
  keepOnly(ids: ReadonlySet<string>): void {
    let dropped = false;
    for (const id of this.working) {
      if (!ids.has(id)) dropped = this.working.delete(id) || dropped;
    }
    if (dropped && this.working.size === 0) this.releaseAll();
  }

  /** True while some operation works (reads are then paced). */
  get pacing(): boolean {
    return this.working.size > 0;
  }

  /** Resolves when the read may run: at once unless an operation works and the bucket is empty. */
  admit(): Promise<void> | undefined {
    if (!this.pacing || this.queue.length >= this.maxQueue) return undefined;
    this.refill();
    if (this.queue.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return undefined;
    }
    return new Promise<void>((resolve) => {
      this.queue.push(resolve);
      this.schedule();
    });
  }

  /** Reads waiting for their turn. */
  get waiting(): number {
    return this.queue.length;
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.rate) / 1000);
    this.last = t;
  }

  private schedule(): void {
    if (this.timer) return;
    const wait = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.rate));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.drain();
    }, wait);
  }

  private drain(): void {
    if (!this.pacing) return this.releaseAll();
    this.refill();
    while (this.queue.length > 0 && this.tokens >= 1) {
      this.tokens -= 1;
      this.queue.shift()!();
    }
    if (this.queue.length > 0) this.schedule();
  }

  private releaseAll(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const resolve of this.queue.splice(0)) resolve();
  }

  /** Lets every waiting read through and stops timers (server close). */
  close(): void {
    this.working.clear();
    this.releaseAll();
  }
}

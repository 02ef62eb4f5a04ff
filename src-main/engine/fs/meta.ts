/**
 * File metadata calls made synchronously: lstat, rename, link, unlink, chmod, readlink, realpath.
 *
 * Why not the promise API: an apply of 10,000 files makes on the order of 100,000 metadata calls,
 * each a few microseconds of kernel time. Through `fs.promises` each one also pays a thread-pool
 * round trip and a promise; measured here, an lstat costs 30–75 µs that way and 4–9 µs
 * synchronously, cold cache or warm, so the bookkeeping around the bytes was most of an apply's
 * time. Data work (copying, hashing, fsync, syncfs) stays asynchronous and concurrent.
 *
 * Loops over many entries call a `Breather` so that a daemon's event loop still answers requests
 * between slices of synchronous calls (a slice of 256 calls is about a millisecond warm).
 */
import { lstatSync, type BigIntStats, type Stats } from 'node:fs';

function missing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** lstat of `p` (never following a final link); null when nothing is there (ENOENT, ENOTDIR). Other errors are thrown. */
export function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch (err) {
    if (missing(err)) return null;
    throw err;
  }
}

/** lstat of `p` with nanosecond times (BigInt); null when nothing is there. Other errors are thrown. */
export function lstatBigOrNull(p: string): BigIntStats | null {
  try {
    return lstatSync(p, { bigint: true });
  } catch (err) {
    if (missing(err)) return null;
    throw err;
  }
}

/** Calls between two yields to the event loop (see Breather). */
export const BREATHE_EVERY = 256;

/**
 * Counts synchronous calls and, every `every` of them, yields to the event loop once
 * (`setImmediate`): `await b.tick()` in a loop of synchronous file calls.
 */
export class Breather {
  private n = 0;

  constructor(private readonly every = BREATHE_EVERY) {}

  /** A promise resolving on the next turn of the event loop every `every` calls; undefined otherwise. */
  tick(calls = 1): Promise<void> | undefined {
    this.n += calls;
    if (this.n < this.every) return undefined;
    this.n = 0;
    return new Promise((resolve) => setImmediate(resolve));
  }
}

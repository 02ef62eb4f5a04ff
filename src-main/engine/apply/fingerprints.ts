/**
 * Stat fingerprints: the SHA-256 of a file Upkeep installed (or moved into a rollback point),
 * remembered with the file's identity as lstat(2) reports it — device, inode, size, mtime and
 * ctime in nanoseconds — so that the next operation knows the bytes without reading them. The
 * kernel sets ctime to "now" on every write, chmod, rename and link-count change, and no
 * unprivileged call can set it back; a file whose lstat still equals its fingerprint has not been
 * written since. This is the technique of git's index ("racy git" included):
 *
 * - A fingerprint is recorded only for a file Upkeep knows the bytes of (it staged them from a
 *   verified source, or hashed them while planning) and whose inode, size and mtime are still the
 *   ones seen then.
 * - Timestamps come from a coarse clock: two writes within one tick share a ctime. A fingerprint
 *   is therefore recorded only when the file's ctime is older than the moment of the lstat by more
 *   than RACY_MARGIN_MS (the longest kernel tick is 10 ms), and a file found "fresh" while planning
 *   is never fingerprinted from that observation. Volumes whose timestamps are whole milliseconds
 *   or coarser (FAT, exFAT, ext3) get no fingerprints: their files are always hashed.
 * - Anything unexpected (missing file, unreadable or malformed fingerprint file, another device or
 *   inode) falls back to hashing: a fingerprint only ever saves a read, it never decides alone.
 *
 * Files: `<stateDir>/fingerprints.json` (the installed tree) and `<point>/fingerprints.json` (the
 * files a point keeps). They are hints written after the commit (atomically, without fsync).
 */
import { promises as fsp, readlinkSync, type BigIntStats } from 'node:fs';
import { readOwnFile } from '../fs/atomic';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DiskState } from './tree';
import { systemClock } from '../clock';
import { hashFile } from './tree';
import { Breather, lstatBigOrNull } from '../fs/meta';

export const FINGERPRINTS_FILE = 'fingerprints.json';

/** A ctime at least this much (ms) older than the lstat that saw it cannot share a tick with a later write. */
export const RACY_MARGIN_MS = 30;

/** What lstat says about a regular file (bigint nanoseconds, as decimal strings in JSON). */
export interface Stamp {
  dev: string;
  ino: string;
  size: number;
  mtimeNs: string;
  ctimeNs: string;
}

/** A file whose bytes are known (sha256) as it was seen (stamp); `fresh` = seen within a clock tick of a change. */
export interface Seen {
  sha256: string;
  stamp: Stamp;
  fresh: boolean;
}

/** The stamp of an lstat taken with `bigint: true`. */
export function stampOf(st: BigIntStats): Stamp {
  return { dev: String(st.dev), ino: String(st.ino), size: Number(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs) };
}

const sameStamp = (a: Stamp, b: Stamp): boolean => a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
/** Same inode, size and mtime: not written since (ctime moves on rename, so it is not compared). */
const sameContent = (a: Stamp, b: Stamp): boolean => a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs;

const nowNs = (): bigint => BigInt(systemClock.now().getTime()) * 1_000_000n;
const MARGIN_NS = BigInt(RACY_MARGIN_MS) * 1_000_000n;

/** True when the stamp's ctime is far enough in the past of `seenAtNs` and the volume has sub-millisecond timestamps. */
function settled(s: Stamp, seenAtNs: bigint): boolean {
  const c = BigInt(s.ctimeNs);
  return c % 1_000_000n !== 0n && c < seenAtNs - MARGIN_NS;
}

/** The fingerprints of one tree: absolute path -> bytes and stamp. */
export class Fingerprints {
  constructor(private readonly map: Map<string, { sha256: string; stamp: Stamp }> = new Map()) {}

  /** Reads a fingerprint file; a missing, unreadable or malformed one gives no fingerprints. */
  static async read(file: string): Promise<Fingerprints> {
    let doc: unknown;
    try {
      doc = JSON.parse((await readOwnFile(file)).toString('utf8'));
    } catch {
      return new Fingerprints();
    }
    const map = new Map<string, { sha256: string; stamp: Stamp }>();
    const files = (doc as { v?: unknown; files?: unknown })?.files;
    if ((doc as { v?: unknown })?.v !== 1 || !Array.isArray(files)) return new Fingerprints();
    for (const e of files as unknown[]) {
      if (!Array.isArray(e) || e.length !== 7 || !e.every((x, i) => (i === 3 ? Number.isSafeInteger(x) : typeof x === 'string'))) continue;
      const [abs, sha256, dev, size, ino, mtimeNs, ctimeNs] = e as [string, string, string, number, string, string, string];
      if (!/^[0-9a-f]{64}$/.test(sha256) || !path.isAbsolute(abs)) continue;
      map.set(abs, { sha256, stamp: { dev, ino, size, mtimeNs, ctimeNs } });
    }
    return new Fingerprints(map);
  }

  /** One set holding the fingerprints of all `sets` (their paths never overlap: each file lives in one tree). */
  static merge(sets: Fingerprints[]): Fingerprints {
    return new Fingerprints(new Map(sets.flatMap((f) => [...f.map])));
  }

  get size(): number {
    return this.map.size;
  }

  /** The recorded SHA-256 when `stamp` is exactly the fingerprinted one. */
  lookup(abs: string, stamp: Stamp): string | null {
    const e = this.map.get(abs);
    return e && sameStamp(e.stamp, stamp) ? e.sha256 : null;
  }
}

/**
 * What is at `abs` (like `diskState`), reading and hashing a regular file only when `fps` has no
 * matching fingerprint for it. For regular files also returns how it was seen (for recording
 * fingerprints after the operation).
 */
export async function observe(abs: string, fps?: Fingerprints): Promise<{ disk: DiskState; seen: Seen | null }> {
  const seenAt = nowNs();
  const st = lstatBigOrNull(abs);
  if (st === null) return { disk: { kind: 'missing' }, seen: null };
  const mode = Number(st.mode & 0o7777n);
  if (st.isFile()) {
    const stamp = stampOf(st);
    const known = fps?.lookup(abs, stamp) ?? null;
    const sha256 = known ?? (await hashFile(abs, stamp.size));
    // A fingerprint hit was settled when it was recorded, and nothing changed since: never fresh.
    return { disk: { kind: 'file', sha256, size: stamp.size, mode }, seen: { sha256, stamp, fresh: known === null && !settled(stamp, seenAt) } };
  }
  if (st.isDirectory()) return { disk: { kind: 'other', type: 'dir', mode }, seen: null };
  if (st.isSymbolicLink()) return { disk: { kind: 'link', target: readlinkSync(abs) }, seen: null };
  return { disk: { kind: 'other', type: 'special', mode }, seen: null };
}

/** The stamp of a regular file right now (null when it is not one); one lstat, synchronously (fs/meta.ts). */
export function stampNow(abs: string): Stamp | null {
  const st = lstatBigOrNull(abs);
  return st?.isFile() ? stampOf(st) : null;
}

/**
 * Files whose bytes an operation knows: final absolute path -> SHA-256 and the stamp seen when
 * they were known; `moved` when Upkeep renames the file before the fingerprint is taken (then the
 * ctime is not compared, since the rename changes it).
 */
export type Expected = Map<string, { sha256: string; stamp: Stamp; moved: boolean }>;

/** Adds `seen` (taken while planning) to `into` under `abs` unless it was fresh. */
export function expect(into: Expected, abs: string, seen: Seen | null, moved: boolean): void {
  if (seen && !seen.fresh) into.set(abs, { sha256: seen.sha256, stamp: seen.stamp, moved });
}

/**
 * Writes `file` with a fingerprint for every expected path whose inode, size and mtime are still
 * the expected ones and whose ctime is settled. `changedUntilMs` (Date.now() of the last change
 * Upkeep made) is waited out by RACY_MARGIN_MS first. Never throws: a failure leaves no file.
 */
export async function recordFingerprints(file: string, expected: Expected, changedUntilMs: number): Promise<void> {
  try {
    const wait = changedUntilMs + RACY_MARGIN_MS + 1 - systemClock.now().getTime();
    if (wait > 0) await sleep(wait);
    const seenAt = nowNs();
    const entries = [...expected];
    const rows: Array<unknown[] | null> = [];
    const breather = new Breather();
    for (const [abs, e] of entries) {
      const now = stampNow(abs);
      rows.push(!now || !(e.moved ? sameContent(now, e.stamp) : sameStamp(now, e.stamp)) || !settled(now, seenAt) ? null : [abs, e.sha256, now.dev, now.size, now.ino, now.mtimeNs, now.ctimeNs]);
      await breather.tick();
    }
    const tmp = `${file}.tmp-${process.pid}`;
    await fsp.writeFile(tmp, JSON.stringify({ v: 1, files: rows.filter((r) => r !== null) }));
    await fsp.rename(tmp, file);
  } catch {
    await fsp.rm(file, { force: true }).catch(() => undefined);
  }
}

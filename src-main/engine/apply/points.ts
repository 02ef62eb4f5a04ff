/**
 * Rollback points: `<pointsDir>/<rollback_id>/point.json` plus the backed-up files under
 * `files/<path>` (in-place) or a reference to the kept version directory (versioned).
 * A directory without `point.json` is not a point (it is an unfinished or half-deleted one);
 * deletion removes `point.json` first, so a crash mid-delete never leaves a point with holes.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp, readdirSync } from 'node:fs';
import path from 'node:path';
import type { RollbackPointView } from '../../../src-shared/api';
import { damagedPointError, UpkeepError } from '../../../src-shared/errors';
import { CHECKED_SUFFIX, fsyncDir, readJson, readOwnFile, writeJsonDurable, type SameShape } from '../fs/atomic';
import { z } from '../state/state-zod';
import { isSafeRelativePath } from '../trust/paths';
import { FileRecordSchema, InstalledSchema, type Installed, type Layout } from './installed';
import type { FileRecord } from './tree';
import { isCode, rmrf } from './tree';
import { lstatOrNull } from '../fs/meta';
import { FINGERPRINTS_FILE } from './fingerprints';

/** A kept rollback point: the API view plus what is needed to restore it. */
export interface RollbackPoint extends Omit<RollbackPointView, 'error'> {
  /** Monotonic per target: orders points even when created within the same millisecond. */
  seq: number;
  layout: Layout;
  /** installed.json as observed on disk before the operation (null = nothing installed). */
  before: Installed | null;
  /** Files kept under `files/` (their bytes as they were on disk). */
  backed_up: FileRecord[];
  /** Files Upkeep did not manage that the operation replaced; restored by a rollback too. */
  displaced: FileRecord[];
  /** versioned: the old version directory (relative to the install dir) this point keeps. */
  kept_version_dir: string | null;
}

export const POINT_FILE = 'point.json';
const ID_RE = /^rb_\d{8}T\d{6}_[0-9a-f]{6}$/;

/** `point.json` without `size_bytes` (the journal carries the point in this form until commit). */
export const PendingPointSchema = z.object({
  rollback_id: z.string().check(z.regex(ID_RE, 'not a rollback id')),
  target: z.string().check(z.minLength(1)),
  from_version: z.nullable(z.string()),
  to_version: z.string(),
  created_at: z.string(),
  files: z.number().check(z.int(), z.nonnegative()),
  seq: z.number().check(z.int(), z.nonnegative()),
  layout: z.enum(['in-place', 'versioned']),
  before: z.nullable(InstalledSchema),
  backed_up: z.array(FileRecordSchema),
  displaced: z.array(FileRecordSchema),
  kept_version_dir: z.nullable(z.string().check(z.refine(isSafeRelativePath, 'not a safe relative path'))),
});
const _pendingShape: SameShape<z.output<typeof PendingPointSchema>, Omit<RollbackPoint, 'size_bytes'>> = true;

/** `point.json` (checked on every read). */
export const RollbackPointSchema = z.extend(PendingPointSchema, {
  size_bytes: z.number().check(z.int(), z.nonnegative()),
});
const _pointShape: SameShape<z.output<typeof RollbackPointSchema>, RollbackPoint> = true;

/**
 * Tag of point.json's digest hint (fs/atomic.ts writeCheckedHint): changes with
 * RollbackPointSchema. A point of a 10,000-file tree takes ~100 ms to check and is read several
 * times per operation; its unchanged bytes are then only hashed (~4 ms).
 */
const POINT_CHECKED_TAG = 'rollback-point/1';

/** Reads one point's `point.json` (undefined when absent); ERR_STATE_CORRUPT when malformed. */
async function readPoint(pointsDir: string, id: string): Promise<RollbackPoint | undefined> {
  return readJson(path.join(pointsDir, id, POINT_FILE), RollbackPointSchema, { checkedTag: POINT_CHECKED_TAG });
}

/** A fresh id `rb_<yyyymmddThhmmss>_<6 hex>` (UTC). */
export function newRollbackId(now: Date): string {
  const s = now.toISOString(); // 2024-01-02T03:04:05.678Z
  const stamp = `${s.slice(0, 4)}${s.slice(5, 7)}${s.slice(8, 10)}T${s.slice(11, 13)}${s.slice(14, 16)}${s.slice(17, 19)}`;
  return `rb_${stamp}_${randomBytes(3).toString('hex')}`;
}

/** True when `id` has the shape of a rollback id (also guards path joins). */
export function isRollbackId(id: string): boolean {
  return ID_RE.test(id);
}

/** Directory of one point. */
export function pointDir(pointsDir: string, id: string): string {
  return path.join(pointsDir, id);
}

/**
 * A point whose `point.json` is there but cannot be read (malformed, not JSON, not a regular file).
 * `error` is ERR_STATE_CORRUPT naming the file; the other fields are what could be salvaged from
 * it (null when unknown): `seq` orders it among the intact points when it is still an integer.
 */
export interface DamagedPoint {
  rollback_id: string;
  error: UpkeepError;
  seq: number | null;
  from_version: string | null;
  to_version: string | null;
  /** ISO 8601 UTC: the file's own value when readable, else the second the id was made in. */
  created_at: string;
}

/** The points of a target: the intact ones newest first, and the damaged ones. */
export interface PointScan {
  points: RollbackPoint[];
  damaged: DamagedPoint[];
}

/** `rb_20240102T030405_abcdef` => `2024-01-02T03:04:05.000Z` (the id's UTC second). */
function idTime(id: string): string {
  const s = id.slice(3, 18);
  return `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}.000Z`;
}

/** What can still be told of a damaged point from its file (its JSON, when it parses). */
async function salvage(pointsDir: string, id: string, error: UpkeepError): Promise<DamagedPoint> {
  let doc: Record<string, unknown> = {};
  try {
    const raw: unknown = JSON.parse((await readOwnFile(path.join(pointsDir, id, POINT_FILE))).toString('utf8'));
    if (raw && typeof raw === 'object' && !Array.isArray(raw)) doc = raw as Record<string, unknown>;
  } catch {
    // Not readable as JSON at all (or not a file): nothing beyond the id is known.
  }
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const seq = doc.seq;
  return {
    rollback_id: id, error,
    seq: typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0 ? seq : null,
    from_version: str(doc.from_version), to_version: str(doc.to_version),
    created_at: str(doc.created_at) ?? idTime(id),
  };
}

/**
 * Every point of a target: the complete ones newest first, and those whose `point.json` cannot be
 * read (ERR_STATE_CORRUPT naming the file) apart. Directories without `point.json` are not points.
 */
export async function scanPoints(pointsDir: string): Promise<PointScan> {
  let names: string[];
  try {
    names = await fsp.readdir(pointsDir);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return { points: [], damaged: [] };
    throw err;
  }
  const out: RollbackPoint[] = [];
  const damaged: DamagedPoint[] = [];
  for (const n of names.sort()) {
    if (!isRollbackId(n)) continue;
    let p: RollbackPoint | undefined;
    try {
      p = await readPoint(pointsDir, n);
    } catch (err) {
      if (!(err instanceof UpkeepError && err.code === 'ERR_STATE_CORRUPT')) throw err;
      damaged.push(await salvage(pointsDir, n, err));
      continue;
    }
    if (p && p.rollback_id === n) out.push(p);
  }
  return { points: out.sort((a, b) => b.seq - a.seq || (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0)), damaged };
}

/** Every complete point of a target, newest first. A malformed `point.json` throws ERR_STATE_CORRUPT. */
export async function listPoints(pointsDir: string): Promise<RollbackPoint[]> {
  const { points, damaged } = await scanPoints(pointsDir);
  if (damaged[0]) throw damaged[0].error;
  return points;
}

/**
 * True when damaged point `d` is known to be older than intact point `p`: by seq when `d`'s is
 * still readable, else by the second in the ids (same second: not known).
 */
export function olderThan(d: DamagedPoint, p: RollbackPoint): boolean {
  return d.seq !== null ? d.seq < p.seq : idTime(d.rollback_id) < idTime(p.rollback_id);
}

/**
 * The intact points a rollback to `rollbackId` (default: the newest point) may use, newest first,
 * after checking that it needs no damaged point: the rollback consumes the chosen point and every
 * newer one, so a damaged point that is the chosen one, or not known to be older than it, refuses
 * it with ERR_STATE_CORRUPT naming that point's file (`details.file`, `details.rollback_id`).
 * Damaged points older than the chosen one are left as they are. An id naming no point returns
 * the list (the caller reports ERR_ROLLBACK_POINT_NOT_FOUND).
 */
export async function pointsForRollback(pointsDir: string, rollbackId?: string): Promise<RollbackPoint[]> {
  const { points, damaged } = await scanPoints(pointsDir);
  if (damaged.length === 0) return points;
  const chosen = rollbackId === undefined ? points[0] : points.find((p) => p.rollback_id === rollbackId);
  const hit = damaged.find((d) => d.rollback_id === rollbackId) ?? (rollbackId === undefined && !chosen ? damaged[0] : undefined) ?? (chosen ? damaged.find((d) => !olderThan(d, chosen)) : undefined);
  if (!hit) return points;
  const what = hit.rollback_id === rollbackId || !chosen ? undefined : `rollback point ${hit.rollback_id}, which a rollback to ${chosen.rollback_id} consumes,`;
  throw damagedPointError(hit.rollback_id, hit.error, what);
}

/**
 * The API views of a scan, newest first: each damaged point (with `error`) placed before the
 * first intact point it is not known to be older than (olderThan), so a rollback to a point listed
 * after it is exactly one pointsForRollback refuses.
 */
export function pointViews(scan: PointScan, target: string): RollbackPointView[] {
  const view = (p: RollbackPoint): RollbackPointView => ({
    rollback_id: p.rollback_id, target: p.target, from_version: p.from_version, to_version: p.to_version,
    created_at: p.created_at, size_bytes: p.size_bytes, files: p.files,
  });
  const out: Array<{ view: RollbackPointView; intact?: RollbackPoint }> = scan.points.map((p) => ({ view: view(p), intact: p }));
  for (const d of scan.damaged) {
    const at = out.findIndex((e) => e.intact !== undefined && !olderThan(d, e.intact));
    const v: RollbackPointView = {
      rollback_id: d.rollback_id, target, from_version: d.from_version, to_version: d.to_version ?? '',
      created_at: d.created_at, size_bytes: 0, files: 0, error: d.error.toJSON(),
    };
    out.splice(at === -1 ? out.length : at, 0, { view: v });
  }
  return out.map((e) => e.view);
}

/** The seq the next point gets. */
export async function nextSeq(pointsDir: string): Promise<number> {
  const pts = await listPoints(pointsDir);
  return pts.length ? pts[0].seq + 1 : 1;
}

/** Durably writes `point.json` (the point becomes visible atomically), then its digest hint. */
export async function writePoint(pointsDir: string, p: RollbackPoint): Promise<void> {
  await writeJsonDurable(path.join(pointDir(pointsDir, p.rollback_id), POINT_FILE), p, undefined, { checkedTag: POINT_CHECKED_TAG });
}

/** Deletes a point crash-safely: `point.json` first (durably), then the rest. Idempotent. */
export async function deletePoint(pointsDir: string, id: string): Promise<void> {
  await rmrf(await retirePoint(pointsDir, id));
}

/**
 * The first half of deletePoint: durably removes `point.json`, so the point is no longer listed;
 * returns its directory for the caller to remove (a leftover is swept by sweepPointLeftovers).
 */
export async function retirePoint(pointsDir: string, id: string): Promise<string> {
  const dir = pointDir(pointsDir, id);
  try {
    await fsp.unlink(path.join(dir, POINT_FILE));
    await fsyncDir(dir);
  } catch (err) {
    if (!isCode(err, 'ENOENT')) throw err;
  }
  return dir;
}

/** Keeps the newest `keep` points, deleting older ones; returns the deleted ids. */
export async function prunePoints(pointsDir: string, keep: number): Promise<string[]> {
  const pts = await listPoints(pointsDir);
  const gone = pts.slice(Math.max(0, keep)).map((p) => p.rollback_id);
  for (const id of gone) await deletePoint(pointsDir, id);
  return gone;
}

/**
 * True for the temp file of an atomic write (`<file>.<suffix>`, write-file-atomic) of a point's
 * `point.json` or `fingerprints.json` that a killed writer left; never for `point.json`'s digest hint.
 */
function isPointTemp(name: string): boolean {
  if (name === `${POINT_FILE}${CHECKED_SUFFIX}`) return false;
  return name.startsWith(`${POINT_FILE}.`) || name.startsWith(`${FINGERPRINTS_FILE}.`);
}

/**
 * The leftovers in the points dir (paths relative to it): point-shaped directories without
 * `point.json` and `.tx-*` scratch directories, except those named in `keep`, and in a kept
 * point the temp files of a killed write of its `point.json` or `fingerprints.json` (a process
 * killed after the commit, while finishing or recording fingerprints). None when the dir is
 * missing; other errors are thrown. Synchronous: two readdirs and one lstat per point.
 */
export function pointLeftovers(pointsDir: string, keep: Iterable<string> = []): string[] {
  const kept = new Set(keep);
  let names: string[];
  try {
    names = readdirSync(pointsDir);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return [];
    throw err;
  }
  const out: string[] = [];
  for (const n of names) {
    if (kept.has(n)) continue;
    if (n.startsWith('.tx-')) out.push(n);
    if (!isRollbackId(n)) continue;
    // Without point.json (never completed, or retired): one lstat, not a parse of the point.
    if (lstatOrNull(path.join(pointsDir, n, POINT_FILE)) === null) {
      out.push(n);
      continue;
    }
    let inside: string[];
    try {
      inside = readdirSync(path.join(pointsDir, n));
    } catch (err) {
      if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) continue;
      throw err;
    }
    for (const f of inside) if (isPointTemp(f)) out.push(path.join(n, f));
  }
  return out;
}

/**
 * Removes the leftovers of pointLeftovers. Call only while holding the target (no operation in
 * flight other than the caller's).
 */
export async function sweepPointLeftovers(pointsDir: string, keep: Iterable<string> = []): Promise<void> {
  for (const n of pointLeftovers(pointsDir, keep)) await rmrf(path.join(pointsDir, n));
}

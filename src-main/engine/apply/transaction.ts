/**
 * Runs a journaled transaction (built by in-place.ts, versioned.ts or restore.ts): stage,
 * switch, verify, commit, finish — and undoes it when anything before the commit fails.
 * `undoTransaction` and `finishTransaction` are also what recovery runs after a crash; both
 * are idempotent and safe to interrupt and re-run.
 */
import { chmodSync, linkSync, lstatSync, mkdirSync, promises as fsp, renameSync } from 'node:fs';
import { Breather, lstatOrNull } from '../fs/meta';
import path from 'node:path';
import { OperationError, UpkeepError } from '../../../src-shared/errors';
import { fsyncDir } from '../fs/atomic';
import { allocated, blockSize, deviceOf, diskFullCause, diskFullError, isDiskFull, SPACE_MARGIN } from '../fs/space';
import { syncDurable } from '../fs/sync-fs';
import { isStrictlyWithin, pathCollisionKey, plainPosix } from '../trust/paths';
import { setInstalled } from './installed';
import { systemClock } from '../clock';
import type { Journal } from './journal';
import type { JournalOp, StageItem } from './journal';
import { backToStaging, deleteJournal, mkdirMode, mkdirpMode, setPhase, undoOp, runOp, writeJournal } from './journal';
import { prunePoints, retirePoint, sweepPointLeftovers, writePoint } from './points';
import { copyDurable, recheckParents, unlinkQuiet, dirBytes, fsyncDirs, IO_CONCURRENCY, isCode, mapLimit, pruneEmptyParents, rmdirIfEmpty, rmrf, under } from './tree';
import { pruneVersions, VERSIONS_DIR } from './versioned';
import type { Expected, Stamp } from './fingerprints';
import { recordFingerprints, stampNow, stampOf } from './fingerprints';

/** Mode of the directories Upkeep creates in an install dir (explicit: never the umask's choice). */
export const DIR_MODE = 0o755;
/** Mode asked for Upkeep's own directories (rollback points, target state): a umask may narrow it, never widen it. */
export const OWN_DIR_MODE = 0o755;

/**
 * `mkdir -p` of one of Upkeep's own directories, synchronously (a metadata call, fs/meta.ts).
 * Also the one that reports a full disk as ENOSPC: fs.promises.mkdir with `recursive` says ENOENT.
 */
function mkdirp(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: OWN_DIR_MODE });
}

export type ApplyPhase = 'stage' | 'backup' | 'switch' | 'commit' | 'rollback';

/**
 * One step of a transaction for progress lines. `removing`: the entry at `file` leaves the tree
 * (a managed file the new version or the restored state does not have, or `current` removed by a
 * rollback to nothing), rather than being backed up to be replaced or put in place.
 */
export interface ApplyProgress {
  phase: ApplyPhase;
  done: number;
  total: number;
  file?: string;
  removing?: boolean;
}

export interface ApplyHooks {
  onProgress?: (p: ApplyProgress) => void;
  /** Runs after the switch (migrate/smoke hooks, health check). Throw to roll back automatically. */
  verify?: () => Promise<void>;
  /** Called once the commit decision is durable (journal phase `committed`): no undo after this. */
  onCommitted?: () => void;
  /**
   * Called once before anything is written, with the absolute source paths that will be staged
   * by hard link (so a cache can durably record the blobs it hands out). Throw to stop: nothing changed.
   */
  beforeStage?: (linkedSources: string[]) => Promise<void>;
  /**
   * Takes the removal of trees nothing refers to once the commit is durable (a rollback's
   * moved-away files, the points it consumed), still running when the journal is gone, so that it
   * overlaps the caller's next steps; the caller awaits it before releasing the target. A crash
   * before it ends leaves leftovers recovery sweeps (`sweepPointLeftovers`). Without it the
   * removal is awaited here.
   */
  defer?: (cleanup: Promise<void>) => void;
}

function isInside(dir: string | null, p: string): boolean {
  return dir !== null && isStrictlyWithin(dir, p);
}

/**
 * The stat fingerprints an operation records after its commit (see fingerprints.ts): files of
 * the new tree whose bytes it knows (`install`, completed with every staged file while staging)
 * and files moved into the new rollback point (`point`).
 */
export interface FingerprintPlan {
  installFile: string;
  install: Expected;
  pointFile: string | null;
  point: Expected;
  /** A rollback's files renamed by the switch straight from a consumed point into place (see PlacedFile). */
  placed?: PlacedFile[];
}

/**
 * A file of a consumed rollback point that a rollback's switch renames straight into place (a
 * journaled `rename from -> to`, no staged name). Before the switch it is checked to be a
 * regular file, given `mode` (bits 0o7777) if it lost it, and stamped for the fingerprints.
 */
export interface PlacedFile {
  from: string;
  to: string;
  sha256: string;
  mode: number;
}

/**
 * Checks and stamps the files a rollback places straight from its points (PlacedFile); throws
 * ERR_APPLY_FAILED naming the file when one is missing or no longer a regular file.
 */
function checkPlaced(j: Journal, fp: FingerprintPlan): void {
  // Metadata calls only, made synchronously (fs/meta.ts).
  for (const f of fp.placed ?? []) {
    const st = lstatSync(f.from, { bigint: true, throwIfNoEntry: false });
    if (st === undefined || !st.isFile()) {
      throw new OperationError('ERR_APPLY_FAILED', `the rollback point's copy of ${displayPath(j, f.to)} is ${st === undefined ? 'missing' : 'no longer a regular file'} (${f.from})`, { target: j.target, path: displayPath(j, f.to) });
    }
    if (Number(st.mode & 0o7777n) !== f.mode) chmodSync(f.from, f.mode);
    // A rename keeps the inode, size and mtime a moved file's fingerprint compares (Expected `moved`).
    fp.install.set(f.to, { sha256: f.sha256, stamp: stampOf(st), moved: true });
  }
}

/**
 * Stages one file by hard link (the source becomes the staged inode: its mode is set to the
 * wanted one first); returns the stamp of the linked inode, or null when linking is not possible
 * (another filesystem, links not allowed, not a regular file) and a copy must be made instead.
 */
function stageLink(item: StageItem): Stamp | null {
  // Metadata calls only, made synchronously (fs/meta.ts).
  try {
    if (item.move) return stageMove(item);
    const st = lstatSync(item.source, { bigint: true });
    if (!st.isFile()) return null;
    if (Number(st.mode & 0o7777n) !== item.mode) chmodSync(item.source, item.mode);
    try {
      linkSync(item.source, item.path);
    } catch (err) {
      if (!isCode(err, 'EEXIST')) throw err;
      unlinkQuiet(item.path); // a leftover of an earlier attempt
      linkSync(item.source, item.path);
    }
    return stampOf(st);
  } catch {
    return null;
  }
}

/**
 * Stages one file by renaming its source (StageItem.move); the stamp of the moved inode as seen
 * before the rename (ctime aside, the same after it). A source
 * already moved (the staging re-run after a crash) is found at the staged name. Null when the
 * source is not a regular file here: a copy is made instead.
 */
function stageMove(item: StageItem): Stamp | null {
  const src = lstatSync(item.source, { bigint: true, throwIfNoEntry: false });
  if (src === undefined) return stampNow(item.path); // moved already
  if (!src.isFile()) return null;
  if (Number(src.mode & 0o7777n) !== item.mode) chmodSync(item.source, item.mode);
  // rename(2) replaces a leftover file or link of an earlier attempt at the staged name (a
  // directory there fails, and the caller copies instead), so no unlink first: one call a file.
  renameSync(item.source, item.path);
  // The inode, size and mtime a rename keeps (only ctime moves): what a moved file's fingerprint
  // compares (Expected `moved`), so no second lstat.
  return stampOf(src);
}

/** Creates the directories the transaction needs and writes every staged file (fsynced). */
async function stage(j: Journal, hooks: ApplyHooks, fp?: FingerprintPlan): Promise<void> {
  const dirsToSync = new Set<string>();
  for (const d of j.mkdirs) {
    await mkdirMode(d, DIR_MODE);
    dirsToSync.add(path.dirname(d));
  }
  // Scratch dirs become installed directories (a version dir, a staged type change): their
  // modes are explicit like every directory made in an install dir, never the umask's.
  for (const d of j.scratch) {
    await mkdirpMode(d, DIR_MODE);
    dirsToSync.add(path.dirname(d));
  }
  if (j.backup_dir) {
    mkdirp(j.backup_dir);
    dirsToSync.add(path.dirname(j.backup_dir));
    // Each backup directory once (shallowest first, so `recursive` has nothing left to walk).
    const backupDirs = new Set<string>();
    for (const op of j.ops) if (op.t === 'rename' && isInside(j.backup_dir, op.to)) backupDirs.add(path.dirname(op.to));
    for (const d of [...backupDirs].sort((a, b) => a.length - b.length)) {
      mkdirp(d);
      for (let x = d; isInside(path.dirname(j.backup_dir), x) && !dirsToSync.has(x); x = path.dirname(x)) dirsToSync.add(x);
    }
  }
  // Parent directories inside scratch dirs first (sequentially: cheap), then the files in parallel.
  for (const item of j.stage) {
    const dir = path.dirname(item.path);
    dirsToSync.add(dir);
    if (item.move) dirsToSync.add(path.dirname(item.source));
    if (j.scratch.some((s) => isInside(s, item.path))) {
      await mkdirpMode(dir, DIR_MODE);
      for (let d = dir; j.scratch.some((s) => isInside(s, d) || s === d); d = path.dirname(d)) dirsToSync.add(d);
    }
  }
  let done = 0;
  const finalOf = new Map<string, string>();
  if (fp) for (const op of j.ops) if (op.t === 'rename') finalOf.set(op.from, op.to);
  const breather = new Breather();
  await mapLimit(j.stage, IO_CONCURRENCY, async (item) => {
    await breather.tick();
    if (item.symlink !== undefined) {
      await fsp.rm(item.path, { force: true });
      await fsp.symlink(item.symlink, item.path);
      hooks.onProgress?.({ phase: 'stage', done: ++done, total: j.stage.length, file: displayPath(j, item.path) });
      return;
    }
    // Linked when allowed and possible (no bytes move); else copied (other filesystem, links not allowed).
    let stamp = item.link ? stageLink(item) : null;
    if (!stamp) {
      await copyDurable(item.source, item.path, item.mode, false);
      if (fp) stamp = stampNow(item.path);
    }
    const final = finalOf.get(item.path);
    if (fp && stamp && final !== undefined && isInside(j.install_dir, final)) fp.install.set(final, { sha256: item.sha256, stamp, moved: true });
    hooks.onProgress?.({ phase: 'stage', done: ++done, total: j.stage.length, file: displayPath(j, item.path) });
  });
  if (fp) checkPlaced(j, fp);
  // Durability in one batch (syncfs per filesystem) before the journal says `switching`.
  await syncDurable(j.backup_dir ? [j.install_dir, j.backup_dir] : [j.install_dir], { files: j.stage.map((s) => s.path), dirs: dirsToSync });
}

/** False when a directory between the install dir and `abs` became a link leading out (see recheckParents). */
function parentsSafe(root: string, abs: string): boolean {
  try {
    recheckParents(root, abs);
    return true;
  } catch (err) {
    if (err instanceof UpkeepError && err.code === 'ERR_UNSAFE_PATH') return false;
    throw err;
  }
}

/**
 * What a transaction will write, per directory (bytes, each file rounded up to whole blocks of
 * its filesystem): staged copies in the install dir (hard links and symbolic links need none)
 * and backups, which are renames on the same filesystem and copies on another one; `entries`:
 * the inodes it creates in the install dir.
 */
export async function spaceNeeded(j: Journal): Promise<Array<{ dir: string; bytes: number; entries?: number }>> {
  // A hard link or a move out of a rollback point is a byte copy when its source lies on another
  // filesystem than the install dir (a rollback whose points live on another disk).
  const installDev = await deviceOf(j.install_dir);
  const devOf = new Map<string, number>();
  const copied = async (s: StageItem): Promise<boolean> => {
    if (s.symlink !== undefined) return false;
    if (!s.link) return true;
    const dir = path.dirname(s.source);
    let dev = devOf.get(dir);
    if (dev === undefined) devOf.set(dir, (dev = await deviceOf(dir)));
    return dev !== installDev;
  };
  let staged = 0;
  let entries = j.mkdirs.length + j.scratch.length + j.ops.filter((o) => o.t === 'mkdir').length;
  const block = await blockSize(j.install_dir);
  for (const s of j.stage) {
    const copy = await copied(s);
    if (copy) staged += allocated(s.size, block);
    // New inodes: every staged entry but a hard link or move within the filesystem.
    if (copy || !s.link) entries += 1;
  }
  const out: Array<{ dir: string; bytes: number; entries?: number }> = [{ dir: j.install_dir, bytes: staged, entries }];
  if (j.backup_dir && (await deviceOf(j.backup_dir)) !== (await deviceOf(j.install_dir))) {
    let backup = 0;
    const backupBlock = await blockSize(j.backup_dir);
    for (const op of j.ops) {
      if (op.t !== 'rename' || !isInside(j.backup_dir, op.to)) continue;
      try {
        backup += allocated((await fsp.lstat(op.from)).size, backupBlock);
      } catch (err) {
        if (!isCode(err, 'ENOENT')) throw err;
      }
    }
    out.push({ dir: j.backup_dir, bytes: backup });
  }
  return out;
}

/**
 * The path a user recognises for progress lines: relative to the install dir, with staging
 * names (`.<name>.upkeep-<op>`, `versions/.<v>.upkeep-<op>/`) shown as their destination.
 */
export function displayPath(j: Pick<Journal, 'install_dir'>, abs: string): string {
  const rel = plainPosix(j.install_dir) && plainPosix(abs) && isStrictlyWithin(j.install_dir, abs) ? abs.slice(j.install_dir.length + (j.install_dir === '/' ? 0 : 1)) : path.relative(j.install_dir, abs).split(path.sep).join('/');
  return rel
    .replace(/^versions\/\.([^/]+)\.upkeep-[^/]+\//, 'versions/$1/')
    .replace(/(^|\/)\.([^/]+)\.upkeep-[^/]+$/, '$1$2');
}

/**
 * Runs the ops in order, then makes every directory an op touched durable. Renames of distinct
 * paths are independent (the undo rule of each depends on its own two paths only), so
 * consecutive renames that share no path run with bounded concurrency.
 */
async function switchOps(j: Journal, hooks: ApplyHooks): Promise<void> {
  const touched = new Set<string>();
  const removed = new Set(j.removed);
  let done = 0;
  const one = async (op: JournalOp): Promise<void> => {
    if (op.t === 'rename') {
      recheckParents(j.install_dir, op.from);
      // A staged entry beside its destination shares its parents: checked once.
      if (path.dirname(op.from) !== path.dirname(op.to)) recheckParents(j.install_dir, op.to);
    }
    await runOp(op);
    if (op.t === 'rename') {
      touched.add(path.dirname(op.from));
      touched.add(path.dirname(op.to));
    } else {
      touched.add(path.dirname(op.path));
    }
    const backup = op.t === 'rename' && isInside(j.backup_dir, op.to);
    const file = displayPath(j, op.t === 'rename' ? (backup ? op.from : op.to) : op.path);
    const removing = (backup && removed.has(file)) || (op.t === 'link' && op.new === null);
    hooks.onProgress?.({ phase: backup ? 'backup' : 'switch', done: ++done, total: j.ops.length, file, ...(removing ? { removing } : {}) });
  };
  // A batch never holds two renames sharing a path (compared case-insensitively, as a
  // case-insensitive volume would): moving an old entry away and putting the new one at its
  // place stay in that order.
  // Nor a rename of a directory above a path another rename of the batch uses (a directory
  // renamed to its new case while a file is being placed inside it).
  let batch: JournalOp[] = [];
  const inBatch = new Set<string>();
  const above = new Set<string>();
  const key = pathCollisionKey;
  const rootKey = key(j.install_dir);
  const insidePrefix = rootKey === '/' ? '/' : `${rootKey}/`;
  // Directories between the install dir and `k`. None for a path outside it (a backup's place or a
  // rollback point's file): those mirror a path inside whose own key already keeps the order
  // (a directory backed up and a file inside it share the from-side ancestry), and a point's
  // files placed straight into the tree are regular files, never directories.
  const ancestors = (k: string): string[] => {
    const out: string[] = [];
    if (!k.startsWith(insidePrefix)) return out;
    for (let d = path.dirname(k); d.length > rootKey.length && d !== path.dirname(d); d = path.dirname(d)) out.push(d);
    return out;
  };
  const clashes = (k: string): boolean => inBatch.has(k) || above.has(k) || ancestors(k).some((d) => inBatch.has(d));
  // Backups on another filesystem are byte copies: one at a time (as fast, and a disk that fills
  // stops the switch at the first copy that does not fit).
  const crossDevice = j.backup_dir !== null && (await deviceOf(j.backup_dir)) !== (await deviceOf(j.install_dir));
  const breather = new Breather();
  const flush = async (): Promise<void> => {
    await mapLimit(batch, crossDevice ? 1 : SWITCH_CONCURRENCY, one);
    await breather.tick(batch.length);
    batch = [];
    inBatch.clear();
    above.clear();
  };
  for (const op of j.ops) {
    if (op.t !== 'rename') {
      await flush();
      await one(op);
      continue;
    }
    const keys = [key(op.from), key(op.to)];
    if (clashes(keys[0]!) || clashes(keys[1]!)) await flush();
    batch.push(op);
    for (const k of keys) {
      inBatch.add(k);
      for (const d of ancestors(k)) above.add(d);
    }
  }
  await flush();
  await syncDurable(j.backup_dir ? [j.install_dir, j.backup_dir] : [j.install_dir], { files: [], dirs: touched });
}

/** Renames in flight at once while switching. */
const SWITCH_CONCURRENCY = 8;

/**
 * Runs a transaction to its end: journal (fsynced) → stage → switching → ops → switched →
 * verify → committed → finish. Any failure before the commit undoes everything to exactly
 * the old tree and rethrows (a verify error as it was; other errors as ERR_APPLY_FAILED).
 */
export async function executeTransaction(j: Journal, hooks: ApplyHooks = {}, fp?: FingerprintPlan): Promise<void> {
  j.phase = 'staging';
  let changedUntil = systemClock.now().getTime();
  try {
    mkdirp(j.state_dir);
    await writeJournal(j);
  } catch (err) {
    if (isDiskFull(err)) throw diskFullError(j.state_dir, SPACE_MARGIN);
    throw err;
  }
  try {
    await stage(j, hooks, fp);
    await setPhase(j, 'switching');
    await switchOps(j, hooks);
    await setPhase(j, 'switched');
    changedUntil = systemClock.now().getTime();
  } catch (err) {
    await undoTransaction(j, hooks);
    const cause = await diskFullCause(err);
    if (isDiskFull(err) || cause !== err) {
      const need = await spaceNeeded(j);
      throw diskFullError(need[0]?.dir ?? j.install_dir, need.reduce((n, x) => n + x.bytes, 0));
    }
    if (err instanceof UpkeepError) throw err;
    const sys = err as NodeJS.ErrnoException;
    if (sys.syscall === 'symlink' && (sys.code === 'ENOSYS' || sys.code === 'EPERM' || sys.code === 'EOPNOTSUPP')) {
      // exFAT and FAT volumes have no symbolic links: say so instead of "function not implemented".
      const need = j.layout === 'versioned' ? 'the versioned layout (its `current` link; use layout: in-place there)' : 'this release (it has symbolic link entries)';
      throw new OperationError('ERR_APPLY_FAILED', `${j.kind} failed and was undone: the volume holding ${j.install_dir} does not support symbolic links (${sys.code}), which ${need} needs`, { target: j.target, install_dir: j.install_dir, cause: sys.code });
    }
    throw new OperationError('ERR_APPLY_FAILED', `${j.kind} failed and was undone: ${(err as Error).message}`, { target: j.target });
  }
  if (hooks.verify) {
    try {
      await hooks.verify();
    } catch (err) {
      try {
        await undoTransaction(j, hooks);
      } catch (undoErr) {
        // The journal stays; the next start's recovery undoes the rest. Say so, and never claim
        // a rollback that did not finish.
        throw undoFailedError(err, undoErr, { target: j.target });
      }
      throw err;
    }
  }
  await setPhase(j, 'committed');
  hooks.onCommitted?.();
  hooks.onProgress?.({ phase: 'commit', done: 0, total: 1 });
  // Every staged entry was renamed into place by the switch: none is left under its staged name.
  await finishTransaction(j, hooks, { switched: true });
  if (fp) {
    await recordFingerprints(fp.installFile, fp.install, changedUntil);
    if (fp.pointFile) await recordFingerprints(fp.pointFile, fp.point, changedUntil);
  }
}

/**
 * ERR_APPLY_FAILED for a failure (`cause`) whose undo failed too (`undoErr`): the journal stays
 * and the next Upkeep command's recovery finishes the undo. `details`: `undo_failed: true`,
 * `cause_code` (the cause's code, or null) and `extra`.
 */
export function undoFailedError(cause: unknown, undoErr: unknown, extra: Record<string, unknown> = {}): OperationError {
  const message = cause instanceof Error ? cause.message : String(cause);
  const undoMessage = undoErr instanceof Error ? undoErr.message : String(undoErr);
  return new OperationError('ERR_APPLY_FAILED', `${message}; undoing the switch failed too (${undoMessage}) — the next Upkeep command finishes the undo`, {
    ...extra, undo_failed: true, cause_code: cause instanceof UpkeepError ? cause.code : null,
  });
}

/** Undoes an uncommitted transaction to exactly the old tree and deletes its journal. Idempotent. */
export async function undoTransaction(j: Journal, hooks: ApplyHooks = {}): Promise<void> {
  if (j.phase === 'committed') throw new Error('a committed transaction cannot be undone');
  const breather = new Breather();
  if (j.phase !== 'staging') {
    const touched = new Set<string>();
    let done = 0;
    for (const op of [...j.ops].reverse()) {
      // Never undo through a directory someone swapped for a link leading out: leave it be.
      if (op.t === 'rename' && !(parentsSafe(j.install_dir, op.from) && parentsSafe(j.install_dir, op.to))) continue;
      // Directories are made durable once, below, before the journal goes.
      await undoOp(op, false);
      if (op.t === 'rename') {
        touched.add(path.dirname(op.from));
        touched.add(path.dirname(op.to));
      } else {
        touched.add(path.dirname(op.path));
      }
      hooks.onProgress?.({ phase: 'rollback', done: ++done, total: j.ops.length });
      await breather.tick();
    }
    await fsyncDirs(touched);
    // Every op is reversed and durable: from here on a re-run only removes what was staged.
    await backToStaging(j);
  }
  const dirs = new Set<string>();
  for (const item of j.stage) {
    if (!parentsSafe(j.install_dir, item.path)) continue;
    if (item.move) {
      // Staged by renaming a point's file: it goes back where it came from. With the source
      // still there, the staged name holds a copy (a point on another filesystem): removed.
      if (lstatOrNull(item.source) === null) {
        if (lstatOrNull(item.path) !== null) {
          renameSync(item.path, item.source);
          dirs.add(path.dirname(item.source));
        }
      } else unlinkQuiet(item.path);
    } else {
      unlinkQuiet(item.path);
    }
    dirs.add(path.dirname(item.path));
    await breather.tick();
  }
  for (const op of j.ops) if (op.t === 'link') await fsp.rm(op.tmp, { force: true });
  for (const s of j.scratch) await rmrf(s);
  if (j.backup_dir) await rmrf(j.backup_dir);
  for (const d of [...j.mkdirs].reverse()) {
    await rmdirIfEmpty(d);
    dirs.add(path.dirname(d));
  }
  await fsyncDirs(dirs);
  // installed.json is only ever written after the commit, so it still describes the old tree.
  await deleteJournal(j.state_dir);
}

/**
 * Completes a committed transaction: publishes the point (apply) or deletes the consumed
 * points (rollback), writes installed.json, prunes empty directories, enforces retention,
 * removes leftovers, then deletes the journal. Idempotent. `switched`: this process ran the
 * whole switch just now, so entries a rename moved are not looked for again (recovery leaves it unset).
 */
export async function finishTransaction(j: Journal, hooks: ApplyHooks = {}, o: { switched?: boolean } = {}): Promise<void> {
  // Trees nothing refers to once the commit is durable: the points a rollback consumed (retired
  // first: their point.json durably removed, so nothing lists them) and the files it moved away.
  // Their removal runs beside the rest of the finish (and, with hooks.defer, beyond it); a crash
  // re-runs this finish or leaves them to sweepPointLeftovers.
  const later: string[] = [];
  if (j.kind === 'rollback') {
    for (const id of j.consume) later.push(await retirePoint(j.points_dir, id));
    if (j.backup_dir) later.push(j.backup_dir);
  }
  const cleanup = later.length === 0 ? null : Promise.all(later.map((d) => rmrf(d))).then(() => undefined);
  cleanup?.catch(() => undefined); // awaited (or handed to hooks.defer) below; never unobserved
  // After a crash (recovery), staged entries may be left under their staged names; after a switch
  // this process ran, only those no rename moved (none, as planned) can be.
  const moved = new Set<string>();
  if (o.switched) for (const op of j.ops) if (op.t === 'rename') moved.add(op.from);
  const breather = new Breather();
  for (const item of j.stage) {
    if (moved.has(item.path)) continue;
    unlinkQuiet(item.path); // renamed into place already, or a leftover
    await breather.tick();
  }
  for (const op of j.ops) if (op.t === 'link') await fsp.rm(op.tmp, { force: true });
  for (const s of j.scratch) await rmrf(s);
  if (j.kind === 'apply' && j.point) {
    const size =
      j.layout === 'versioned'
        ? j.point.kept_version_dir
          ? await dirBytes(under(j.install_dir, j.point.kept_version_dir))
          : 0
        : // What the point keeps, as lstat saw it while planning (a symbolic link counts its target's length, like lstat).
          j.point.backed_up.reduce((n, f) => n + (f.target !== undefined ? Buffer.byteLength(f.target) : f.size), 0);
    await writePoint(j.points_dir, { ...j.point, size_bytes: size });
  }
  await setInstalled(j.state_dir, j.after);
  if (j.layout === 'in-place') await pruneEmptyParents(j.install_dir, j.removed, (j.after?.files ?? []).map((f) => f.path));
  if (j.kind === 'apply') await prunePoints(j.points_dir, j.retention);
  await sweepPointLeftovers(j.points_dir, later.map((d) => path.basename(d)));
  if (j.layout === 'versioned') {
    await pruneVersions(j.install_dir, j.points_dir);
    if (j.after === null) await rmdirIfEmpty(path.join(j.install_dir, VERSIONS_DIR));
  }
  try {
    await fsyncDir(j.points_dir);
  } catch (err) {
    if (!isCode(err, 'ENOENT')) throw err;
  }
  hooks.onProgress?.({ phase: 'commit', done: 1, total: 1 });
  await deleteJournal(j.state_dir);
  if (!cleanup) return;
  if (hooks.defer) hooks.defer(cleanup);
  else await cleanup;
}

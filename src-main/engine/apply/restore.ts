/**
 * Rollback to a kept point, as one journaled, crash-safe transaction.
 *
 * The wanted tree is the point's `before` (plus files that applies since then displaced).
 * Each wanted file's bytes are found by SHA-256 among the kept points' backed-up files, the
 * current tree and (optionally) the download cache, re-hashed before use. A file of a consumed
 * point on the install dir's filesystem, used once, is renamed by the switch straight from the
 * point into place (undo renames it back; the point is deleted only on commit); others are
 * hard-linked or copied into a staged name first. Then the same journaled rename machinery as
 * an apply switches the tree; the current files go to a scratch `.tx-<opid>` dir deleted on commit. On commit the target point and every newer one
 * are consumed (deleted). Rolling back to an older point therefore restores through the newer
 * ones in one step.
 */
import path from 'node:path';
import { NotFoundError, OperationError } from '../../../src-shared/errors';
import type { Installed } from './installed';
import { readInstalled } from './installed';
import type { Journal, JournalOp, StageItem } from './journal';
import { assertInstallDirIsDir, assertOpId, assertReleasePathsNotReserved } from './plan';
import type { RollbackPoint } from './points';
import { isRollbackId, pointDir, pointsForRollback } from './points';
import { assertRecovered } from './recover';
import type { ApplyHooks, FingerprintPlan, PlacedFile } from './transaction';
import { Fingerprints, FINGERPRINTS_FILE, observe } from './fingerprints';
import { executeTransaction, spaceNeeded } from './transaction';
import { assertFreeSpace, deviceOf } from '../fs/space';
import { assertInstallDirSafe } from '../fs/strict-modes';
import type { LocalChangePolicy, LocalCopy } from './switch-plan';
import { planSwitch, probeVolume } from './switch-plan';
import type { DiskState, FileRecord } from './tree';
import { assertSafePaths, diskState, IO_CONCURRENCY, mapLimit, under } from './tree';
import { CURRENT_LINK, readCurrent, VERSIONS_DIR } from './versioned';
import { assertJournalFits, mapNameTooLong } from './path-limit';
import { systemClock, type Clock } from '../clock';
import { isStrictlyWithin } from '../trust/paths';

export interface RollbackOptions {
  target: string;
  installDir: string;
  stateDir: string;
  pointsDir: string;
  /** Default: the newest point. */
  rollbackId?: string;
  opId: string;
  /** Optional extra place to find bytes by SHA-256 (e.g. the download cache); null when absent. */
  findBlob?: (sha256: string) => Promise<string | null>;
  /**
   * Managed files edited locally since the last apply: `overwrite` (default) restores the
   * point's bytes; `keep` and `refuse` keep the user's copy beside as `<name>.local-<date>`
   * (a rollback is never refused for local edits).
   */
  onLocalChange?: LocalChangePolicy;
  /** Time of the journal's created_at and of local-copy names (default: the system clock). */
  clock?: Clock;
  /**
   * Upkeep's own directories (state, downloads, backups; absolute). When one lies inside the
   * install dir, a restored path into it (or onto it) is refused with ERR_UNSAFE_PATH.
   */
  reservedDirs?: string[];
}

export interface RollbackOutcome {
  rollbackId: string;
  /** Locally edited files whose user copy was kept beside the restored one. */
  localCopies: LocalCopy[];
  /** Version installed after the rollback (null = nothing installed). */
  version: string | null;
  fromVersion: string | null;
}

/**
 * Restores the target to the state before the chosen point's operation (default: the newest
 * point). Unknown id => NotFoundError ERR_ROLLBACK_POINT_NOT_FOUND; a path the rollback would
 * create that exceeds PATH_MAX => ERR_UNSAFE_PATH before anything changes; a failure before the
 * commit leaves the current tree exactly as it was.
 */
export async function rollbackToPoint(o: RollbackOptions, hooks: ApplyHooks = {}): Promise<RollbackOutcome> {
  assertOpId(o.opId);
  const opts = { ...o, installDir: path.resolve(o.installDir), stateDir: path.resolve(o.stateDir), pointsDir: path.resolve(o.pointsDir) };
  await assertInstallDirSafe(opts.installDir);
  await assertInstallDirIsDir(opts.installDir);
  await assertRecovered(opts.stateDir);
  // A damaged point.json refuses only a rollback that would consume it (ERR_STATE_CORRUPT naming it).
  const points = await pointsForRollback(opts.pointsDir, opts.rollbackId);
  const point = opts.rollbackId === undefined ? points[0] : points.find((p) => p.rollback_id === opts.rollbackId);
  if (!point || (opts.rollbackId !== undefined && !isRollbackId(opts.rollbackId))) {
    throw new NotFoundError('ERR_ROLLBACK_POINT_NOT_FOUND', opts.rollbackId ? `no rollback point ${opts.rollbackId} for ${opts.target}` : `no rollback point for ${opts.target}`, {
      target: opts.target,
      ...(opts.rollbackId ? { rollback_id: opts.rollbackId } : {}),
    });
  }
  const consumed = points.filter((p) => p.seq >= point.seq); // newest first
  // The paths the rollback writes: the point's tree and what the consumed applies displaced.
  const restores = [...(point.before?.files ?? []), ...consumed.flatMap((p) => p.displaced ?? [])].map((f) => f.path);
  await assertReleasePathsNotReserved(opts.installDir, point.layout, restores, opts.reservedDirs ?? []);
  const installed = await readInstalled(opts.stateDir);
  const { journal, localCopies, fingerprints } = await mapNameTooLong(async () =>
    point.layout === 'versioned'
      ? { journal: await planVersionedRestore(opts, point, consumed, installed), localCopies: [], fingerprints: undefined }
      : await planInPlaceRestore(opts, point, consumed, points, installed));
  // Paths the rollback would create (its own staging and set-aside names) must fit PATH_MAX too.
  assertJournalFits(journal);
  await assertFreeSpace(await spaceNeeded(journal));
  await executeTransaction(journal, hooks, fingerprints);
  return { rollbackId: point.rollback_id, version: point.before?.version ?? null, fromVersion: installed?.version ?? null, localCopies };
}

function baseJournal(o: RollbackOptions, point: RollbackPoint, consumed: RollbackPoint[], installed: Installed | null): Journal {
  return {
    v: 1,
    op_id: o.opId,
    kind: 'rollback',
    target: o.target,
    layout: point.layout,
    install_dir: o.installDir,
    state_dir: o.stateDir,
    points_dir: o.pointsDir,
    phase: 'staging',
    created_at: (o.clock ?? systemClock).now().toISOString(),
    before: installed,
    after: point.before,
    stage: [],
    mkdirs: [],
    scratch: [],
    ops: [],
    backup_dir: null,
    point: null,
    consume: consumed.map((p) => p.rollback_id),
    removed: [],
    retention: 0,
  };
}

async function planVersionedRestore(o: RollbackOptions, point: RollbackPoint, consumed: RollbackPoint[], installed: Installed | null): Promise<Journal> {
  await assertSafePaths(o.installDir, [VERSIONS_DIR, CURRENT_LINK]);
  const want = point.before?.version_dir ?? null;
  if (want) {
    const st = await diskState(under(o.installDir, want));
    if (!(st.kind === 'other' && st.type === 'dir')) {
      throw new OperationError('ERR_APPLY_FAILED', `rollback point ${point.rollback_id} keeps ${want}, which is missing`, { rollback_id: point.rollback_id });
    }
  }
  const j = baseJournal(o, point, consumed, installed);
  j.ops.push({ t: 'link', path: path.join(o.installDir, CURRENT_LINK), old: await readCurrent(o.installDir), new: want, tmp: path.join(o.installDir, `.${CURRENT_LINK}.upkeep-${o.opId}`) });
  return j;
}

/**
 * Stages a file of a consumed point by renaming it instead of hard-linking it when nothing else
 * stages from the same file (the point is deleted on commit: 10,000 links and then 10,000 unlinks
 * of the point's names become 10,000 renames). See StageItem.move.
 */
function markMoves(stage: StageItem[], consumedFilesDirs: string[]): StageItem[] {
  const uses = new Map<string, number>();
  for (const s of stage) if (s.symlink === undefined) uses.set(s.source, (uses.get(s.source) ?? 0) + 1);
  return stage.map((s) => (s.link && s.symlink === undefined && uses.get(s.source) === 1 && consumedFilesDirs.some((d) => isStrictlyWithin(d, s.source)) ? { ...s, move: true } : s));
}

async function planInPlaceRestore(
  o: RollbackOptions,
  point: RollbackPoint,
  consumed: RollbackPoint[],
  all: RollbackPoint[],
  installed: Installed | null,
): Promise<{ journal: Journal; localCopies: LocalCopy[]; fingerprints: FingerprintPlan }> {
  const wanted = new Map<string, FileRecord>();
  for (const f of point.before?.files ?? []) wanted.set(f.path, f);
  for (const p of [...consumed].reverse()) for (const f of p.displaced ?? []) if (!wanted.has(f.path)) wanted.set(f.path, f);

  // Where bytes may be found, best first: consumed points (hard-linked: they are deleted on
  // commit, so no inode stays shared), other points and the current tree (copied, so a later
  // in-place write by the application can never alter a kept backup).
  const candidates = new Map<string, { abs: string; linkable: boolean }[]>();
  const add = (sha: string, abs: string, linkable: boolean): void => {
    if (sha === '') return; // a symbolic link: recreated from its target, never copied
    const list = candidates.get(sha) ?? [];
    list.push({ abs, linkable });
    candidates.set(sha, list);
  };
  const consumedIds = new Set(consumed.map((p) => p.rollback_id));
  for (const p of [...consumed, ...all.filter((x) => !consumedIds.has(x.rollback_id))]) {
    for (const f of p.backed_up ?? []) add(f.sha256, under(path.join(pointDir(o.pointsDir, p.rollback_id), 'files'), f.path), consumedIds.has(p.rollback_id));
  }
  for (const f of installed?.files ?? []) add(f.sha256, under(o.installDir, f.path), false);
  // Bytes known without reading them: stat fingerprints of the install dir and of every point.
  const installFile = path.join(o.stateDir, FINGERPRINTS_FILE);
  const installFps = installed?.layout === 'in-place' ? await Fingerprints.read(installFile) : new Fingerprints();
  const fps = Fingerprints.merge([installFps, ...(await Promise.all(all.map((p) => Fingerprints.read(path.join(pointDir(o.pointsDir, p.rollback_id), FINGERPRINTS_FILE)))))]);
  const verified = new Map<string, DiskState>();
  const linkedOnce = new Set<string>();
  const findSource = async (want: FileRecord): Promise<{ source: string; link: boolean } | null> => {
    const pick = async (c: { abs: string; linkable: boolean }): Promise<{ source: string; link: boolean } | null> => {
      let st = verified.get(c.abs);
      if (!st) verified.set(c.abs, (st = (await observe(c.abs, fps)).disk));
      if (st.kind !== 'file' || st.sha256 !== want.sha256) return null;
      const link = c.linkable && st.mode === want.mode && !linkedOnce.has(c.abs);
      if (link) linkedOnce.add(c.abs);
      return { source: c.abs, link };
    };
    for (const c of candidates.get(want.sha256) ?? []) {
      const found = await pick(c);
      if (found) return found;
    }
    // The download cache only when no kept copy has the bytes (one look-up per miss, not per file).
    const blob = o.findBlob ? await o.findBlob(want.sha256) : null;
    return blob ? pick({ abs: blob, linkable: false }) : null;
  };

  // The best candidate of every wanted file looked at up front, a few at a time (planning then
  // asks for them one by one).
  await mapLimit([...wanted.values()], IO_CONCURRENCY, async (w) => {
    const c = candidates.get(w.sha256)?.[0];
    if (c && !verified.has(c.abs)) verified.set(c.abs, (await observe(c.abs, fps)).disk);
  });

  const j = baseJournal(o, point, consumed, installed);
  const txDir = path.join(o.pointsDir, `.tx-${o.opId}`);
  j.backup_dir = txDir;
  const sorted = [...wanted.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
  const sw = await planSwitch({
    installDir: o.installDir,
    opId: o.opId,
    backupFilesDir: path.join(txDir, 'files'),
    recorded: installed?.layout === 'in-place' ? installed.files : [],
    want: sorted,
    ...(await probeVolume(o.installDir)),
    onLocalChange: o.onLocalChange === 'overwrite' || o.onLocalChange === undefined ? 'overwrite' : 'keep',
    findSource,
    fingerprints: installFps,
    now: (o.clock ?? systemClock).now(),
  });
  if (sw.displaced.length > 0) {
    const rel = sw.displaced[0]!.path;
    throw new OperationError('ERR_APPLY_FAILED', `cannot restore ${rel}: a file Upkeep does not manage is in the way; move it away first`, { path: rel });
  }
  j.mkdirs = sw.mkdirs;
  j.scratch = sw.scratch;
  j.removed = sw.removed;
  const consumedFiles = consumed.map((p) => path.join(pointDir(o.pointsDir, p.rollback_id), 'files'));
  const placed = await placeDirectly(markMoves(sw.stage, consumedFiles), sw.ops, o.installDir, consumedFiles);
  j.stage = placed.stage;
  j.ops = placed.ops;
  return { journal: j, localCopies: sw.localCopies, fingerprints: { installFile, install: sw.expectInstall, pointFile: null, point: new Map(), placed: placed.placed } };
}

/**
 * Turns each moved file of a consumed point (StageItem.move) whose staged name the switch renames
 * once into its place into one journaled rename straight from the point to that place: no staged
 * name, one rename instead of two. Undo renames it back into the point, which is deleted only on
 * commit. Only for points on the install dir's filesystem (elsewhere the bytes are copied while
 * staging, so that a full disk stops the rollback before the switch).
 */
async function placeDirectly(
  stage: StageItem[],
  ops: JournalOp[],
  installDir: string,
  consumedFilesDirs: string[],
): Promise<{ stage: StageItem[]; ops: JournalOp[]; placed: PlacedFile[] }> {
  const installDev = await deviceOf(installDir);
  const sameFs: string[] = [];
  for (const d of consumedFilesDirs) if ((await deviceOf(d)) === installDev) sameFs.push(d);
  if (sameFs.length === 0) return { stage, ops, placed: [] };
  const renamesFrom = new Map<string, number>();
  ops.forEach((op, i) => {
    if (op.t === 'rename') renamesFrom.set(op.from, renamesFrom.has(op.from) ? -1 : i);
  });
  const out = [...ops];
  const kept: StageItem[] = [];
  const placed: PlacedFile[] = [];
  for (const s of stage) {
    const i = s.move ? (renamesFrom.get(s.path) ?? -1) : -1;
    const op = i >= 0 ? out[i] : undefined;
    if (op?.t !== 'rename' || !isStrictlyWithin(installDir, op.to) || !sameFs.some((d) => isStrictlyWithin(d, s.source))) {
      kept.push(s);
      continue;
    }
    out[i] = { t: 'rename', from: s.source, to: op.to };
    placed.push({ from: s.source, to: op.to, sha256: s.sha256, mode: s.mode });
  }
  return { stage: kept, ops: out, placed };
}

/**
 * Plans the switch of an in-place tree from the entries on disk to a wanted tree, for an apply
 * and for a rollback alike. Nothing is changed on disk here.
 *
 * Every managed entry that is replaced or no longer wanted is moved away first (renamed into
 * the backup dir), then directories emptied by that are removed, then directories needed where
 * a file stood are created, then staged entries are renamed into place. So a path may change
 * type between versions (file `docs` ↔ directory `docs/`, file ↔ symbolic link), and on a
 * case-insensitive volume a case-only rename (`Helper.js` → `helper.js`) goes through the
 * staged temporary name instead of being mistaken for an unchanged file.
 *
 * Managed entries whose bytes or link target differ from the recorded ones, or whose type changed
 * between file and symbolic link, were edited locally: `keep` stages a copy (a link as a link)
 * beside them as `<name>.local-<date>`, `refuse` throws ERR_LOCAL_CHANGES, `overwrite`
 * replaces them (the edited bytes stay in the backup dir). A FIFO, socket, device node or
 * directory made where a managed file was is an edit too, moved rather than copied (a FIFO's
 * reader blocks): beside as `<name>.local-<date>` (keep), into the backup dir (overwrite; a
 * directory only when empty, else the switch fails naming the files in it).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { OperationError } from '../../../src-shared/errors';
import type { JournalOp, StageItem } from './journal';
import { missingDirs, stageName } from './plan';
import type { Expected, Fingerprints, Seen } from './fingerprints';
import { expect, observe } from './fingerprints';
import type { DiskState, FileRecord } from './tree';
import { assertSafePaths, diskState, fitName, IO_CONCURRENCY, mapLimit, matchesDisk, recordOfDisk, under } from './tree';
import { DIR_MODE } from './transaction';
import { pathCollisionKey } from '../trust/paths';
import { assertWriteDirsSafe } from '../fs/strict-modes';

// The volume probe lives in volume-probe.ts; re-exported for the planners that call it with planSwitch.
export { probeVolume, sweepVolumeProbes, volumeProbeLeftovers, type VolumeFacts } from './volume-probe';

export type LocalChangePolicy = 'keep' | 'overwrite' | 'refuse';

/**
 * One entry of the wanted tree; `source` says where a regular file's bytes come from, and
 * `linkable` that the source may become the installed file itself (hard link: see PlannedFile).
 */
export interface WantedEntry extends FileRecord {
  source?: string;
  linkable?: boolean;
}

export interface SwitchInputs {
  installDir: string;
  opId: string;
  /** Where moved-away entries go (`<point>/files` or `<tx>/files`). */
  backupFilesDir: string;
  /** The managed tree as recorded (installed.json): paths and the hashes Upkeep installed. */
  recorded: FileRecord[];
  want: WantedEntry[];
  caseInsensitive: boolean;
  /** False on volumes without Unix modes: entries then compare by bytes only. */
  unixModes?: boolean;
  onLocalChange: LocalChangePolicy;
  /** For wanted files without `source` (rollback): where to find verified bytes, or null. */
  findSource?: (want: FileRecord) => Promise<{ source: string; link: boolean } | null>;
  /** Stat fingerprints of the install dir's files (bytes known without reading them). */
  fingerprints?: Fingerprints;
  now: Date;
}

export interface LocalCopy {
  /** The managed path that was edited locally. */
  path: string;
  /** Where the user's bytes are kept (relative to the install dir). */
  kept_as: string;
}

export interface SwitchPlan {
  stage: StageItem[];
  ops: JournalOp[];
  /** Directories created while staging (they did not exist), shallowest first. */
  mkdirs: string[];
  scratch: string[];
  /** Paths of the wanted tree that are written. */
  updated: string[];
  /** Managed paths that are removed. */
  removed: string[];
  /** What was on disk at each moved-away path (managed entries). */
  backedUp: FileRecord[];
  /** Entries Upkeep did not manage that a wanted entry replaced. */
  displaced: FileRecord[];
  /** The managed tree as observed on disk before the switch. */
  observed: FileRecord[];
  localCopies: LocalCopy[];
  /** Files whose bytes are known, for the fingerprints recorded after the commit: in the install dir (unchanged) and in the backup dir (moved away). */
  expectInstall: Expected;
  expectBackup: Expected;
}

const byPath = (a: { path: string }, b: { path: string }): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/** `2026-11-29` style date stamp (UTC) for kept local copies. */
function dateStamp(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** Every entry under `dir` (files, links, special files and directories), relative to the install dir. */
async function listUnder(installDir: string, rel: string): Promise<{ files: string[]; dirs: string[] }> {
  const files: string[] = [];
  const dirs: string[] = [];
  const visit = async (r: string): Promise<void> => {
    dirs.push(r);
    for (const e of await fsp.readdir(under(installDir, r), { withFileTypes: true })) {
      const child = `${r}/${e.name}`;
      if (e.isDirectory()) await visit(child);
      else files.push(child);
    }
  };
  await visit(rel);
  return { files, dirs };
}

/** Builds the stage items and journal ops that turn the current tree into `want`. */
export async function planSwitch(inp: SwitchInputs): Promise<SwitchPlan> {
  const { installDir, opId } = inp;
  const key = (p: string): string => (inp.caseInsensitive ? pathCollisionKey(p) : p);
  const recorded = new Map(inp.recorded.map((f) => [f.path, f]));
  const wantPaths = new Set(inp.want.map((w) => w.path));
  const goneManaged = [...recorded.keys()].filter((p) => !wantPaths.has(p)).sort();
  // Keys of managed entries that leave: a wanted path with one of these keys (or below one) is
  // free once they moved away, whatever the disk says now.
  const goneKeys = new Set(goneManaged.map(key));
  const underGone = (rel: string): string | null => {
    if (goneKeys.size === 0) return null;
    const segs = rel.split('/');
    for (let i = 1; i <= segs.length; i++) {
      const prefix = segs.slice(0, i).join('/');
      if (goneKeys.has(key(prefix))) return prefix;
    }
    return null;
  };
  // Path safety: through parents that stay; a parent that is a managed entry leaving is not walked.
  const checkPaths = inp.want.map((w) => {
    const g = underGone(w.path);
    return g !== null && g !== w.path ? g : w.path;
  });
  await assertSafePaths(installDir, [...checkPaths, ...goneManaged], new Set(recorded.keys()));

  const wanted = [...inp.want].sort(byPath);
  const fps = inp.fingerprints;
  const seenWanted = await mapLimit(wanted, IO_CONCURRENCY, async (w): Promise<{ disk: DiskState; seen: Seen | null }> => {
    if (underGone(w.path) !== null) return { disk: { kind: 'missing' }, seen: null };
    return observe(under(installDir, w.path), fps);
  });
  const seenGone = await mapLimit(goneManaged, IO_CONCURRENCY, (rel) => observe(under(installDir, rel), fps));
  const states = seenWanted.map((x) => x.disk);
  const goneStates = seenGone.map((x) => x.disk);

  const plan: SwitchPlan = { stage: [], ops: [], mkdirs: [], scratch: [], updated: [], removed: [], backedUp: [], displaced: [], observed: [], localCopies: [], expectInstall: new Map(), expectBackup: new Map() };
  const linkedSources = new Set<string>();
  const moveAway: JournalOp[] = [];
  const rmdirs: JournalOp[] = [];
  const mkdirOps: JournalOp[] = [];
  const place: JournalOp[] = [];
  const keepCopies: JournalOp[] = [];
  const keepDirOps: JournalOp[] = [];
  const edited: string[] = [];
  const existingDirs = new Set<string>();
  const stageMkdirs = new Set<string>();
  const switchDirs = new Set<string>();
  /** mkdir ops (into `ops`, each dir once) for the directories of `rel` below `from`, which the switch creates. */
  const switchMkdirs = (from: string, rel: string, ops: JournalOp[]): void => {
    const segs = rel.split('/');
    for (let d = from.split('/').length; d < segs.length; d++) {
      const dir = under(installDir, segs.slice(0, d).join('/'));
      if (!switchDirs.has(dir)) {
        switchDirs.add(dir);
        ops.push({ t: 'mkdir', path: dir, mode: DIR_MODE });
      }
    }
  };
  const scratch = path.join(installDir, `.upkeep-stage-${opId}`);
  const takenNames = new Set<string>();
  // Keys of every wanted path and of every directory holding one: a kept copy's name is none of them.
  const wantKeys = new Set<string>();
  for (const w of inp.want) for (let p = w.path; p !== '.' && !wantKeys.has(key(p)); p = path.posix.dirname(p)) wantKeys.add(key(p));

  /** A free `<name>.local-<date>[-n]` beside `rel`, the name cut to fit NAME_MAX; never a path the release installs. */
  const keptName = async (rel: string): Promise<string> => {
    const dir = path.posix.dirname(rel);
    const nameFor = (n: number): string => {
      const kept = fitName(path.posix.basename(rel), `.local-${dateStamp(inp.now)}${n > 1 ? `-${n}` : ''}`);
      return dir === '.' ? kept : `${dir}/${kept}`;
    };
    let name = nameFor(1);
    for (let n = 2; takenNames.has(key(name)) || wantKeys.has(key(name)) || (await diskState(under(installDir, name))).kind !== 'missing'; n++) name = nameFor(n);
    takenNames.add(key(name));
    return name;
  };
  // Directories removed because a file or link of the new tree takes their path (keys), and the
  // kept copy of each such directory that held edited files (`a/` -> `a.local-<date>/`).
  const removedDirKeys = new Set<string>();
  const keptDirs = new Map<string, string>();

  /** The top directory above `rel` that the switch removes (a file of the new tree takes its path), else null. */
  const removedTop = (rel: string): string | null => {
    const segs = rel.split('/');
    for (let i = 1; i < segs.length; i++) if (removedDirKeys.has(key(segs.slice(0, i).join('/')))) return segs.slice(0, i).join('/');
    return null;
  };
  // FIFOs, sockets, device nodes and directories made where managed files were, and where each moves to.
  const specialTo = new Map<string, string>();

  /** A local edit of managed `rel` (disk differs from the record): policy decides. */
  const noteEdit = async (rel: string, disk: DiskState): Promise<void> => {
    const rec = recorded.get(rel);
    if (!rec) return;
    if (disk.kind === 'other') {
      // The user's entry too (a FIFO, socket or device node, or a directory, made where the
      // file was). It is moved as it is (reading a FIFO blocks): beside, under the kept name
      // (keep), or a special file into the point (overwrite; a directory is removed only when
      // empty, below). Inside a directory the switch removes, it stays in the way (a plain failure).
      edited.push(rel);
      if (inp.onLocalChange === 'keep' && removedTop(rel) === null) {
        const name = await keptName(rel);
        specialTo.set(rel, under(installDir, name));
        plan.localCopies.push({ path: rel, kept_as: name });
      } else if (inp.onLocalChange === 'overwrite' && disk.type === 'special') {
        specialTo.set(rel, under(inp.backupFilesDir, rel));
      }
      return;
    }
    if (disk.kind !== 'file' && disk.kind !== 'link') return;
    // Other bytes, another link target, or a file made a link (`config.yml` -> /etc/app/config.yml)
    // or a link made a file: the user's entry. A mode alone is not an edit.
    const changed = rec.target !== undefined ? disk.kind === 'file' || disk.target !== rec.target : disk.kind === 'link' || disk.sha256 !== rec.sha256;
    if (!changed) return;
    edited.push(rel);
    if (inp.onLocalChange !== 'keep') return;
    // Inside a directory that the switch removes (the new tree has a file at its path), the copy
    // cannot stay beside the file: the directory's edited files are kept, at the same relative
    // paths, in `<dir>.local-<date>/`, made during the switch (its parent stays).
    const top = removedTop(rel);
    let name: string;
    let tmp: string;
    if (top !== null) {
      let topName = keptDirs.get(key(top));
      if (topName === undefined) {
        topName = await keptName(top);
        keptDirs.set(key(top), topName);
      }
      name = `${topName}${rel.slice(top.length)}`;
      switchMkdirs(topName, name, keepDirOps);
      if (!plan.scratch.includes(scratch)) plan.scratch.push(scratch);
      tmp = path.join(scratch, String(plan.stage.length));
    } else {
      name = await keptName(rel);
      tmp = stageName(under(installDir, name), opId);
    }
    plan.stage.push(disk.kind === 'link'
      ? { path: tmp, source: '', sha256: '', size: 0, mode: 0, link: false, symlink: disk.target }
      : { path: tmp, source: under(installDir, rel), sha256: disk.sha256, size: disk.size, mode: disk.mode, link: false });
    keepCopies.push({ t: 'rename', from: tmp, to: under(installDir, name) });
    plan.localCopies.push({ path: rel, kept_as: name });
  };

  /** Moves the entry at `rel` away (a directory: only if it holds nothing but managed entries leaving). */
  const clear = async (rel: string, disk: DiskState, managed: boolean, seen: Seen | null): Promise<void> => {
    if (disk.kind === 'missing') return;
    if (disk.kind === 'other' && disk.type === 'dir') {
      const to = managed ? specialTo.get(rel) : undefined;
      if (to !== undefined) {
        moveAway.push({ t: 'rename', from: under(installDir, rel), to });
        return;
      }
      if (managed && inp.onLocalChange === 'refuse') return; // refused below, listed
      const { files, dirs } = await listUnder(installDir, rel);
      // Named as listed under `rel`, which on a case-insensitive volume may differ in case from
      // the recorded paths (`lib/` becoming a file `LIB`): compared by key.
      const foreign = files.filter((f) => !goneKeys.has(key(f)));
      if (foreign.length > 0) {
        throw new OperationError('ERR_APPLY_FAILED', `cannot put ${rel} in place: the directory there holds files Upkeep does not manage (${foreign.slice(0, 3).join(', ')}); move them away first`, { path: rel, files: foreign.slice(0, 20) });
      }
      for (const d of dirs.sort((a, b) => b.length - a.length)) {
        removedDirKeys.add(key(d));
        const st = await fsp.lstat(under(installDir, d));
        rmdirs.push({ t: 'rmdir', path: under(installDir, d), mode: st.mode & 0o777 });
      }
      return;
    }
    if (disk.kind === 'other') {
      const to = specialTo.get(rel);
      if (to === undefined && managed && inp.onLocalChange === 'refuse') return; // refused below, listed
      if (to === undefined) throw new OperationError('ERR_APPLY_FAILED', `cannot put ${rel} in place: a special file (FIFO, socket or device node) is in the way`, { path: rel });
      moveAway.push({ t: 'rename', from: under(installDir, rel), to });
      return;
    }
    moveAway.push({ t: 'rename', from: under(installDir, rel), to: under(inp.backupFilesDir, rel) });
    expect(plan.expectBackup, under(inp.backupFilesDir, rel), seen, true);
    const rec = recordOfDisk(rel, disk);
    if (rec) (managed ? plan.backedUp : plan.displaced).push(rec);
  };

  for (const [i, w] of wanted.entries()) {
    const disk = states[i];
    const managed = recorded.has(w.path);
    const seen = recordOfDisk(w.path, disk);
    if (managed && seen) plan.observed.push(seen);
    if (matchesDisk(w, disk, inp.unixModes === false)) {
      expect(plan.expectInstall, under(installDir, w.path), seenWanted[i]!.seen, false);
      continue; // unchanged
    }
    if (managed) await noteEdit(w.path, disk);
    await clear(w.path, disk, managed, seenWanted[i]!.seen);
    // Parents: existing directories are fine; missing ones are created while staging, unless
    // they are only free once a managed entry moved away (then created during the switch and
    // the entry is staged in a scratch directory).
    const dest = under(installDir, w.path);
    const gone = underGone(path.posix.dirname(w.path) === '.' ? '' : path.posix.dirname(w.path));
    let tmp: string;
    if (gone !== null) {
      switchMkdirs(gone, w.path, mkdirOps);
      if (!plan.scratch.includes(scratch)) plan.scratch.push(scratch);
      tmp = path.join(scratch, String(plan.stage.length));
    } else {
      for (const dir of await missingDirs(path.dirname(dest), existingDirs)) {
        if (!stageMkdirs.has(dir)) {
          stageMkdirs.add(dir);
          plan.mkdirs.push(dir);
        }
      }
      tmp = stageName(dest, opId);
    }
    if (w.target !== undefined) {
      plan.stage.push({ path: tmp, source: '', sha256: '', size: 0, mode: 0, link: false, symlink: w.target });
    } else {
      const src = w.source !== undefined ? { source: w.source, link: w.linkable === true } : await inp.findSource?.(w);
      if (!src) throw new OperationError('ERR_APPLY_FAILED', `cannot restore ${w.path}: its bytes (sha256 ${w.sha256}) are in no kept point`, { path: w.path });
      // One inode per installed path: a source wanted at two paths is linked once, copied after.
      const link = src.link && !linkedSources.has(src.source);
      if (link) linkedSources.add(src.source);
      plan.stage.push({ path: tmp, source: src.source, sha256: w.sha256, size: w.size, mode: w.mode & 0o7777, link });
    }
    place.push({ t: 'rename', from: tmp, to: dest });
    plan.updated.push(w.path);
  }

  for (const [i, rel] of goneManaged.entries()) {
    const disk = goneStates[i];
    if (disk.kind === 'missing' || (disk.kind === 'other' && disk.type === 'dir')) continue;
    const seen = recordOfDisk(rel, disk);
    if (seen) plan.observed.push(seen);
    await noteEdit(rel, disk);
    await clear(rel, disk, true, seenGone[i]!.seen);
    plan.removed.push(rel);
  }

  if (edited.length > 0 && inp.onLocalChange === 'refuse') {
    throw new OperationError('ERR_LOCAL_CHANGES', `managed files were changed locally: ${edited.slice(0, 10).join(', ')}${edited.length > 10 ? ` and ${edited.length - 10} more` : ''} (on_local_change: refuse)`, { files: edited });
  }
  const caseRenames = inp.caseInsensitive ? await planDirCaseRenames(installDir, opId, wanted, new Set(rmdirs.map((o) => (o.t === 'rmdir' ? pathCollisionKey(o.path) : '')))) : [];
  plan.ops = [...moveAway, ...rmdirs, ...mkdirOps, ...place, ...keepDirOps, ...keepCopies, ...caseRenames];
  assertWriteDirsSafe(installDir, writtenDirs(installDir, plan), inp.unixModes !== false);
  plan.observed.sort(byPath);
  return plan;
}

/**
 * The directories strictly inside the install dir (and outside its scratch dirs) where the plan
 * stages, renames, creates or removes entries: those another user must not be able to write in.
 */
function writtenDirs(installDir: string, plan: SwitchPlan): Set<string> {
  const root = path.resolve(installDir);
  // Directories the plan creates are Upkeep's own: neither they nor paths below them are looked
  // up (below a file that becomes a directory, a lookup is ENOTDIR, and exfat-fuse has aborted on it).
  const created = [...plan.scratch, ...plan.mkdirs, ...plan.ops.flatMap((o) => (o.t === 'mkdir' ? [o.path] : []))];
  const dirs = new Set<string>();
  const note = (p: string): void => {
    const d = path.dirname(p);
    if (d !== root && d.startsWith(root + path.sep) && !created.some((s) => d === s || d.startsWith(s + path.sep))) dirs.add(d);
  };
  for (const s of plan.stage) note(s.path);
  for (const op of plan.ops) {
    if (op.t === 'rename') {
      note(op.from);
      note(op.to);
    } else note(op.path);
  }
  return dirs;
}

/**
 * On a case-insensitive volume a directory keeps the case it was created with when a new tree
 * names it in another case only (`Lib/helper.js` after `Lib/Helper.js` became `lib/helper.js`):
 * the files land in it under either name. Each such directory (one the switch neither removes
 * nor creates) is renamed to the wanted case through its staged name, shallowest first, after
 * everything else is in place; undo renames it back the same way.
 */
async function planDirCaseRenames(installDir: string, opId: string, wanted: readonly WantedEntry[], removedKeys: ReadonlySet<string>): Promise<JournalOp[]> {
  const dirs = new Set<string>();
  for (const w of wanted) for (let d = path.posix.dirname(w.path); d !== '.'; d = path.posix.dirname(d)) dirs.add(d);
  const depth = (d: string): number => d.split('/').length;
  const listing = new Map<string, string[]>();
  const ops: JournalOp[] = [];
  for (const d of [...dirs].sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : 1))) {
    const parent = path.posix.dirname(d) === '.' ? '' : path.posix.dirname(d);
    const name = path.posix.basename(d);
    let names = listing.get(parent);
    if (names === undefined) {
      names = await fsp.readdir(parent === '' ? installDir : under(installDir, parent)).catch(() => [] as string[]);
      listing.set(parent, names);
    }
    if (names.includes(name)) continue;
    const onDisk = names.find((n) => pathCollisionKey(n) === pathCollisionKey(name));
    if (onDisk === undefined) continue;
    const from = parent === '' ? path.join(installDir, onDisk) : path.join(under(installDir, parent), onDisk);
    if (removedKeys.has(pathCollisionKey(from))) continue; // removed, then made again in the wanted case
    const st = await fsp.lstat(from).catch(() => null);
    if (!st?.isDirectory()) continue;
    const to = under(installDir, d);
    const tmp = stageName(to, opId);
    ops.push({ t: 'rename', from, to: tmp }, { t: 'rename', from: tmp, to });
  }
  return ops;
}

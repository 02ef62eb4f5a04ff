/**
 * The inputs and outputs of an apply, shared by both layouts, plus small planning helpers.
 */
import { promises as fsp, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { OperationError, VerificationError } from '../../../src-shared/errors';
import type { Layout } from './installed';
import type { LocalChangePolicy, LocalCopy } from './switch-plan';
import type { FileRecord } from './tree';
import { lexists, shortEntryName } from './tree';
import { probeVolume } from './volume-probe';
import { assertSafeRelativePath, isWithin, pathCollisionKey } from '../trust/paths';
import type { Clock } from '../clock';

/**
 * One entry of the new tree: `source` is a verified blob in the download cache (never
 * modified). A symbolic link has `target` (relative, feed-checked to stay inside the install
 * dir), `source` and `sha256` empty, size and mode 0.
 */
export interface PlannedFile {
  path: string;
  source: string;
  sha256: string;
  size: number;
  mode: number;
  target?: string;
  /**
   * The source may become the installed file itself (a hard link: no bytes copied; its mode is
   * set to `mode`). Only for a source nothing else will write or trust unverified afterwards:
   * a scratch file deleted after the apply, or a cache blob the cache records as handed out
   * (it re-hashes such a blob before any reuse, since a local edit of the installed file edits
   * it too). Each source is linked at most once per apply.
   */
  linkable?: boolean;
}

export interface ApplyPlan {
  opId: string;
  target: string;
  installDir: string;
  layout: Layout;
  /** `<stateDir>/targets/<id>` */
  stateDir: string;
  /** `<backupDir>/<id>` */
  pointsDir: string;
  toVersion: string;
  /** The whole new managed tree. */
  files: PlannedFile[];
  /** Rollback points kept per target after a successful commit. */
  retention: number;
  /** What to do with managed files edited locally (default `keep`). */
  onLocalChange?: LocalChangePolicy;
  /**
   * Upkeep's own directories (state, downloads, backups; absolute). When one lies inside the
   * install dir, release paths into it (or onto it) are refused with ERR_UNSAFE_PATH.
   */
  reservedDirs?: string[];
  /** Time of the rollback point's id and created_at, and of local-copy names (default: the system clock). */
  clock?: Clock;
}

export interface ApplyOutcome {
  rollbackId: string | null;
  filesUpdated: string[];
  filesRemoved: string[];
  fromVersion: string | null;
  /** Managed files edited locally whose user copy was kept beside the new one. */
  localCopies: LocalCopy[];
}

/** The mode a manifest file gets: its `mode`, else 0755 for executables and 0644 otherwise. */
export function defaultMode(type: string | undefined, mode?: number): number {
  if (mode !== undefined) return mode & 0o7777;
  return type === 'executable' ? 0o755 : 0o644;
}

/** A FileRecord of a planned file. */
export function recordOf(f: { path: string; sha256: string; size: number; mode: number; target?: string }): FileRecord {
  if (f.target !== undefined) return { path: f.path, sha256: '', size: 0, mode: 0, target: f.target };
  return { path: f.path, sha256: f.sha256, size: f.size, mode: f.mode & 0o7777 };
}

/**
 * Checks a new tree for unsafe or inconsistent paths: each path relative and normalised,
 * no duplicates, and no path that is also a parent directory of another.
 */
export function assertTreeShape(files: { path: string }[]): void {
  const seen = new Set<string>();
  for (const f of files) {
    assertSafeRelativePath(f.path);
    if (seen.has(f.path)) throw new OperationError('ERR_APPLY_FAILED', `duplicate path in release: ${f.path}`, { path: f.path });
    seen.add(f.path);
  }
  for (const f of files) {
    for (let d = path.posix.dirname(f.path); d !== '.'; d = path.posix.dirname(d)) {
      if (seen.has(d)) throw new OperationError('ERR_APPLY_FAILED', `release lists ${d} both as a file and as a directory`, { path: d });
    }
  }
}

/**
 * `p` with every symbolic link of its existing part resolved: the real path of its deepest
 * existing ancestor joined with the rest (synchronous: a metadata call per missing level).
 */
function realPathOf(p: string): string {
  const abs = path.resolve(p);
  try {
    return realpathSync.native(abs);
  } catch {
    const up = path.dirname(abs);
    return up === abs ? abs : path.join(realPathOf(up), path.basename(abs));
  }
}

/**
 * The path of `d` relative to the directory `root` ('' for `root` itself) when `d` lies inside
 * it, found from the existing ancestors of `d`'s real path: one with `root`'s device and inode
 * (a bind mount), or, with `caseInsensitive`, one whose name differs from `root`'s in case only
 * (exfat-fuse gives each spelling of a name its own inode number). Null when `d` is elsewhere or
 * `root` does not exist. Synchronous: one stat per ancestor.
 */
function relativeByIdentity(root: string, d: string, caseInsensitive: boolean): string | null {
  const id = statSync(root, { throwIfNoEntry: false });
  if (id === undefined) return null;
  const rootKey = pathCollisionKey(root);
  const rest: string[] = [];
  for (let cur = realPathOf(d); ; ) {
    const st = statSync(cur, { throwIfNoEntry: false });
    if (st !== undefined && st.dev === id.dev && (st.ino === id.ino || (caseInsensitive && pathCollisionKey(cur) === rootKey))) return rest.reverse().join('/');
    const up = path.dirname(cur);
    if (up === cur) return null;
    rest.push(path.basename(cur));
    cur = up;
  }
}

/**
 * True when one of `reserved` names the install dir in another case only on its way (an existing
 * `INSTALL/state` beside `install/`): only a case-insensitive volume makes that the install dir,
 * which the caller probes before assertNotReserved. Synchronous: one stat per ancestor.
 */
export function reservedNamesInstallDirInOtherCase(installDir: string, reserved: readonly string[]): boolean {
  const realRoot = realPathOf(installDir);
  const rootKey = pathCollisionKey(realRoot);
  for (const d of reserved) {
    for (let cur = realPathOf(d); path.dirname(cur) !== cur; cur = path.dirname(cur)) {
      if (cur !== realRoot && pathCollisionKey(cur) === rootKey && statSync(cur, { throwIfNoEntry: false })?.isDirectory()) return true;
    }
  }
  return false;
}

/**
 * Refuses release paths that would land in (or replace) one of Upkeep's own directories inside
 * the install dir: VerificationError ERR_UNSAFE_PATH naming the path and the directory.
 * Compared case-insensitively (pathCollisionKey), so a case-insensitive volume cannot be used
 * to slip past it, and between real paths too, so neither a link naming the install dir or one
 * of those directories in the config nor a link inside the install dir leading into one of them
 * (`install/st -> var/state`, then a release path `st/machine-id`) gets past it; and by the
 * identity of the install dir, so a state_dir named in another case on a case-insensitive volume
 * (`INSTALL/st` for `install/`, with `caseInsensitive`) or through a bind mount is inside too.
 */
export function assertNotReserved(installDir: string, rels: Iterable<string>, reserved: readonly string[], caseInsensitive = false): void {
  if (reserved.length === 0) return;
  const root = path.resolve(installDir);
  const realRoot = realPathOf(root);
  const inside = new Set<string>();
  const relKey = (base: string, d: string): string => pathCollisionKey(path.relative(base, d).split(path.sep).join('/'));
  for (const d of reserved) {
    // isWithin, not a '..' prefix test: a state_dir named `..state` in the install dir is inside.
    if (isWithin(root, d)) inside.add(relKey(root, path.resolve(d)));
    const real = realPathOf(d);
    if (isWithin(realRoot, real)) inside.add(relKey(realRoot, real));
    const byId = relativeByIdentity(realRoot, d, caseInsensitive);
    if (byId !== null) inside.add(pathCollisionKey(byId));
  }
  if (inside.size === 0) return;
  const reservedHit = (k: string): string | undefined => [...inside].find((r) => r === '' || k === r || k.startsWith(`${r}/`) || r.startsWith(`${k}/`));
  // The real location (relative to the real install dir) of each release path's parent, once per
  // directory: null when it leads out of the install dir (other checks refuse that).
  const realParent = new Map<string, string | null>();
  for (const p of rels) {
    const dir = path.posix.dirname(p);
    let parent = realParent.get(dir);
    if (parent === undefined) {
      const real = dir === '.' ? realRoot : realPathOf(path.join(root, dir));
      parent = isWithin(realRoot, real) ? relKey(realRoot, real) : null;
      realParent.set(dir, parent);
    }
    const base = pathCollisionKey(path.posix.basename(p));
    const keys = [pathCollisionKey(p), ...(parent === null ? [] : [parent === '' ? base : `${parent}/${base}`])];
    for (const k of keys) {
      const hit = reservedHit(k);
      if (hit !== undefined) {
        throw new VerificationError('ERR_UNSAFE_PATH', `refusing ${p}: it lies in (or replaces) Upkeep's own directory ${hit === '' ? '(the install dir itself)' : hit} inside the install dir`, { path: p, reserved: hit });
      }
    }
  }
}

/**
 * assertNotReserved for an operation's release paths (`rels`; for the versioned layout the
 * `versions`/`current` entries), probing the volume's case sensitivity only when a reserved
 * directory names the install dir in another case. Apply and rollback both run it: the config may
 * have moved a directory of Upkeep's into the install dir since a point was made. Throws
 * ERR_UNSAFE_PATH (see assertNotReserved).
 */
export async function assertReleasePathsNotReserved(installDir: string, layout: Layout, rels: Iterable<string>, reserved: readonly string[]): Promise<void> {
  if (reserved.length === 0) return;
  const caseInsensitive = reservedNamesInstallDirInOtherCase(installDir, reserved) && (await probeVolume(installDir)).caseInsensitive;
  assertNotReserved(installDir, layout === 'versioned' ? ['versions', 'current'] : rels, reserved, caseInsensitive);
}

/**
 * Refuses (OperationError ERR_APPLY_FAILED naming `install_dir`) an install dir that exists but
 * is not a directory: a file, or a symbolic link to a file or to nothing. A missing one is fine
 * (the apply creates it).
 */
export async function assertInstallDirIsDir(installDir: string): Promise<void> {
  let link;
  try {
    link = await fsp.lstat(installDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  let what: string | null = null;
  try {
    if (!(await fsp.stat(installDir)).isDirectory()) what = link.isSymbolicLink() ? 'a symbolic link to something that is not a directory' : 'not a directory';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ELOOP' && code !== 'ENOTDIR') throw err;
    what = `a symbolic link to nothing (${code})`;
  }
  if (what !== null) throw new OperationError('ERR_APPLY_FAILED', `install_dir ${installDir} is ${what}; make it a directory (or remove it) first`, { install_dir: installDir });
}

/** Temporary name next to `dest`: `<dir>/.<name>.upkeep-<opid>` (hashed when the name is over 180 bytes). */
export function stageName(dest: string, opId: string): string {
  const dir = path.dirname(dest);
  const base = path.basename(dest);
  return path.join(dir, `.${shortEntryName(base)}.upkeep-${opId}`);
}

/**
 * The missing directories from `dir` up to the first existing ancestor, shallowest first.
 * `known` (optional, per planning run) caches directories already seen to exist.
 */
export async function missingDirs(dir: string, known?: Set<string>): Promise<string[]> {
  const out: string[] = [];
  let d = path.resolve(dir);
  while (!known?.has(d) && !(await lexists(d))) {
    out.unshift(d);
    const up = path.dirname(d);
    if (up === d) break;
    d = up;
  }
  known?.add(d);
  for (const m of out) known?.add(m); // created by the caller's plan before anything needs them
  return out;
}

/** An op id usable in file names (letters, digits, `-`, `_`), or throws. */
export function assertOpId(opId: string): void {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(opId)) throw new OperationError('ERR_APPLY_FAILED', `invalid operation id ${JSON.stringify(opId)}`);
}

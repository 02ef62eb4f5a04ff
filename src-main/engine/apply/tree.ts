/**
 * File-tree primitives for the apply engine: hashing, durable copies, moves with an EXDEV
 * fallback, path-safety checks and small directory helpers. Everything here is idempotent or
 * says clearly what it does when repeated, because recovery re-runs it after a crash.
 */
import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, promises as fsp, constants as fsc, readlinkSync, realpathSync, renameSync, rmdirSync, unlinkSync } from 'node:fs';
import { Breather, lstatOrNull } from '../fs/meta';
import path from 'node:path';
import { OperationError, VerificationError } from '../../../src-shared/errors';
import { fsyncDir, fsyncFile } from '../fs/atomic';
import { sha256Hex } from '../trust/digest';
import { assertSafeRelativePath, isStrictlyWithin, isWithin, pathCollisionKey, plainPosix } from '../trust/paths';

/**
 * What one managed entry is: relative POSIX path, content hash, size (bytes) and permission
 * bits; a symbolic link has `target` (its literal relative target), an empty `sha256`, size 0
 * and mode 0.
 */
export interface FileRecord {
  path: string;
  sha256: string;
  size: number;
  mode: number;
  target?: string;
}

/** What is on disk at a path right now (lstat, never following a final symlink). */
export type DiskState =
  | { kind: 'missing' }
  | { kind: 'file'; sha256: string; size: number; mode: number }
  | { kind: 'link'; target: string }
  | { kind: 'other'; type: 'dir' | 'special'; mode: number };

/** True when what is on disk is exactly the record: same bytes and mode, or the same link target. */
export function matchesDisk(rec: FileRecord, disk: DiskState, ignoreMode = false): boolean {
  if (rec.target !== undefined) return disk.kind === 'link' && disk.target === rec.target;
  return disk.kind === 'file' && disk.sha256 === rec.sha256 && (ignoreMode || disk.mode === (rec.mode & 0o7777));
}

/** The record of what is on disk at `rel` (null for missing, directories and special files). */
export function recordOfDisk(rel: string, disk: DiskState): FileRecord | null {
  if (disk.kind === 'file') return { path: rel, sha256: disk.sha256, size: disk.size, mode: disk.mode };
  if (disk.kind === 'link') return { path: rel, sha256: '', size: 0, mode: 0, target: disk.target };
  return null;
}

/** Files up to this size are hashed with one read; larger ones are streamed. */
const SMALL_FILE = 1024 * 1024;

/** SHA-256 (lowercase hex) of a file's bytes (streamed when large: never a whole big file in memory). */
export async function hashFile(file: string, size?: number): Promise<string> {
  if (size !== undefined && size <= SMALL_FILE) return sha256Hex(await fsp.readFile(file));
  const h = createHash('sha256');
  const stream = createReadStream(file);
  for await (const chunk of stream) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Describes what is at `p` without following a final symlink; regular files are hashed. */
export async function diskState(p: string): Promise<DiskState> {
  const st = lstatOrNull(p);
  if (st === null) return { kind: 'missing' };
  const mode = st.mode & 0o7777;
  if (st.isFile()) return { kind: 'file', sha256: await hashFile(p, st.size), size: st.size, mode };
  if (st.isDirectory()) return { kind: 'other', type: 'dir', mode };
  if (st.isSymbolicLink()) return { kind: 'link', target: readlinkSync(p) };
  return { kind: 'other', type: 'special', mode };
}

/**
 * Maps `items` through `fn` with at most `limit` calls in flight, keeping order. Used for
 * hashing and for staging: many concurrent fsyncs let the filesystem batch its journal commits
 * (a written-here helper: no installed library offers a bounded promise pool).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failure: { err: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (failure === null && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i], i);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  // After a failure nothing new starts, and the calls in flight end before the first error is
  // thrown: a caller that undoes (a transaction) never runs beside an operation still going on.
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== null) throw (failure as { err: unknown }).err;
  return out;
}

/** Directories emptied at once by rmrf. */
const RMRF_WORKERS = 8;

/** Concurrency for file I/O bursts (hashing, staging). */
export const IO_CONCURRENCY = 16;

/** True when an errno-style error has the given code. */
export function isCode(err: unknown, code: string): boolean {
  return !!err && typeof err === 'object' && (err as NodeJS.ErrnoException).code === code;
}

/** True when `p` exists (lstat: a dangling symlink exists). */
export async function lexists(p: string): Promise<boolean> {
  return lstatOrNull(p) !== null;
}

/** fsyncs each directory of a set once (ignores directories that no longer exist). */
export async function fsyncDirs(dirs: Iterable<string>): Promise<void> {
  await mapLimit([...new Set(dirs)], IO_CONCURRENCY, async (d) => {
    try {
      await fsyncDir(d, true);
    } catch (err) {
      // Gone, or replaced by a file or a link (a type change): its entries' fate is synced with its parent.
      if (!isCode(err, 'ENOENT') && !isCode(err, 'ENOTDIR') && !isCode(err, 'ELOOP')) throw err;
    }
  });
}

/**
 * Copies `src` to `dest` (replacing a leftover regular file `dest`), sets `mode` exactly (chmod ignores the
 * umask) and fsyncs the file (unless `sync` is false: the caller then makes a whole batch durable). The caller fsyncs the directory. Used to stage verified cache
 * blobs: a byte copy is needed here because the cache keeps its blob.
 */
export async function copyDurable(src: string, dest: string, mode: number, sync = true): Promise<void> {
  await fsp.rm(dest, { force: true }); // a leftover of an earlier attempt
  // COPYFILE_EXCL creates with O_EXCL: a symbolic link planted at `dest` is never followed.
  await fsp.copyFile(src, dest, fsc.COPYFILE_FICLONE | fsc.COPYFILE_EXCL);
  const fh = await fsp.open(dest, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  try {
    await fh.chmod(mode & 0o7777);
    if (sync) await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Re-checks, right before a rename, that every directory between `root` and `abs` is still a
 * directory, or a symbolic link that resolves inside `root` (as planned): a directory swapped
 * for a link leading out since planning refuses the operation with ERR_UNSAFE_PATH (lstat,
 * never following; synchronous, fs/meta.ts). Paths outside `root` are not checked.
 */
export function recheckParents(root: string, abs: string): void {
  const dir = path.dirname(abs);
  const plain = plainPosix(root) && plainPosix(dir);
  let rel: string;
  if (plain) {
    if (!dir.startsWith(root === '/' ? '/' : `${root}/`)) return; // the root itself, or outside it
    rel = dir.slice(root === '/' ? 1 : root.length + 1);
  } else {
    // Containment as paths.ts defines it: a directory named `..data` is inside, and re-checked.
    if (!isStrictlyWithin(root, dir)) return;
    rel = path.relative(root, dir);
  }
  let cur = root;
  for (const seg of rel.split(path.sep)) {
    cur = plain ? (cur === '/' ? `/${seg}` : `${cur}/${seg}`) : path.join(cur, seg);
    // lstat, synchronously (fs/meta.ts).
    let st;
    try {
      st = lstatSync(cur);
    } catch (err) {
      if (isCode(err, 'ENOENT')) return; // created by a later op: nothing to follow
      throw err;
    }
    if (st.isDirectory()) continue;
    if (st.isSymbolicLink()) {
      let real: string | null = null;
      try {
        real = realpathSync(cur);
      } catch {
        real = null;
      }
      if (real !== null && isWithin(realpathSync(root), real)) continue;
    }
    throw new VerificationError('ERR_UNSAFE_PATH', `${path.relative(root, cur)} changed into ${st.isSymbolicLink() ? 'a symbolic link leading outside the install dir' : 'something that is not a directory'} during the operation; refusing to write through it`, { path: path.relative(root, cur).split(path.sep).join('/') });
  }
}

/**
 * Moves `from` to `to` without ever leaving a partial `to`: rename on the same filesystem;
 * on EXDEV (points dir on another filesystem) it copies to a temp name, fsyncs, renames into
 * place, then unlinks `from` — so at every instant `from`, `to` or both hold the full bytes.
 * Only regular files and symlinks take the copy path; a directory across devices is refused.
 */
export async function moveEntry(from: string, to: string): Promise<void> {
  try {
    renameSync(from, to); // a metadata call (fs/meta.ts)
    return;
  } catch (err) {
    if (!isCode(err, 'EXDEV')) throw err;
  }
  // EXDEV fallback: a byte copy is the only way across filesystems. Logged by the caller's
  // progress, and documented: configure backup_dir on the install dir's filesystem to avoid it.
  const st = await fsp.lstat(from);
  const tmp = path.join(path.dirname(to), `${shortEntryName(path.basename(to))}.upkeep-xdev`);
  await fsp.rm(tmp, { force: true });
  if (st.isSymbolicLink()) {
    await fsp.symlink(await fsp.readlink(from), tmp);
  } else if (st.isFile()) {
    await fsp.copyFile(from, tmp);
    await fsp.chmod(tmp, st.mode & 0o7777);
    await fsyncFile(tmp);
  } else {
    throw new Error(`cannot move ${from} across filesystems (not a file)`);
  }
  await fsp.rename(tmp, to);
  await fsyncDir(path.dirname(to));
  await fsp.unlink(from);
}

/** Longest name of one directory entry, in bytes (NAME_MAX on Linux, macOS and the BSDs). */
export const NAME_MAX_BYTES = 255;

/**
 * `name` itself when its UTF-8 stays at most 180 bytes, else 24 hex digits of its SHA-256: the
 * base of a temporary sibling name (`.<name>.upkeep-<op>`) that must fit NAME_MAX_BYTES also
 * for the longest names a release may hold. Bytes count, not UTF-16 units: 'é' is 2 bytes.
 */
export function shortEntryName(name: string): string {
  return Buffer.byteLength(name, 'utf8') > 180 ? sha256Hex(name).slice(0, 24) : name;
}

/**
 * `name` followed by `suffix`, `name` cut at a code point boundary so the whole fits
 * NAME_MAX_BYTES bytes of UTF-8 (a kept local copy `<name>.local-<date>` of a long name).
 */
export function fitName(name: string, suffix: string): string {
  const room = NAME_MAX_BYTES - Buffer.byteLength(suffix, 'utf8');
  if (Buffer.byteLength(name, 'utf8') <= room) return name + suffix;
  let out = '';
  let bytes = 0;
  for (const ch of name) {
    const b = Buffer.byteLength(ch, 'utf8');
    if (bytes + b > room) break;
    out += ch;
    bytes += b;
  }
  return out + suffix;
}

/**
 * rm -rf that tolerates a missing path. The files of a tree (a rollback point can hold 10,000)
 * are unlinked a directory per worker, RMRF_WORKERS directories at a time, then the directories
 * deepest first; symbolic links are removed, never followed. (Measured on ext4 with a cold cache:
 * unlinking 10,000 files in 100 directories took 2.0 s one at a time, 1.4 s with 16 unlinks in
 * flight in any order, 0.8 s with 8 workers each emptying one directory — the inodes of one
 * directory lie together on disk.)
 */
export async function rmrf(p: string): Promise<void> {
  const files: string[][] = [];
  const dirs: string[] = [];
  const visit = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await fsp.readdir(d, { withFileTypes: true });
    } catch (err) {
      if (isCode(err, 'ENOENT')) return;
      if (isCode(err, 'ENOTDIR')) {
        files.push([d]); // a file or a link where a directory was: removed as it is
        return;
      }
      throw err;
    }
    dirs.push(d);
    const here: string[] = [];
    for (const e of entries) {
      if (e.isDirectory()) await visit(path.join(d, e.name));
      else here.push(path.join(d, e.name));
    }
    if (here.length > 0) files.push(here);
  };
  let st;
  try {
    st = await fsp.lstat(p);
  } catch (err) {
    if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return;
    throw err;
  }
  if (!st.isDirectory()) return fsp.rm(p, { force: true }); // a file, or a link (never followed)
  await visit(p);
  await mapLimit(files, RMRF_WORKERS, async (group) => {
    for (const f of group) {
      try {
        await fsp.unlink(f);
      } catch (err) {
        if (!isCode(err, 'ENOENT')) throw err;
      }
    }
  });
  for (const d of dirs.reverse()) await fsp.rm(d, { recursive: true, force: true }); // empty by now (anything added meanwhile goes too)
}

/** Unlinks a file or link (synchronously, fs/meta.ts); nothing there is fine. Other errors are thrown. */
export function unlinkQuiet(p: string): void {
  try {
    unlinkSync(p);
  } catch (err) {
    if (!isCode(err, 'ENOENT')) throw err;
  }
}

/** Removes `dir` if it is empty; true when it is gone afterwards. Never throws for ENOENT/ENOTEMPTY. */
export async function rmdirIfEmpty(dir: string): Promise<boolean> {
  try {
    rmdirSync(dir);
    return true;
  } catch (err) {
    if (isCode(err, 'ENOENT')) return true;
    if (isCode(err, 'ENOTEMPTY') || isCode(err, 'EEXIST') || isCode(err, 'ENOTDIR')) return false;
    throw err;
  }
}

/**
 * Removes the empty parent directories of `relPaths` inside `root`, deepest first, stopping at
 * `root` (never removed) or at the first non-empty directory. Directories holding user files stay.
 * A directory at or below one of `files` (the tree now installed names a file or link there,
 * compared as a case-insensitive volume would: `lib/` became the file `LIB`) is not looked up:
 * it cannot be a directory, and exfat-fuse answers a lookup of the old name with the removed
 * directory and then aborts, taking the whole volume away.
 */
export async function pruneEmptyParents(root: string, relPaths: Iterable<string>, files: Iterable<string> = []): Promise<string[]> {
  const dirs = new Set<string>();
  for (const rel of relPaths) {
    let d = path.posix.dirname(rel);
    while (d !== '.' && d !== '/' && d !== '') {
      dirs.add(d);
      d = path.posix.dirname(d);
    }
  }
  const fileKeys = new Set([...files].map(pathCollisionKey));
  const underFile = (d: string): boolean => {
    for (let x = d; x !== '.'; x = path.posix.dirname(x)) if (fileKeys.has(pathCollisionKey(x))) return true;
    return false;
  };
  const ordered = [...dirs].sort((a, b) => b.split('/').length - a.split('/').length || (a < b ? 1 : -1));
  const removed: string[] = [];
  for (const d of ordered) {
    const abs = path.join(root, d);
    if (underFile(d) || !(await lexists(abs))) continue;
    if (await rmdirIfEmpty(abs)) {
      removed.push(d);
      await fsyncDirs([path.dirname(abs)]);
    }
  }
  return removed;
}

/**
 * Refuses to write through symlinks: for each relative path, every existing parent component
 * inside `installDir` that is a symlink must resolve inside the install dir, and the destination
 * itself must not be a symlink resolving (or dangling) outside it unless it is in `managed` (then it
 * is replaced by renaming the link, never followed). Throws VerificationError ERR_UNSAFE_PATH, or
 * OperationError ERR_APPLY_FAILED when an unmanaged file stands where a directory must go, before
 * anything is changed.
 */
export async function assertSafePaths(installDir: string, relPaths: Iterable<string>, managed?: ReadonlySet<string>): Promise<void> {
  let realRoot: string;
  try {
    realRoot = await fsp.realpath(installDir);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return; // nothing exists yet: nothing to write through
    throw err;
  }
  const checked = new Map<string, boolean>(); // absolute component -> safe
  const unsafe = (rel: string, why: string): never => {
    throw new VerificationError('ERR_UNSAFE_PATH', `refusing to write ${rel}: ${why}`, { path: rel });
  };
  const safeLink = async (abs: string): Promise<boolean> => {
    const hit = checked.get(abs);
    if (hit !== undefined) return hit;
    let ok: boolean;
    try {
      ok = isWithin(realRoot, await fsp.realpath(abs));
    } catch {
      // Dangling or looping link: judge by where its literal target points.
      const target = path.resolve(path.dirname(abs), await fsp.readlink(abs));
      ok = isWithin(realRoot, target) && isWithin(installDir, target);
    }
    checked.set(abs, ok);
    return ok;
  };
  // lstat of each directory component once, however many paths share it.
  const kinds = new Map<string, 'missing' | 'notdir' | 'link' | 'other'>();
  const kindOf = (abs: string): 'missing' | 'notdir' | 'link' | 'other' => {
    let k = kinds.get(abs);
    if (!k) {
      try {
        k = lstatSync(abs).isSymbolicLink() ? 'link' : 'other';
      } catch (err) {
        if (isCode(err, 'ENOENT')) k = 'missing';
        else if (isCode(err, 'ENOTDIR')) k = 'notdir';
        else throw err;
      }
      kinds.set(abs, k);
    }
    return k;
  };
  const rels = [...relPaths];
  for (const rel of rels) assertSafeRelativePath(rel);
  // Each component is looked at once (lstat, synchronously: fs/meta.ts), in order.
  const breather = new Breather();
  for (const rel of rels) {
    await breather.tick();
    const segs = rel.split('/');
    let cur = installDir;
    for (let i = 0; i < segs.length; i++) {
      cur = path.join(cur, segs[i]);
      const kind = kindOf(cur);
      if (kind === 'missing') break;
      if (kind === 'notdir') {
        // A layout conflict, not an attack: a file Upkeep does not manage sits where a directory goes.
        throw new OperationError('ERR_APPLY_FAILED', `cannot install ${rel}: ${segs.slice(0, i).join('/')} is a file Upkeep does not manage; move it away first`, { path: rel });
      }
      // A managed entry is replaced by a rename of the entry itself, never written through.
      if (kind === 'link' && i === segs.length - 1 && managed?.has(rel)) break;
      if (kind === 'link' && !(await safeLink(cur))) {
        unsafe(rel, i === segs.length - 1 ? 'it is a symlink pointing outside the install dir' : `${segs.slice(0, i + 1).join('/')} is a symlink leading outside the install dir`);
      }
    }
  }
}

/** Every regular file and symlink under `dir` (relative POSIX paths) with lstat sizes; missing dir = empty. */
export async function walkFiles(dir: string): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  const visit = async (abs: string, rel: string): Promise<void> => {
    let entries;
    try {
      entries = await fsp.readdir(abs, { withFileTypes: true });
    } catch (err) {
      if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return;
      throw err;
    }
    for (const e of entries) {
      const a = path.join(abs, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await visit(a, r);
      else out.push({ path: r, size: lstatOrNull(a)?.size ?? 0 });
    }
  };
  await visit(dir, '');
  return out;
}

/** Total bytes of the files under `dir`. */
export async function dirBytes(dir: string): Promise<number> {
  return (await walkFiles(dir)).reduce((s, f) => s + f.size, 0);
}

/** Absolute path of a relative POSIX path under `root`. */
export function under(root: string, rel: string): string {
  // Joined as strings when both are already normal (the common case, 10,000s of times per apply).
  if (rel !== '' && plainPosix(root) && !ODD_REL_RE.test(rel)) return root === '/' ? `/${rel}` : `${root}/${rel}`;
  return path.join(root, ...rel.split('/'));
}

/** A relative path with an empty, `.` or `..` segment, or a leading or trailing `/`. */
const ODD_REL_RE = /(^|\/)\.\.?(\/|$)|\/\/|^\/|\/$/;

/**
 * Writes the entries of one archive into an empty destination directory, enforcing every rule
 * the extractor promises: paths that pass the manifest path rules (`trust/paths.ts`), no entry
 * written through a symbolic link or below a file, symbolic links whose targets — followed
 * through the other links of the same archive — stay inside the root, hard links only to files
 * extracted earlier (materialised as copies), bounded entry count, total bytes and
 * decompression ratio, and modes without setuid/setgid/sticky/world-writable bits.
 *
 * The writer keeps its own map of everything it created, keyed case-insensitively like the
 * manifest collision rule; since the destination starts empty and nothing is ever opened
 * through a link (files are created with O_EXCL | O_NOFOLLOW below directories this writer
 * made), that map is the truth about the tree on disk.
 */
import { createHash } from 'node:crypto';
import { constants as fsc, promises as fsp } from 'node:fs';
import path from 'node:path';
import { OperationError, UpkeepError, VerificationError } from '../../../src-shared/errors';
import { ARCHIVE_RATIO_GRACE_BYTES, type ArchiveLimits } from '../limits';
import { MAX_PATH_LENGTH, pathCollisionKey, unsafePathReason } from '../trust/paths';
import { PATH_MAX_BYTES } from '../apply/path-limit';
import { diskFullError, isDiskFull } from '../fs/space';

/** One extracted entry, as reported to callers. */
export interface ExtractedEntry {
  /** '/'-separated path relative to the destination directory. */
  path: string;
  type: 'file' | 'directory' | 'symlink';
  /** Bytes (files; 0 for directories and links). */
  size: number;
  /** Permission bits as written (at most 0o775; see `safeMode`). */
  mode: number;
  /** Lower-case hex SHA-256 of the file's bytes (files only). */
  sha256?: string;
  /** The link target exactly as stored in the archive (symlinks only). */
  target?: string;
}

/** Most symbolic links followed while resolving one link target (as Linux's MAXSYMLINKS). */
const MAX_LINK_HOPS = 40;
/** Bits refused by FEED-FORMAT (setuid, setgid, sticky, world-writable); cleared here. */
const CLEARED_BITS = 0o7002;

/** The ERR_UNSAFE_ARCHIVE error naming the archive, the entry (if any) and the reason. */
export function unsafeArchive(archive: string, reason: string, entry?: string): VerificationError {
  const where = entry === undefined ? '' : ` entry ${JSON.stringify(entry.slice(0, 200))}`;
  return new VerificationError('ERR_UNSAFE_ARCHIVE', `Refused archive ${path.basename(archive)}${where}: ${reason}`, {
    archive: path.basename(archive),
    ...(entry === undefined ? {} : { entry: entry.slice(0, 200) }),
    reason,
  });
}

/**
 * The permission bits written for an archive mode: setuid, setgid, sticky and world-writable
 * bits are cleared (an archive from an upstream project is not refused for a careless 0666),
 * and the owner can always read files and enter and write directories, so the tree can be
 * hashed, applied and cleaned up by the user Upkeep runs as.
 */
export function safeMode(raw: number, type: 'file' | 'directory'): number {
  const bits = (raw & 0o7777 & ~CLEARED_BITS) >>> 0;
  return type === 'directory' ? bits | 0o700 : bits | 0o400;
}

type Node = { type: 'file' | 'directory' | 'symlink'; path: string; abs?: string; mode?: number; sha256?: string; size?: number; target?: string };

export interface TreeWriterOptions {
  archive: string;
  destDir: string;
  archiveBytes: number;
  limits: ArchiveLimits;
  stripComponents: number;
  signal?: AbortSignal;
}

export class TreeWriter {
  private readonly nodes = new Map<string, Node>();
  private readonly entries: ExtractedEntry[] = [];
  private entryCount = 0;
  private totalBytes = 0;
  private decompressed = 0;

  constructor(private readonly o: TreeWriterOptions) {}

  /** Throws ERR_CANCELLED when the caller's signal fired. */
  checkCancelled(): void {
    if (this.o.signal?.aborted) throw new OperationError('ERR_CANCELLED', `Extraction of ${path.basename(this.o.archive)} cancelled`);
  }

  /** Counts one archive entry against `maxEntries`. */
  countEntry(name: string): void {
    this.entryCount++;
    if (this.entryCount > this.o.limits.maxEntries) throw this.refuse(`more than ${this.o.limits.maxEntries} entries`, name);
  }

  /** Counts decompressed bytes against `maxRatio` × the archive's size. */
  noteDecompressed(bytes: number): void {
    this.decompressed += bytes;
    const allowed = Math.max(ARCHIVE_RATIO_GRACE_BYTES, this.o.limits.maxRatio * this.o.archiveBytes);
    if (this.decompressed > allowed) {
      throw this.refuse(`decompresses to more than ${this.o.limits.maxRatio} times its size of ${this.o.archiveBytes} bytes (compression bomb?)`);
    }
  }

  refuse(reason: string, entry?: string): VerificationError {
    return unsafeArchive(this.o.archive, reason, entry);
  }

  /**
   * Normalises an archive entry name: a leading './', '.' segments and a trailing '/' are
   * dropped; absolute names, '..' segments, anything `unsafePathReason` refuses and names whose
   * full path under the destination exceeds PATH_MAX throw ERR_UNSAFE_ARCHIVE. Returns null for
   * the root itself and for names consumed entirely by `stripComponents`.
   */
  normalise(raw: string): string | null {
    if (raw.length === 0) throw this.refuse('empty entry name');
    if (raw.length > MAX_PATH_LENGTH) throw this.refuse(`name longer than ${MAX_PATH_LENGTH} characters`, raw);
    if (raw.startsWith('/')) throw this.refuse('absolute path', raw);
    if (raw.includes('\0')) throw this.refuse('name contains NUL', raw);
    const segs = raw.split('/').filter((s, i, all) => s !== '.' && !(s === '' && i === all.length - 1));
    if (segs.includes('..')) throw this.refuse('".." segment (path traversal)', raw);
    if (segs.length === 0) return null;
    if (segs.length <= this.o.stripComponents) return null;
    const p = segs.slice(this.o.stripComponents).join('/');
    const reason = unsafePathReason(p);
    if (reason !== null) throw this.refuse(reason, raw);
    // Valid alone, but the kernel would refuse it under the destination (ENAMETOOLONG).
    const full = Buffer.byteLength(path.join(this.o.destDir, p), 'utf8');
    if (full > PATH_MAX_BYTES) throw this.refuse(`the full path would be ${full} bytes; this system allows at most ${PATH_MAX_BYTES} (PATH_MAX)`, raw);
    return p;
  }

  /** A directory entry (repeated directory entries are merged; the last mode wins). */
  async addDirectory(raw: string, rawMode: number): Promise<void> {
    this.checkCancelled();
    const p = this.normalise(raw);
    if (p === null) return;
    const mode = safeMode(rawMode, 'directory');
    const existing = this.nodes.get(pathCollisionKey(p));
    if (existing !== undefined) {
      if (existing.type !== 'directory' || existing.path !== p) throw this.collision(raw, existing);
      existing.mode = mode;
      this.entryFor(existing).mode = mode;
      return;
    }
    await this.ensureParents(p, raw);
    await this.fsOp(() => fsp.mkdir(this.abs(p), { mode: 0o700 }), p);
    this.record({ type: 'directory', path: p, mode });
  }

  /**
   * A regular file: created exclusively (never through a link), its bytes streamed from `data`,
   * hashed and counted while written; more bytes than `declaredSize` or than the total bound
   * refuse the archive.
   */
  async addFile(raw: string, rawMode: number, declaredSize: number, data: AsyncIterable<Buffer>): Promise<void> {
    this.checkCancelled();
    const p = this.normalise(raw);
    if (p === null) return drain(data);
    this.claim(p, raw);
    this.reserveBytes(declaredSize, raw);
    await this.ensureParents(p, raw);
    const abs = this.abs(p);
    const mode = safeMode(rawMode, 'file');
    const hash = createHash('sha256');
    let written = 0;
    const fh = await this.fsOp(() => fsp.open(abs, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600), p);
    this.nodes.set(pathCollisionKey(p), { type: 'file', path: p, abs, mode });
    try {
      for await (const chunk of data) {
        this.checkCancelled();
        written += chunk.length;
        if (written > declaredSize) throw this.refuse(`more data than the ${declaredSize} bytes its header declares`, raw);
        hash.update(chunk);
        await this.fsOp(() => fh.write(chunk), p);
      }
      if (written !== declaredSize) throw this.refuse(`${written} bytes where its header declares ${declaredSize}`, raw);
      await this.fsOp(() => fh.chmod(mode), p);
    } finally {
      await fh.close();
    }
    const sha256 = hash.digest('hex');
    this.record({ type: 'file', path: p, abs, mode, sha256, size: written });
  }

  /**
   * A symbolic link. The target must be relative and '/'-separated (no NUL, backslash, drive
   * letter or control character); whether it stays inside the root is decided in `finish`,
   * once every link of the archive is known.
   */
  async addSymlink(raw: string, target: string): Promise<void> {
    this.checkCancelled();
    const p = this.normalise(raw);
    if (p === null) return;
    const why = unsafeTargetReason(target);
    if (why !== null) throw this.refuse(`symbolic link target ${JSON.stringify(target.slice(0, 200))}: ${why}`, raw);
    this.claim(p, raw);
    await this.ensureParents(p, raw);
    await this.fsOp(() => fsp.symlink(target, this.abs(p)), p);
    this.record({ type: 'symlink', path: p, target });
  }

  /**
   * A hard link: allowed only to a regular file extracted earlier from the same archive (by its
   * archive name, after `stripComponents`), and written as an independent copy so the tree
   * holds plain files and links only.
   */
  async addHardLink(raw: string, rawTarget: string): Promise<void> {
    this.checkCancelled();
    const p = this.normalise(raw);
    if (p === null) return;
    if (rawTarget.length === 0) throw this.refuse('hard link with an empty target', raw);
    let targetPath: string | null;
    try {
      targetPath = this.normalise(rawTarget);
    } catch (err) {
      throw this.refuse(`hard link target ${JSON.stringify(rawTarget.slice(0, 200))} is unsafe: ${(err as UpkeepError).details?.reason}`, raw);
    }
    const target = targetPath === null ? undefined : this.nodes.get(pathCollisionKey(targetPath));
    if (target === undefined || target.type !== 'file' || target.path !== targetPath || target.sha256 === undefined) {
      throw this.refuse(`hard link to ${JSON.stringify(rawTarget.slice(0, 200))}, which is not a file extracted earlier from this archive`, raw);
    }
    this.claim(p, raw);
    this.reserveBytes(target.size ?? 0, raw);
    await this.ensureParents(p, raw);
    const abs = this.abs(p);
    await this.fsOp(() => fsp.copyFile(target.abs!, abs, fsc.COPYFILE_EXCL), p);
    await this.fsOp(() => fsp.chmod(abs, target.mode!), p);
    this.record({ type: 'file', path: p, abs, mode: target.mode!, sha256: target.sha256, size: target.size ?? 0 });
  }

  /**
   * Checks every symbolic link against the final tree (a link may be made unsafe by a later
   * entry) and returns the entries in archive order, implicit parent directories included.
   */
  finish(): ExtractedEntry[] {
    for (const node of this.nodes.values()) {
      if (node.type !== 'symlink') continue;
      const why = this.linkEscapes(node.path);
      if (why !== null) throw this.refuse(`symbolic link to ${JSON.stringify(node.target!.slice(0, 200))} ${why}`, node.path);
    }
    return this.entries;
  }

  /** Follows `linkPath` through the archive's links; a reason when it leaves the root, else null. */
  private linkEscapes(linkPath: string): string | null {
    let hops = 0;
    const walk = (stack: string[], segments: string[]): string | null => {
      for (const seg of segments) {
        if (seg === '' || seg === '.') continue;
        if (seg === '..') {
          if (stack.length === 0) return 'leaves the extraction root';
          stack.pop();
          continue;
        }
        stack.push(seg);
        const node = this.nodes.get(pathCollisionKey(stack.join('/')));
        if (node?.type === 'symlink') {
          if (++hops > MAX_LINK_HOPS) return `passes through more than ${MAX_LINK_HOPS} links (a loop?)`;
          stack.pop();
          const why = walk(stack, node.target!.split('/'));
          if (why !== null) return why;
        }
      }
      return null;
    };
    const link = this.nodes.get(pathCollisionKey(linkPath))!;
    hops++;
    return walk(linkPath.split('/').slice(0, -1), link.target!.split('/'));
  }

  /** Creates missing parents of `p` (recorded as directories); a parent that is a link or file refuses. */
  private async ensureParents(p: string, raw: string): Promise<void> {
    const segs = p.split('/');
    for (let i = 1; i < segs.length; i++) {
      const dir = segs.slice(0, i).join('/');
      const node = this.nodes.get(pathCollisionKey(dir));
      if (node === undefined) {
        await this.fsOp(() => fsp.mkdir(this.abs(dir), { mode: 0o700 }), dir);
        this.record({ type: 'directory', path: dir, mode: 0o755 });
        continue;
      }
      if (node.type === 'symlink') throw this.refuse(`written through the symbolic link "${node.path}"`, raw);
      if (node.type === 'file') throw this.refuse(`"${node.path}" is a file, not a directory`, raw);
      if (node.path !== dir) throw this.collision(raw, node);
    }
  }

  /** Refuses a second entry at `p` (or at a path equal to it case-insensitively). */
  private claim(p: string, raw: string): void {
    const existing = this.nodes.get(pathCollisionKey(p));
    if (existing !== undefined) throw this.collision(raw, existing);
  }

  private collision(raw: string, existing: Node): VerificationError {
    const why = existing.path === this.normalise(raw) ? `a second entry for "${existing.path}"` : `collides with "${existing.path}" on a case-insensitive file system`;
    return this.refuse(why, raw);
  }

  private reserveBytes(size: number, raw: string): void {
    if (!Number.isSafeInteger(size) || size < 0) throw this.refuse(`invalid size ${size}`, raw);
    if (this.totalBytes + size > this.o.limits.maxTotalBytes) {
      throw this.refuse(`extracted files would exceed ${this.o.limits.maxTotalBytes} bytes`, raw);
    }
    this.totalBytes += size;
  }

  private record(n: Node): void {
    this.nodes.set(pathCollisionKey(n.path), n);
    const e: ExtractedEntry = { path: n.path, type: n.type, size: n.size ?? 0, mode: n.type === 'symlink' ? 0o777 : n.mode! };
    if (n.sha256 !== undefined) e.sha256 = n.sha256;
    if (n.target !== undefined) e.target = n.target;
    this.entries.push(e);
  }

  private entryFor(n: Node): ExtractedEntry {
    return this.entries.find((e) => e.path === n.path)!;
  }

  /** Directories are written owner-only while extracting; this gives them their final modes. */
  async applyDirectoryModes(): Promise<void> {
    const dirs = this.entries.filter((e) => e.type === 'directory').sort((a, b) => b.path.length - a.path.length);
    for (const d of dirs) await this.fsOp(() => fsp.chmod(this.abs(d.path), d.mode), d.path);
  }

  private abs(p: string): string {
    return path.join(this.o.destDir, ...p.split('/'));
  }

  /**
   * Runs a filesystem call; ENOSPC/EDQUOT become ERR_DISK_FULL naming the destination and the
   * bytes of the files declared so far (at least what the extraction needs); other failures that
   * are not Upkeep's own become ERR_APPLY_FAILED.
   */
  private async fsOp<T>(fn: () => Promise<T>, p: string): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof UpkeepError) throw err;
      const e = err as NodeJS.ErrnoException;
      // A full disk is not a broken archive or a failed apply: it says where and how much.
      if (isDiskFull(e)) throw diskFullError(this.o.destDir, this.totalBytes);
      throw new OperationError('ERR_APPLY_FAILED', `Cannot write ${p} while extracting ${path.basename(this.o.archive)}: ${e.message}`, {
        path: p,
        cause: e.code,
      });
    }
  }
}

/** Why a symbolic link target is not acceptable on its face, or null. */
export function unsafeTargetReason(target: string): string | null {
  if (target.length === 0) return 'empty target';
  if (target.length > MAX_PATH_LENGTH) return `longer than ${MAX_PATH_LENGTH} characters`;
  if (target.includes('\0')) return 'contains NUL';
  if (target.startsWith('/')) return 'absolute target';
  if (target.includes('\\')) return 'contains a backslash';
  if (/^[A-Za-z]:/.test(target)) return 'starts with a drive letter';
  if (/[\p{Cc}\p{Cf}\p{Cs}]/u.test(target)) return 'contains a control or invisible character';
  return null;
}

async function drain(data: AsyncIterable<Buffer>): Promise<void> {
  for await (const chunk of data) void chunk;
}

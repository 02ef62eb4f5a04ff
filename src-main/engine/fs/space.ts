/**
 * Free space: a disk-full condition (ENOSPC, EDQUOT) is never a network error and never worth a
 * retry. It becomes ERR_DISK_FULL naming the directory and the bytes needed, and operations
 * check free space up front (download + staging + backup) so they refuse before writing.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { OperationError } from '../../../src-shared/errors';

/** True for "no space left" and "quota exceeded" errors (also when wrapped as `cause`). */
export function isDiskFull(err: unknown): boolean {
  let e: unknown = err;
  for (let i = 0; i < 3 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * ERR_DISK_FULL for `dir`: details `{ dir, bytes_needed, bytes_free? }` (bytes). The message says
 * how much space to free.
 */
export function diskFullError(dir: string, bytesNeeded: number, bytesFree?: number): OperationError {
  const free = bytesFree === undefined ? '' : ` (${bytesFree} bytes free)`;
  return new OperationError('ERR_DISK_FULL', `not enough disk space in ${dir}: ${bytesNeeded} bytes needed${free}; nothing was switched`, {
    dir,
    bytes_needed: bytesNeeded,
    ...(bytesFree === undefined ? {} : { bytes_free: bytesFree }),
  });
}

/** The nearest existing directory at or above `dir`. */
async function existingAncestor(dir: string): Promise<{ dir: string; dev: number }> {
  let d = path.resolve(dir);
  for (;;) {
    try {
      const st = await fsp.stat(d);
      return { dir: d, dev: st.dev };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
    }
    const up = path.dirname(d);
    if (up === d) return { dir: d, dev: -1 };
    d = up;
  }
}

/** Bytes an unprivileged writer may still use on the filesystem holding `dir` (statfs bavail × bsize). */
export async function freeBytes(dir: string): Promise<number> {
  const at = await existingAncestor(dir);
  const st = await fsp.statfs(at.dir);
  return Number(st.bavail) * Number(st.bsize);
}

/**
 * The allocation unit of the filesystem holding `dir` (statfs `bsize`, bytes; 4096 when the
 * filesystem reports none): every non-empty file takes whole blocks, so 1,000 files of 10 bytes
 * need 4 MB of a tmpfs or ext4, not 10 kB.
 */
export async function blockSize(dir: string): Promise<number> {
  const st = await fsp.statfs((await existingAncestor(dir)).dir);
  return Number(st.bsize) > 0 ? Number(st.bsize) : 4096;
}

/** Bytes that a file of `size` bytes takes on disk in blocks of `block` bytes. */
export function allocated(size: number, block: number): number {
  return Math.ceil(size / block) * block;
}

/** Fixed allowance per filesystem for journals, directories and metadata (bytes). */
export const SPACE_MARGIN = 1024 * 1024;

/** Fixed allowance of inodes per filesystem for journals, phase records and temp files. */
export const INODE_MARGIN = 16;

/**
 * Checks that every filesystem has room for what will be written to it: the needs are summed per
 * filesystem (device id), plus SPACE_MARGIN bytes; `entries` (files and directories to create)
 * likewise against the free inodes, plus INODE_MARGIN, where the filesystem counts inodes
 * (statfs `files` > 0; btrfs and others report none). Throws ERR_DISK_FULL naming the first
 * directory of a filesystem that is short: bytes needed and free, or (details `entries_needed`,
 * `entries_free`) inodes.
 */
export async function assertFreeSpace(needs: ReadonlyArray<{ dir: string; bytes: number; entries?: number }>): Promise<void> {
  const byDev = new Map<number, { dir: string; bytes: number; entries: number }>();
  for (const n of needs) {
    const entries = n.entries ?? 0;
    if (n.bytes <= 0 && entries <= 0) continue;
    const at = await existingAncestor(n.dir);
    const cur = byDev.get(at.dev);
    if (cur) {
      cur.bytes += n.bytes;
      cur.entries += entries;
    } else byDev.set(at.dev, { dir: n.dir, bytes: n.bytes, entries });
  }
  for (const need of byDev.values()) {
    const st = await fsp.statfs((await existingAncestor(need.dir)).dir);
    const free = Number(st.bavail) * Number(st.bsize);
    const total = need.bytes + SPACE_MARGIN;
    if (need.bytes > 0 && free < total) throw diskFullError(need.dir, total, free);
    if (need.entries > 0 && Number(st.files) > 0 && Number(st.ffree) < need.entries + INODE_MARGIN) {
      const wanted = need.entries + INODE_MARGIN;
      throw new OperationError('ERR_DISK_FULL', `not enough free inodes in ${need.dir}: ${wanted} files and directories to create (${Number(st.ffree)} free); nothing was switched`, {
        dir: need.dir, bytes_needed: need.bytes, entries_needed: wanted, entries_free: Number(st.ffree),
      });
    }
  }
}

/** The device id of the filesystem holding `dir` (or its nearest existing ancestor). */
export async function deviceOf(dir: string): Promise<number> {
  return (await existingAncestor(dir)).dev;
}

/**
 * The disk-full error hidden behind an ENOENT: Node's asynchronous recursive mkdir reports ENOENT
 * when the filesystem has no space or no free inode left for a directory it must create. Returns
 * ERR_DISK_FULL (details `{ dir }`, the nearest existing directory) when `err` is such an ENOENT
 * and that filesystem is indeed full (no free block or no free inode); otherwise `err` itself.
 */
export async function diskFullCause(err: unknown): Promise<unknown> {
  const e = err as NodeJS.ErrnoException | null;
  if (!e || typeof e !== 'object' || e.code !== 'ENOENT' || e.syscall !== 'mkdir' || typeof e.path !== 'string') return err;
  try {
    const at = await existingAncestor(path.dirname(e.path));
    const st = await fsp.statfs(at.dir);
    if (Number(st.bavail) > 0 && Number(st.ffree) > 0) return err;
    return new OperationError('ERR_DISK_FULL', `no space or no free inode left in ${at.dir} to create ${e.path}; free some space and try again`, { dir: at.dir });
  } catch {
    return err;
  }
}

/**
 * The operating system's limit on the length of a whole path (PATH_MAX), checked before an apply
 * changes anything. Manifest paths are bounded on their own (trust/paths.ts: 4096 characters,
 * 255 bytes per segment), but the install dir, the staging names (`.<name>.upkeep-<op>`), the
 * versioned layout's `versions/<v>/` and the rollback point's `files/` directory are added in
 * front: a release path can be fine alone and still make a path the kernel refuses with
 * ENAMETOOLONG half-way through an operation. Every such case becomes ERR_UNSAFE_PATH naming the
 * release path, before the first byte is written.
 */
import path from 'node:path';
import { VerificationError } from '../../../src-shared/errors';
import type { Journal } from './journal';
import { isCode } from './tree';

/**
 * Longest absolute path accepted, in bytes of UTF-8 without the terminating NUL: PATH_MAX - 1
 * (PATH_MAX is 4096 on Linux and 1024 on macOS and the BSDs, counting the NUL).
 */
export const PATH_MAX_BYTES = (process.platform === 'linux' || process.platform === 'win32' ? 4096 : 1024) - 1;

/** At most `max` characters of `p`, eliding the middle ("/install/aaa…aaa/file.txt"). */
function shorten(p: string, max = 200): string {
  if (p.length <= max) return p;
  const half = Math.floor((max - 1) / 2);
  return `${p.slice(0, half)}…${p.slice(p.length - half)}`;
}

/**
 * The ERR_UNSAFE_PATH error for absolute path `abs` (of `bytes` bytes) that is too long for this
 * system; `rel` is the release path it belongs to, when known. `details`: `path` (release path or
 * the absolute one, shortened), `bytes`, `max_bytes`, `reason`.
 */
export function pathTooLongError(abs: string, bytes: number, rel?: string): VerificationError {
  const reason = bytes > PATH_MAX_BYTES
    ? `the full path would be ${bytes} bytes; this system allows at most ${PATH_MAX_BYTES} (PATH_MAX)`
    : 'the file system refused it as too long (ENAMETOOLONG)';
  const shown = shorten(rel ?? abs);
  return new VerificationError('ERR_UNSAFE_PATH', `Path too long for this system: ${JSON.stringify(shown)} (${reason})`, {
    path: shown,
    bytes,
    max_bytes: PATH_MAX_BYTES,
    reason,
  });
}

/** Throws pathTooLongError unless absolute path `abs` fits PATH_MAX_BYTES. */
export function assertPathFits(abs: string, rel?: string): void {
  const bytes = Buffer.byteLength(abs, 'utf8');
  if (bytes > PATH_MAX_BYTES) throw pathTooLongError(abs, bytes, rel);
}

/**
 * Checks every release path placed under `root` (the install dir, or the version directory of a
 * versioned apply): ERR_UNSAFE_PATH for the first whose full path does not fit.
 */
export function assertTreeFits(root: string, rels: readonly string[]): void {
  for (const rel of rels) assertPathFits(path.join(root, rel), rel);
}

/** The release-relative form of `abs` when it lies under `root`, else undefined. */
function relativeTo(root: string, abs: string): string | undefined {
  const rel = path.relative(root, abs);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : undefined;
}

/**
 * Checks every path a planned journal will create or rename (staged names, backups under the
 * rollback point, created directories, links and their temporary names) against PATH_MAX_BYTES.
 * Throws ERR_UNSAFE_PATH for the first that does not fit; call it before the transaction runs.
 */
export function assertJournalFits(j: Journal): void {
  const paths: string[] = [...j.stage.map((s) => s.path), ...j.mkdirs, ...j.scratch, ...(j.backup_dir ? [j.backup_dir] : [])];
  for (const op of j.ops) {
    if (op.t === 'rename') paths.push(op.from, op.to);
    else if (op.t === 'link') paths.push(op.path, op.tmp);
    else paths.push(op.path);
  }
  for (const abs of paths) {
    // The release path is worked out only for the error (path.relative is costly at 10,000s of paths).
    const bytes = abs.length * 3 <= PATH_MAX_BYTES ? 0 : Buffer.byteLength(abs, 'utf8');
    if (bytes > PATH_MAX_BYTES) throw pathTooLongError(abs, bytes, relativeTo(j.install_dir, abs));
  }
}

/**
 * Runs `fn` (planning, which only reads the disk) and turns a raw ENAMETOOLONG from it into
 * ERR_UNSAFE_PATH naming the path the system refused.
 */
export async function mapNameTooLong<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!isCode(err, 'ENAMETOOLONG')) throw err;
    const abs = String((err as NodeJS.ErrnoException).path ?? '');
    throw pathTooLongError(abs, Buffer.byteLength(abs, 'utf8'));
  }
}

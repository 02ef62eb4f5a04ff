/**
 * Safe extraction of release archives (`.tar`, `.tar.gz`/`.tgz`, `.tar.xz`/`.txz`, `.zip`) into
 * an empty staging directory, for adapters whose sources publish archives (GitHub Releases).
 *
 * Rules (each refusal is VerificationError ERR_UNSAFE_ARCHIVE naming the archive, the entry and
 * the reason; the destination is emptied again on any failure, so nothing half-extracted stays):
 * - entry names pass the manifest path rules of `trust/paths.ts` after a leading './' and
 *   `stripComponents` leading segments are dropped: no absolute paths, no '..', no backslash,
 *   drive letter, NUL or Windows-reserved name, no two entries equal case-insensitively;
 * - nothing is written through a symbolic link or below a file, and every symbolic link's target
 *   is relative and, followed through the archive's other links, stays inside the root;
 * - hard links may only name a file extracted earlier from the same archive and are written as
 *   copies; device files, FIFOs and other entry kinds are refused;
 * - at most `maxEntries` entries, `maxTotalBytes` extracted bytes and `maxRatio` decompressed
 *   bytes per archive byte (defaults: `DEFAULT_ARCHIVE_LIMITS` in `engine/limits.ts`);
 * - setuid, setgid, sticky and world-writable bits are cleared, not refused (`safeMode`): the
 *   reported `mode` is what was written, so a manifest built from the entries passes the
 *   feed format's ERR_UNSAFE_MODE rule;
 * - malformed archives (bad checksums, truncated data, inconsistent zip records) are refused too.
 * Files are hashed (SHA-256) while written. Files are not fsynced: the caller applies the tree
 * under its own journal.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { NotFoundError, OperationError, UsageError } from '../../../src-shared/errors';
import { DEFAULT_ARCHIVE_LIMITS, type ArchiveLimits } from '../limits';
import { diskFullError, isDiskFull } from '../fs/space';
import { readTar } from './tar-reader';
import { TreeWriter, type ExtractedEntry } from './tree-writer';
import { readZip } from './zip-reader';

export type { ArchiveLimits } from '../limits';
export type { ExtractedEntry } from './tree-writer';

export type ArchiveFormat = 'tar' | 'tar.gz' | 'tar.xz' | 'zip';

export interface ExtractOptions {
  format: ArchiveFormat;
  /** Leading path segments dropped from every entry name (as `tar --strip-components`). */
  stripComponents?: number;
  limits?: Partial<ArchiveLimits>;
  signal?: AbortSignal;
}

/**
 * The archive format a file name (or the last segment of a URL path) stands for, by its
 * extension, case-insensitively: `.tar`, `.tar.gz`/`.tgz`, `.tar.xz`/`.txz`, `.zip`; else null.
 */
export function detectArchiveFormat(name: string): ArchiveFormat | null {
  const base = (name.split(/[?#]/)[0] ?? '').split('/').pop()!.toLowerCase();
  if (base.endsWith('.tar.gz') || base.endsWith('.tgz')) return 'tar.gz';
  if (base.endsWith('.tar.xz') || base.endsWith('.txz')) return 'tar.xz';
  if (base.endsWith('.tar')) return 'tar';
  if (base.endsWith('.zip')) return 'zip';
  return null;
}

/**
 * Extracts `archivePath` into `destDir` (created if missing; it must be empty) under the rules
 * above and returns the entries written, in archive order, parent directories the archive left
 * implicit included (mode 0o755).
 *
 * Throws: VerificationError ERR_UNSAFE_ARCHIVE (refused or malformed archive),
 * NotFoundError ERR_NOT_FOUND (no archive at `archivePath`), UsageError ERR_USAGE (`destDir`
 * not empty, bad options), OperationError ERR_CANCELLED (`signal` fired), ERR_DISK_FULL (no
 * space or inode left for the destination: `details.dir`, `bytes_needed`, what was written
 * removed) or ERR_APPLY_FAILED (the destination could not be written, or `xz` could not be started).
 */
export async function extractArchive(archivePath: string, destDir: string, o: ExtractOptions): Promise<ExtractedEntry[]> {
  const limits: ArchiveLimits = { ...DEFAULT_ARCHIVE_LIMITS, ...o.limits };
  const strip = o.stripComponents ?? 0;
  if (!Number.isInteger(strip) || strip < 0) throw new UsageError('ERR_USAGE', `stripComponents must be a whole number >= 0 (got ${strip})`);
  let archiveBytes: number;
  try {
    const st = await fsp.stat(archivePath);
    if (!st.isFile()) throw new UsageError('ERR_USAGE', `${archivePath} is not a regular file`);
    archiveBytes = st.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError('ERR_NOT_FOUND', `No archive at ${archivePath}`);
    throw err;
  }
  const created = await prepareDest(destDir);
  const writer = new TreeWriter({ archive: archivePath, destDir, archiveBytes, limits, stripComponents: strip, signal: o.signal });
  try {
    writer.checkCancelled();
    switch (o.format) {
      case 'tar':
        await readTar(archivePath, 'none', writer);
        break;
      case 'tar.gz':
        await readTar(archivePath, 'gzip', writer);
        break;
      case 'tar.xz':
        await readTar(archivePath, 'xz', writer);
        break;
      case 'zip':
        await readZip(archivePath, writer, limits);
        break;
      default:
        throw new UsageError('ERR_USAGE', `Unknown archive format ${JSON.stringify(o.format)}`);
    }
    writer.checkCancelled();
    const entries = writer.finish();
    await writer.applyDirectoryModes();
    return entries;
  } catch (err) {
    await removePartial(destDir, created);
    throw err;
  }
}

/** Creates `destDir` if missing (returns true then); an existing one must be an empty directory. */
async function prepareDest(destDir: string): Promise<boolean> {
  try {
    await fsp.mkdir(destDir, { mode: 0o700 });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      if (isDiskFull(err)) throw diskFullError(path.dirname(destDir), 4096); // a directory's first block
      throw new OperationError('ERR_APPLY_FAILED', `Cannot create ${destDir}: ${(err as Error).message}`);
    }
  }
  const st = await fsp.lstat(destDir);
  if (!st.isDirectory()) throw new UsageError('ERR_USAGE', `${destDir} exists and is not a directory`);
  if ((await fsp.readdir(destDir)).length > 0) throw new UsageError('ERR_USAGE', `${destDir} is not empty; archives are extracted into an empty directory`);
  return false;
}

/** Removes everything extracted (and `destDir` itself when this call created it). */
async function removePartial(destDir: string, created: boolean): Promise<void> {
  if (created) {
    await fsp.rm(destDir, { recursive: true, force: true });
    return;
  }
  for (const name of await fsp.readdir(destDir).catch(() => [] as string[])) {
    await fsp.rm(path.join(destDir, name), { recursive: true, force: true });
  }
}

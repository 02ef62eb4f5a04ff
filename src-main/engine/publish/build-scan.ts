/**
 * Walks a build directory into the list of files a release manifest will name: every regular file,
 * hashed while streaming, with its permission bits. Nothing is skipped silently: special files,
 * symlinks that leave the build or point at directories, and paths a client would refuse all stop
 * the scan with an error naming the file.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import { UsageError, VerificationError } from '../../../src-shared/errors';
import { DEFAULT_LIMITS } from '../limits';
import { assertSafeMode, checkSymlinkTargets } from '../trust/select';
import { checkManifestPaths, isWithin } from '../trust/paths';

export interface ScannedFile {
  /** Manifest path: relative to the build dir, `/`-separated. */
  path: string;
  /** Where the bytes are read from (the link target for an in-build symlink). */
  source: string;
  sha256: string;
  size: number;
  /** Permission bits (mode & 0o7777); 0 for a symbolic link. */
  mode: number;
  type: 'file' | 'executable' | 'symlink';
  /** A symbolic link's literal relative target (sha256 empty, size 0). */
  target?: string;
}

export interface BuildScan {
  files: ScannedFile[];
  bytes: number;
  /** Things worth telling the publisher that do not stop the publish (e.g. empty directories). */
  warnings: string[];
}

/** Streams a file once and returns its SHA-256 and byte count. */
export async function hashFile(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    const buf = chunk as Buffer;
    size += buf.length;
    hash.update(buf);
  }
  return { sha256: hash.digest('hex'), size };
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/**
 * Scans `buildDir` recursively and returns its files sorted by path (code-unit order), each hashed.
 * Symbolic links are recorded as links (manifest entries of type `symlink` with their relative
 * target) when they resolve inside the build, also through the build's other links; a link that
 * leaves it, or has an absolute target, is refused.
 * Throws ERR_USAGE (missing/empty build, special file, directory link, too many files) or
 * ERR_UNSAFE_PATH (link leaving the build, path a client would refuse) or ERR_UNSAFE_MODE (a file
 * with setuid, setgid or sticky bits or writable by everyone: fix the build's modes first).
 */
export async function scanBuild(buildDir: string, maxFiles: number = DEFAULT_LIMITS.maxManifestFiles): Promise<BuildScan> {
  let root: string;
  try {
    root = await fsp.realpath(buildDir);
    if (!(await fsp.stat(root)).isDirectory()) throw new UsageError('ERR_USAGE', `Build path ${buildDir} is not a directory`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError('ERR_USAGE', `Build directory ${buildDir} does not exist`);
    throw err;
  }
  const found: Array<{ rel: string; source: string; target?: string }> = [];
  const warnings: string[] = [];

  const walk = async (dir: string, relDir: string): Promise<void> => {
    const entries = await fsp.readdir(dir, { withFileTypes: true });
    if (entries.length === 0 && relDir !== '') {
      warnings.push(`Empty directory "${relDir}" is not published (a manifest lists files only)`);
    }
    for (const entry of entries) {
      const abs = path.join(dir, entry.name);
      const rel = relDir === '' ? entry.name : `${relDir}/${entry.name}`;
      const st = await fsp.lstat(abs);
      if (st.isDirectory()) {
        await walk(abs, rel);
      } else if (st.isFile()) {
        found.push({ rel, source: abs });
      } else if (st.isSymbolicLink()) {
        let target: string;
        try {
          target = await fsp.realpath(abs);
        } catch {
          throw new UsageError('ERR_USAGE', `Build file "${rel}" is a dangling symlink (to ${await fsp.readlink(abs)})`, { path: rel });
        }
        if (!isWithin(root, target)) {
          throw new VerificationError('ERR_UNSAFE_PATH', `Build file "${rel}" is a symlink that leaves the build directory (to ${target}); copy the file into the build instead`, { path: rel, target });
        }
        const literal = await fsp.readlink(abs);
        if (path.isAbsolute(literal)) {
          throw new VerificationError('ERR_UNSAFE_PATH', `Build file "${rel}" is a symlink with an absolute target (${literal}); make it relative so it stays inside the install dir`, { path: rel, target: literal });
        }
        const tst = await fsp.stat(target);
        if (!tst.isFile() && !tst.isDirectory()) {
          throw new UsageError('ERR_USAGE', `Build file "${rel}" is a symlink to ${kindOf(tst)}; only regular files, directories and links can be published`, { path: rel });
        }
        // Recorded as a link, never as a copy of what it points to.
        found.push({ rel, source: abs, target: literal.split(path.sep).join('/') });
      } else {
        throw new UsageError('ERR_USAGE', `Build file "${rel}" is ${kindOf(st)}; only regular files can be published`, { path: rel });
      }
      if (found.length > maxFiles) {
        throw new UsageError('ERR_USAGE', `The build has more than ${maxFiles} files, the most one manifest may list`);
      }
    }
  };
  await walk(root, '');

  if (found.length === 0) throw new UsageError('ERR_USAGE', `Build directory ${buildDir} contains no files`);
  found.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  // The clients' own path rules: a build the clients would refuse is never published.
  checkManifestPaths(found.map((f) => f.rel));

  checkSymlinkTargets(found.map((f) => (f.target !== undefined ? { path: f.rel, type: 'symlink', target: f.target } : { path: f.rel })));
  const files: ScannedFile[] = [];
  let bytes = 0;
  for (const f of found) {
    if (f.target !== undefined) {
      files.push({ path: f.rel, source: f.source, sha256: '', size: 0, mode: 0, type: 'symlink', target: f.target });
      continue;
    }
    const st = await fsp.stat(f.source);
    const { sha256, size } = await hashFile(f.source);
    if (size !== st.size) throw new UsageError('ERR_USAGE', `Build file "${f.rel}" changed while it was being read; publish from a finished build`, { path: f.rel });
    const mode = st.mode & 0o7777;
    assertSafeMode(f.rel, mode);
    files.push({ path: f.rel, source: f.source, sha256, size, mode, type: (mode & 0o111) !== 0 ? 'executable' : 'file' });
    bytes += size;
  }
  return { files, bytes, warnings };
}

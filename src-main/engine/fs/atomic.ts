/**
 * Durable file primitives. Every write of state goes through here: temp file in the same
 * directory, fsync, rename, fsync the directory — so a crash leaves the old or the new bytes.
 */
import { promises as fsp, constants as fsc } from 'node:fs';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';

/**
 * fsyncs a directory so renames and creations inside it survive power loss (no-op on Windows).
 * With `noFollow`, a final symbolic link is never followed (ELOOP) and a non-directory refused
 * (ENOTDIR): used inside install dirs, where a path may have just become a link.
 */
export async function fsyncDir(dir: string, noFollow = false): Promise<void> {
  if (process.platform === 'win32') return;
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, noFollow ? fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW : fsc.O_RDONLY);
    await fh.sync();
  } finally {
    await fh?.close();
  }
}

/** fsyncs a regular file's data and metadata (opened read-only, so read-only files work too). */
export async function fsyncFile(file: string): Promise<void> {
  const fh = await fsp.open(file, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Atomically replaces `file` with `data` (write-file-atomic: temp + fsync + rename), then fsyncs the directory. */
export async function writeFileDurable(file: string, data: string | Uint8Array, mode?: number): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, typeof data === 'string' ? data : Buffer.from(data), { fsync: true, ...(mode !== undefined ? { mode } : {}) });
  await fsyncDir(path.dirname(file));
}

/** Atomically writes a JSON document (pretty, trailing newline). */
export async function writeJsonDurable(file: string, value: unknown, mode?: number): Promise<void> {
  await writeFileDurable(file, JSON.stringify(value, null, 2) + '\n', mode);
}

/** Reads and parses a JSON file; `undefined` when it does not exist. */
export async function readJsonIfExists<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** mkdir -p and fsync the parent, so a freshly created directory survives a crash. */
export async function mkdirDurable(dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  await fsyncDir(path.dirname(dir));
}

/** True when `p` exists (lstat: a dangling symlink exists). */
export async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

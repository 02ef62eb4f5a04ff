/**
 * Durable file primitives. Every write of state goes through here: temp file in the same
 * directory, fsync, rename, fsync the directory — so a crash leaves the old or the new bytes.
 */
import { promises as fsp, constants as fsc } from 'node:fs';
import path from 'node:path';
import type writeFileAtomicFn from 'write-file-atomic';
import { StateCorruptError } from '../../../src-shared/errors';
import { z } from '../state/state-zod';

/**
 * Reads a small file Upkeep keeps for itself (fingerprint hints, machine-id, lock records, a
 * cached feed index) without ever blocking on it: opened with O_NONBLOCK (and O_NOFOLLOW unless
 * `followLink`), and anything but a regular file at `file` throws StateCorruptError
 * (ERR_STATE_CORRUPT) naming it — a FIFO there would otherwise hang every command that reads
 * it. A missing file throws ENOENT as `fs.readFile` does.
 */
export async function readOwnFile(file: string, o: { followLink?: boolean } = {}): Promise<Buffer> {
  const fh = await openOwnFile(file, fsc.O_RDONLY, o);
  try {
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/**
 * Opens one of Upkeep's own files as readOwnFile does (O_NONBLOCK; O_NOFOLLOW unless
 * `followLink`; anything but a regular file is StateCorruptError naming it). `flags`: O_RDONLY,
 * or e.g. O_RDWR | O_APPEND | O_CREAT (created with mode 0644) for an append.
 */
export async function openOwnFile(file: string, flags: number, o: { followLink?: boolean } = {}): Promise<fsp.FileHandle> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, flags | fsc.O_NONBLOCK | (o.followLink ? 0 : fsc.O_NOFOLLOW), 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP' && !o.followLink) throw new StateCorruptError(file, 'a symbolic link; state files are written only as regular files');
    throw err;
  }
  if ((await fh.stat()).isFile()) return fh;
  await fh.close();
  throw new StateCorruptError(file, 'not a regular file');
}

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

/**
 * fsyncs a regular file's data and metadata. Opens read-only (fsync works on a read-only
 * descriptor on POSIX), so files with mode 0444 or 0555 can be synced too.
 */
export async function fsyncFile(file: string): Promise<void> {
  const fh = await fsp.open(file, fsc.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Options of writeFileDurable. */
export interface DurableWriteOptions {
  /**
   * Write through a symbolic link at `file` to its target (write-file-atomic resolves the path).
   * Only for files the user names (a publisher's output); never for state files.
   */
  followLink?: boolean;
}

/**
 * Atomically replaces `file` with `data` (write-file-atomic: temp + fsync + rename), then fsyncs
 * the directory. A symbolic link at `file` is refused with StateCorruptError (ERR_STATE_CORRUPT
 * naming it) unless `followLink`: write-file-atomic would otherwise overwrite the link's target,
 * wherever it points (a root daemon's state file linked to /etc/passwd).
 */
export async function writeFileDurable(file: string, data: string | Uint8Array, mode?: number, opts: DurableWriteOptions = {}): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  if (opts.followLink !== true) {
    const st = await fsp.lstat(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    if (st?.isSymbolicLink()) throw new StateCorruptError(file, 'a symbolic link; state files are written only as regular files');
  }
  // Loaded on the first write (it sets up exit handlers and worker_threads when loaded): reads never need it.
  const writeFileAtomic = require('write-file-atomic') as typeof writeFileAtomicFn;
  const write = (): Promise<void> => writeFileAtomic(file, typeof data === 'string' ? data : Buffer.from(data), { fsync: true, ...(mode !== undefined ? { mode } : {}) });
  try {
    await write();
  } catch (err) {
    // The temp file vanished before its rename: recovery in another process swept it as the
    // leftover of a killed writer (apply/recover.ts). Write again, once.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await write();
  }
  await fsyncDir(path.dirname(file));
}

/**
 * Atomically writes a JSON document (pretty, trailing newline); a symbolic link at `file` is
 * refused as by writeFileDurable. With `checkedTag`, the document's digest hint is written after
 * it (see readJson): pass it only for a `value` typed by the schema readJson checks with that tag.
 */
export async function writeJsonDurable(file: string, value: unknown, mode?: number, o: { checkedTag?: string } = {}): Promise<void> {
  const text = JSON.stringify(value, null, 2) + '\n';
  await writeFileDurable(file, text, mode);
  if (o.checkedTag !== undefined) await writeCheckedHint(file, o.checkedTag, text);
}

/**
 * The digest hint of a state document: `<file>.sha256`, one line `<tag> <SHA-256 hex of the
 * document's bytes>`. A document Upkeep wrote is serialised from a value of its schema's type, so
 * bytes that still hash to the recorded digest need no schema check on the next read (a 10,000-file
 * rollback point: ~100 ms of zod per read, against ~4 ms of SHA-256). Written after the document,
 * without fsync: any mismatch (no hint, a torn or older one, a document edited or replaced since,
 * another tag after a schema change) only means the full check. Never throws: a failed write
 * removes the hint.
 */
async function writeCheckedHint(file: string, tag: string, text: string): Promise<void> {
  const hint = `${file}${CHECKED_SUFFIX}`;
  try {
    await fsp.writeFile(hint, `${tag} ${sha256Hex(text)}\n`, { flag: fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW });
  } catch {
    await fsp.rm(hint, { force: true }).catch(() => undefined);
  }
}

/** Suffix of a state document's digest hint (see writeCheckedHint). */
export const CHECKED_SUFFIX = '.sha256';

function sha256Hex(text: string): string {
  // Loaded on first use: `upkeep status` reads no hinted document and need not load node:crypto.
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  return createHash('sha256').update(text).digest('hex');
}

/** True when `<file>.sha256` records `tag` and the SHA-256 of `text` (see writeCheckedHint). */
async function hintMatches(file: string, tag: string, text: string): Promise<boolean> {
  let hint: string;
  try {
    // Never through a link; a FIFO planted there is opened without blocking and reads empty.
    const fh = await fsp.open(`${file}${CHECKED_SUFFIX}`, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    try {
      const buf = Buffer.alloc(256);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      hint = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
  return hint === `${tag} ${sha256Hex(text)}\n`;
}

/**
 * Compile-time check that a schema's output and the declared type of a persisted document agree
 * both ways (`satisfies` alone lets a type gain a field the schema would silently strip):
 * `const _check: SameShape<z.output<typeof S>, T> = true;` fails to compile when they drift.
 */
export type SameShape<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;

/** State documents at least this long (UTF-16 units, about bytes) are checked with classic zod's compiled parser. */
const COMPILED_PARSE_MIN_CHARS = 64 * 1024;

/** Largest persisted state document read, in bytes (a journal of 100,000 files stays far below). */
export const MAX_STATE_FILE_BYTES = 256 * 1024 * 1024;

/**
 * Reads a JSON document Upkeep persisted and checks it against `schema` (zod). Resolves to the
 * parsed value, or `undefined` when the file does not exist. A symbolic link at `file` (never
 * followed), a file that is not a regular file, is too large, is not JSON or does not match the schema throws StateCorruptError
 * (ERR_STATE_CORRUPT, `details.file` = `file`): never a cast, never a silent reset. Other I/O
 * errors (EACCES, EIO) are rethrown as they are. `maxBytes` (default MAX_STATE_FILE_BYTES) is the
 * size past which the file is refused from its stat alone, before a byte of it is read. With
 * `checkedTag`, a document whose digest hint (writeCheckedHint, same tag) matches its bytes is
 * returned without the schema check; otherwise it is checked in full.
 */
export async function readJson<S extends z.core.$ZodType>(file: string, schema: S, o: { maxBytes?: number; checkedTag?: string } = {}): Promise<z.output<S> | undefined> {
  const maxBytes = Math.min(o.maxBytes ?? MAX_STATE_FILE_BYTES, MAX_STATE_FILE_BYTES);
  let text: string;
  try {
    // lstat: a link at a state file's name is refused on read as on write (writeFileDurable), so
    // an operation never starts from a document it could not record its outcome in.
    const st = await fsp.lstat(file);
    if (st.isSymbolicLink()) throw new StateCorruptError(file, 'a symbolic link; state files are written only as regular files');
    if (!st.isFile()) throw new StateCorruptError(file, 'not a regular file');
    if (st.size > maxBytes) throw new StateCorruptError(file, `larger than ${maxBytes} bytes`);
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') throw new StateCorruptError(file, 'a parent is not a directory');
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new StateCorruptError(file, `not JSON (${(err as Error).message})`);
  }
  // The exact bytes Upkeep serialised from a value of this schema's type (writeCheckedHint).
  if (o.checkedTag !== undefined && (await hintMatches(file, o.checkedTag, text))) return raw as z.output<S>;
  // Classic zod (the git and compose drivers' records) generates and compiles (new Function) a
  // parser for each object schema on its first parse. On a small document that costs more than it
  // saves (about 10 ms of every `upkeep status`), so those are checked by the interpreted parser
  // (the same checks); a large one parses as fast on its first read either way and twice as fast
  // on later reads once compiled, so it keeps the compiled parser. zod/mini schemas (the engine's
  // own state files, state/state-zod.ts) are always interpreted: a 10,000-file installed.json
  // checks faster than with classic zod on a first read, and about 20 % slower than its compiled
  // parser on later ones.
  const parsed = z.safeParse(schema, raw, text.length < COMPILED_PARSE_MIN_CHARS ? { jitless: true } : undefined);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first && first.path.length > 0 ? first.path.map(String).join('.') : 'document';
    throw new StateCorruptError(file, `${where}: ${first?.message ?? 'does not match the schema'}`);
  }
  return parsed.data;
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

/**
 * Reads a zip archive with `yauzl` (central directory first, so the entry count and declared
 * sizes are checked before anything is written) and hands each entry to the TreeWriter.
 *
 * yauzl is opened with `strictFileNames` (a backslash in a name is refused, not rewritten),
 * `validateEntrySizes` (an entry whose data is longer or shorter than its header says fails)
 * and `decodeStrings` (its own absolute/relative path checks run too). Unix modes and the entry
 * kind come from the upper 16 bits of the external attributes when the entry was made on Unix
 * (APPNOTE.TXT 4.4.2/4.4.15, Info-ZIP's convention); a symbolic link's data is its target.
 */
import type { Readable } from 'node:stream';
import type yauzl from 'yauzl';
import { UpkeepError } from '../../../src-shared/errors';
import { ARCHIVE_RATIO_GRACE_BYTES } from '../limits';
import type { TreeWriter } from './tree-writer';

/** Longest symbolic link target read from a zip entry, in bytes. */
const MAX_LINK_TARGET_BYTES = 4096;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
/** "Version made by" host system values (APPNOTE.TXT 4.4.2.2) whose attributes carry a Unix mode. */
const UNIX_HOSTS = new Set([3 /* UNIX */, 19 /* OS X (Darwin) */]);

/** Extracts every entry of the zip archive at `file` through `writer`. */
export async function readZip(file: string, writer: TreeWriter, limits: { maxEntries: number; maxRatio: number }): Promise<void> {
  let zip: yauzl.ZipFile;
  try {
    // Loaded here, not at start-up: only zip archives need it.
    const { openPromise } = require('yauzl') as typeof yauzl;
    zip = await openPromise(file, { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true, strictFileNames: true });
  } catch (err) {
    throw writer.refuse(`malformed zip (${(err as Error).message})`);
  }
  try {
    if (zip.entryCount > limits.maxEntries) throw writer.refuse(`${zip.entryCount} entries, more than ${limits.maxEntries}`);
    for (;;) {
      writer.checkCancelled();
      const entry = await nextEntry(zip, writer);
      if (entry === null) return;
      await handleEntry(zip, entry, writer, limits.maxRatio);
    }
  } finally {
    zip.close();
  }
}

function nextEntry(zip: yauzl.ZipFile, writer: TreeWriter): Promise<yauzl.Entry | null> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    const onEntry = (e: yauzl.Entry): void => {
      cleanup();
      resolve(e);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(null);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(writer.refuse(`malformed zip (${err.message})`));
    };
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    zip.readEntry();
  });
}

async function handleEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, writer: TreeWriter, maxRatio: number): Promise<void> {
  const name = entry.fileName;
  writer.countEntry(name);
  if (entry.isEncrypted()) throw writer.refuse('encrypted entries are not supported', name);
  const kind = entryKind(entry);
  if (kind.type === 'other') throw writer.refuse(`entry type 0o${kind.ifmt.toString(8)} is not allowed (only files, directories and links; no devices or FIFOs)`, name);
  if (kind.type === 'directory') return writer.addDirectory(name, kind.mode);
  if (entry.uncompressedSize > ARCHIVE_RATIO_GRACE_BYTES && entry.uncompressedSize > maxRatio * Math.max(1, entry.compressedSize)) {
    throw writer.refuse(`declares ${entry.uncompressedSize} bytes from ${entry.compressedSize} compressed (more than ${maxRatio} times; compression bomb?)`, name);
  }
  const stream = await openStream(zip, entry, writer);
  const data = counted(stream, writer);
  if (kind.type === 'symlink') {
    if (entry.uncompressedSize > MAX_LINK_TARGET_BYTES) {
      stream.destroy();
      throw writer.refuse(`symbolic link target longer than ${MAX_LINK_TARGET_BYTES} bytes`, name);
    }
    const chunks: Buffer[] = [];
    for await (const c of data) chunks.push(c);
    return writer.addSymlink(name, Buffer.concat(chunks).toString('utf8'));
  }
  try {
    await writer.addFile(name, kind.mode, entry.uncompressedSize, data);
  } finally {
    stream.destroy();
  }
}

type Kind = { type: 'file' | 'directory'; mode: number } | { type: 'symlink' } | { type: 'other'; ifmt: number };

function entryKind(entry: yauzl.Entry): Kind {
  const isDirName = entry.fileName.endsWith('/');
  if (UNIX_HOSTS.has(entry.versionMadeBy >>> 8)) {
    const attrs = entry.externalFileAttributes >>> 16;
    const ifmt = attrs & S_IFMT;
    const perms = attrs & 0o7777;
    if (ifmt === S_IFLNK) return { type: 'symlink' };
    if (ifmt === S_IFDIR || (ifmt === 0 && isDirName)) return { type: 'directory', mode: perms || 0o755 };
    if (ifmt === S_IFREG || ifmt === 0) return { type: isDirName ? 'directory' : 'file', mode: perms || (isDirName ? 0o755 : 0o644) };
    return { type: 'other', ifmt };
  }
  // MS-DOS attributes: bit 4 is "directory"; no permission bits.
  const isDir = isDirName || (entry.externalFileAttributes & 0x10) !== 0;
  return isDir ? { type: 'directory', mode: 0o755 } : { type: 'file', mode: 0o644 };
}

/**
 * Opens the entry's data stream. yauzl forwards inflate errors with a raw `emit('error')` on a
 * later tick, possibly before anything reads the stream or after a reader has stopped: a listener
 * is attached at once and kept for the stream's life, turning such an error into `destroy(err)`
 * so the reader sees it and no 'error' event is ever left unhandled.
 */
async function openStream(zip: yauzl.ZipFile, entry: yauzl.Entry, writer: TreeWriter): Promise<Readable> {
  try {
    const stream = await zip.openReadStreamPromise(entry);
    stream.on('error', (err: Error) => {
      if (!stream.destroyed) stream.destroy(err);
    });
    return stream;
  } catch (err) {
    throw writer.refuse(`malformed zip (${(err as Error).message})`, entry.fileName);
  }
}

/** The entry's bytes, counted against the ratio bound; decoder errors name the zip. */
async function* counted(stream: Readable, writer: TreeWriter): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      writer.noteDecompressed(chunk.length);
      yield chunk;
    }
  } catch (err) {
    if (err instanceof UpkeepError) throw err;
    throw writer.refuse(`malformed zip (${(err as Error).message})`);
  }
}

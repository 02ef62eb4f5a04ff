/**
 * Reads a tar stream (plain, gzip or xz) with node-tar's `Parser` in strict mode (a bad header
 * checksum, a missing name or link target, or a truncated archive is an error, never skipped)
 * and hands each entry to the TreeWriter one at a time; node-tar never writes to disk here.
 *
 * gzip is decoded with node's zlib. Node has no xz decoder and no xz package is installed, so
 * `.tar.xz` is decoded by spawning the system's `xz -dc` (XZ Utils, present on Linux and macOS
 * installs; a missing binary is a clear ERR_APPLY_FAILED) with the archive as its stdin and a
 * decoder memory limit. The pure-WASM `xz-decompress` package would remove that dependency.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { ReadEntry } from 'tar';
import { OperationError, UpkeepError } from '../../../src-shared/errors';
import type { TreeWriter } from './tree-writer';

/** Memory the xz decoder may use (xz -9 archives need 65 MiB). */
const XZ_MEMLIMIT = '512MiB';
/** stderr kept from xz for the error message, in bytes. */
const XZ_STDERR_BYTES = 4096;

/** Extracts every entry of the tar archive at `file` through `writer`. */
export async function readTar(file: string, compression: 'none' | 'gzip' | 'xz', writer: TreeWriter): Promise<void> {
  const decoded = await openDecoded(file, compression, writer);
  // Loaded here, not at start-up: only tar archives need it.
  const { Parser } = require('tar') as typeof import('tar');
  const parser = new Parser({ strict: true });
  const queue: ReadEntry[] = [];
  // Two waiters: the consumer waits for entries, the feeder for the parser to drain.
  let entryWake: (() => void) | null = null;
  let drainWake: (() => void) | null = null;
  let ended = false;
  let failure: unknown = null;
  let current: ReadEntry | null = null;
  // Rejects once anything failed: a consumer blocked on an entry's next chunk wakes up with it.
  let rejectFailed: (e: unknown) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => (rejectFailed = reject));
  failed.catch(() => undefined);
  const wakeEntry = (): void => {
    const w = entryWake;
    entryWake = null;
    w?.();
  };
  const wakeDrain = (): void => {
    const w = drainWake;
    drainWake = null;
    w?.();
  };
  const fail = (err: unknown): void => {
    if (failure === null) failure = err;
    rejectFailed(failure);
    decoded.stream.destroy();
    current?.destroy();
    wakeEntry();
    wakeDrain();
  };
  parser.on('entry', (e: ReadEntry) => {
    queue.push(e);
    wakeEntry();
  });
  parser.on('drain', wakeDrain);
  parser.on('error', (err: Error) => fail(writer.refuse(`malformed tar (${err.message.replace(/^TAR_[A-Z_]+: /, '')})`)));
  parser.on('end', () => {
    ended = true;
    wakeEntry();
  });

  const feed = async (): Promise<void> => {
    try {
      for await (const chunk of decoded.stream as AsyncIterable<Buffer>) {
        if (failure !== null) return;
        writer.checkCancelled();
        writer.noteDecompressed(chunk.length);
        if (!parser.write(chunk) && failure === null) await new Promise<void>((r) => (drainWake = r));
      }
    } catch (err) {
      throw err instanceof UpkeepError ? err : decoded.describe(err as Error);
    }
    await decoded.done();
    parser.end();
  };
  const consume = async (): Promise<void> => {
    for (;;) {
      if (failure !== null) return;
      const entry = queue.shift();
      if (entry === undefined) {
        if (ended) return;
        await new Promise<void>((r) => (entryWake = r));
        continue;
      }
      current = entry;
      await handleEntry(entry, untilFailed(entry as AsyncIterable<Buffer>, failed), writer);
      current = null;
    }
  };
  await Promise.all([feed().catch(fail), consume().catch(fail)]);
  decoded.kill();
  if (failure !== null) throw failure;
}

/**
 * The entry's chunks, ending with the extraction's failure as soon as there is one (node-tar's
 * entry iterator would otherwise wait forever for data after the parser stopped).
 */
async function* untilFailed(source: AsyncIterable<Buffer>, failed: Promise<never>): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  for (;;) {
    const r = await Promise.race([it.next(), failed]);
    if (r.done === true) return;
    yield r.value;
  }
}

async function handleEntry(entry: ReadEntry, data: AsyncIterable<Buffer>, writer: TreeWriter): Promise<void> {
  const name = entry.path;
  writer.countEntry(name);
  switch (entry.type) {
    case 'File':
    case 'OldFile':
    case 'ContiguousFile':
      return writer.addFile(name, entry.mode ?? 0o644, entry.size ?? 0, data);
    case 'Directory':
      entry.resume();
      return writer.addDirectory(name, entry.mode ?? 0o755);
    case 'SymbolicLink':
      entry.resume();
      return writer.addSymlink(name, entry.linkpath ?? '');
    case 'Link':
      entry.resume();
      return writer.addHardLink(name, entry.linkpath ?? '');
    default:
      entry.resume();
      throw writer.refuse(`entry type ${entry.type} is not allowed (only files, directories and links; no devices or FIFOs)`, name);
  }
}

interface Decoded {
  stream: Readable;
  /** Resolves when the decoder finished cleanly; throws ERR_UNSAFE_ARCHIVE naming its error. */
  done(): Promise<void>;
  kill(): void;
  /** The error to report when reading the decoded stream fails. */
  describe(e: Error): Error;
}

async function openDecoded(file: string, compression: 'none' | 'gzip' | 'xz', writer: TreeWriter): Promise<Decoded> {
  if (compression === 'none') {
    return { stream: createReadStream(file), done: async () => undefined, kill: () => undefined, describe: (e) => writer.refuse(e.message) };
  }
  if (compression === 'gzip') {
    const src = createReadStream(file);
    const gunzip = (require('node:zlib') as typeof import('node:zlib')).createGunzip();
    src.on('error', (err) => gunzip.destroy(err));
    src.pipe(gunzip);
    return {
      stream: gunzip,
      done: async () => undefined,
      kill: () => src.destroy(),
      describe: (e) => writer.refuse(`gzip: ${e.message}`),
    };
  }
  return openXz(file, writer);
}

async function openXz(file: string, writer: TreeWriter): Promise<Decoded> {
  let stderr = '';
  let exited: Promise<number | null>;
  let child: ChildProcess;
  try {
    // child_process and zlib load here, for the archives that need them, not at every start.
    child = (require('node:child_process') as typeof import('node:child_process')).spawn('xz', ['--decompress', '--stdout', '--quiet', `--memlimit-decompress=${XZ_MEMLIMIT}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    // Listeners first, before any await: xz may fail at once and close every pipe right away.
    child.stderr!.on('data', (c: Buffer) => {
      if (stderr.length < XZ_STDERR_BYTES) stderr += c.toString('utf8');
    });
    exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await Promise.race([once(child, 'spawn'), once(child, 'error').then(([e]) => Promise.reject(e as Error))]);
    child.on('error', () => undefined);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new OperationError('ERR_APPLY_FAILED', `Cannot decompress .tar.xz: the xz program could not be started (${code ?? String(err)})`, {
      cause: code,
    });
  }
  // xz stops reading when it fails (EPIPE on its stdin): its exit status reports the cause.
  child.stdin!.on('error', () => undefined);
  const src = createReadStream(file);
  src.on('error', () => child.kill());
  src.pipe(child.stdin!);
  return {
    stream: child.stdout!,
    done: async () => {
      const code = await exited;
      if (code !== 0) throw writer.refuse(`xz: ${stderr.trim().replace(/^xz: \(stdin\): /, '') || `exit code ${code}`}`);
    },
    kill: () => {
      src.destroy();
      if (child.exitCode === null && child.signalCode === null) child.kill();
    },
    describe: (e) => writer.refuse(`xz: ${e.message}`),
  };
}

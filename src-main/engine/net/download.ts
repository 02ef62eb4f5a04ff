/**
 * Downloads one release file: streamed to a partial file while hashing, never whole in memory,
 * bounded by the declared size, resumable with HTTP Range, retried with backoff, verified
 * against sha256, then fsynced and renamed into place atomically.
 */
import { createHash, type Hash } from 'node:crypto';
import { constants as fsc, createReadStream, promises as fsp, writev } from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LIMITS, type Limits } from '../limits';
import { fsyncDir } from '../fs/atomic';
import { BufferReclaim } from './buffer-reclaim';
import { NetworkError, UpkeepError, VerificationError } from '../../../src-shared/errors';
import { diskFullError, isDiskFull } from '../fs/space';
import { checkUrlAllowed, normaliseFeedUrl, redactUrl } from './url-policy';
import { RetryableFailure, headerValue, localError, statusFailure, throwIfCancelled, withRetries } from './fetcher';
import { GetAgents, discardResponse, dropResponse, openGet, type GetResponse } from './http-get';

export interface DownloadOptions {
  url: string;
  dest: string;
  partial: string;
  size: number;
  /** Expected digest, lowercase hex: SHA-256, or SHA-512 when `algorithm` is 'sha512'. */
  sha256: string;
  /** Digest algorithm of `sha256` (default 'sha256'; electron-builder feeds publish SHA-512). */
  algorithm?: 'sha256' | 'sha512';
  allowInsecureHttp: boolean;
  /**
   * Whether `url` may be a `file:` URL or a plain path. Set it only for a release of a `file:` feed
   * (a local directory): otherwise a local file named by a feed is refused with ERR_INSECURE_URL
   * before anything is opened (a feed served over the network never reads this machine's files).
   * Redirects never lead to `file:` whatever this says (url-policy.ts `checkRedirectAllowed`).
   */
  allowFileUrls?: boolean;
  limits?: Limits;
  signal?: AbortSignal;
  /**
   * Progress toward `size` for this file: bytes already in a resumed partial are reported once at
   * the start, each written chunk as it lands, and a negative delta when a server forces a restart
   * from zero — so the sum of deltas is always the bytes currently held.
   */
  onBytes?: (delta: number) => void;
  /**
   * When set, bytes already held in a resumed partial are reported here instead of `onBytes`
   * (they count toward progress but were not moved by this run, so not toward speed).
   */
  onHeld?: (bytes: number) => void;
}

const DIGEST_RE = { sha256: /^[0-9a-fA-F]{64}$/, sha512: /^[0-9a-fA-F]{128}$/ } as const;
const READ_CHUNK = 1024 * 1024;
/**
 * Bytes a download holds in memory between the socket and the file (the sink's buffer): enough
 * for the file system to take them in batches with one writev, small enough that memory stays
 * flat whatever the file's size.
 */
const SINK_BUFFER = 1024 * 1024;
/**
 * Bytes written between two background fdatasync calls during a download: the kernel writes the
 * file back while more arrives, so the fsync before the rename only waits for the last stretch.
 */
const SYNC_EVERY = 64 * 1024 * 1024;

/** The partial file being written: its handle, running hash and length. */
class PartialFile {
  private hash: Hash;
  written = 0;
  /** Bytes written since the last background fdatasync started, and that sync while it runs. */
  private unsynced = 0;
  private flushing: Promise<void> | null = null;
  /** A background sync's failure: Linux reports a writeback error to a descriptor once, so it is kept for `sync`. */
  private syncError: unknown = null;
  /** True when the bytes held were not all received in one response (resume or old partial). */
  resumed = false;
  /** Content codings of the last response written (named by errors they may have caused). */
  codings: string[] = [];
  /** Frees the written read buffers as the download goes (flat memory; see buffer-reclaim.ts). */
  private readonly reclaim = new BufferReclaim();
  private constructor(
    readonly file: string,
    private readonly fh: fsp.FileHandle,
    /** The signed size (bytes): what the file will need in all. */
    private readonly max: number,
    private readonly algorithm: 'sha256' | 'sha512',
  ) {
    this.hash = createHash(algorithm);
  }

  /** Opens (creating) the partial; keeps and re-hashes existing bytes unless there are more than `max`. */
  static async open(file: string, max: number, signal: AbortSignal | undefined, algorithm: 'sha256' | 'sha512' = 'sha256'): Promise<PartialFile> {
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const fh = await fsp.open(file, fsc.O_RDWR | fsc.O_CREAT, 0o644);
    const pf = new PartialFile(file, fh, max, algorithm);
    try {
      const { size } = await fh.stat();
      if (size > max) await fh.truncate(0);
      else await pf.rehash(size, signal);
    } catch (err) {
      await fh.close();
      throw err;
    }
    return pf;
  }

  private async rehash(size: number, signal: AbortSignal | undefined): Promise<void> {
    const buf = Buffer.alloc(Math.min(READ_CHUNK, Math.max(1, size)));
    while (this.written < size) {
      throwIfCancelled(signal, this.file);
      const { bytesRead } = await this.fh.read(buf, 0, Math.min(buf.length, size - this.written), this.written);
      if (bytesRead === 0) break;
      this.hash.update(buf.subarray(0, bytesRead));
      this.written += bytesRead;
    }
    if (this.written < size) await this.fh.truncate(this.written);
    this.resumed = this.written > 0;
  }

  /**
   * A stream that appends what is written to it: each batch goes to the file with one positional
   * writev while the same bytes are hashed, so hashing overlaps the write instead of following it.
   * `accept(bytes)` runs before a batch is written and may throw to refuse it (size bound);
   * `onWritten(bytes)` runs after. A failed write leaves `written` and the hash as they were
   * before the batch.
   */
  sink(accept: (bytes: number) => void, onWritten: (bytes: number) => void): Writable {
    return new Writable({
      highWaterMark: SINK_BUFFER,
      writev: (entries, done) => {
        const chunks = entries.map((e) => e.chunk as Buffer);
        let total = 0;
        for (const c of chunks) total += c.length;
        try {
          accept(total);
        } catch (err) {
          done(err as Error);
          return;
        }
        const before = this.hash.copy();
        this.writeAll(chunks, this.written, (err) => {
          if (err) {
            this.hash = before;
            done(isDiskFull(err) ? diskFullError(path.dirname(this.file), Math.max(0, this.max - this.written)) : err);
            return;
          }
          this.written += total;
          this.reclaim.count(total);
          this.syncInBackground(total);
          onWritten(total);
          done();
        });
        // Runs while the thread pool writes: both only read the chunks.
        for (const c of chunks) this.hash.update(c);
      },
    });
  }

  /** Writes `chunks` at `position`, continuing after short writes. */
  private writeAll(chunks: Buffer[], position: number, done: (err: NodeJS.ErrnoException | null) => void): void {
    writev(this.fh.fd, chunks, position, (err, n) => {
      if (err) return done(err);
      let left = n;
      let i = 0;
      while (i < chunks.length && left >= chunks[i]!.length) left -= chunks[i++]!.length;
      if (i === chunks.length) return done(null);
      const rest = [chunks[i]!.subarray(left), ...chunks.slice(i + 1)];
      this.writeAll(rest, position + n, done);
    });
  }

  async reset(): Promise<void> {
    await this.fh.truncate(0);
    this.hash = createHash(this.algorithm);
    this.written = 0;
    this.resumed = false;
  }

  digestHex(): string {
    return this.hash.copy().digest('hex');
  }

  /** Starts an fdatasync once SYNC_EVERY bytes are unsynced (one at a time; a failure is thrown by `sync`). */
  private syncInBackground(bytes: number): void {
    this.unsynced += bytes;
    if (this.unsynced < SYNC_EVERY || this.flushing) return;
    this.unsynced = 0;
    this.flushing = this.fh.datasync().then(
      () => {
        this.flushing = null;
      },
      (err: unknown) => {
        this.syncError ??= err;
        this.flushing = null;
      },
    );
  }

  async sync(): Promise<void> {
    await this.flushing;
    if (this.syncError !== null) throw this.syncError;
    await this.fh.sync();
  }

  async close(): Promise<void> {
    await this.flushing;
    await this.fh.close().catch(() => undefined);
  }
}

function sizeMismatch(url: string, expected: number, detail: string, extra: Record<string, unknown> = {}): VerificationError {
  return new VerificationError('ERR_SIZE_MISMATCH', `${redactUrl(url)}: ${detail} (expected ${expected} bytes)`, {
    url: redactUrl(url),
    expected,
    ...extra,
  });
}

/** Parses `Content-Range: bytes a-b/total` (total may be `*`). */
function parseContentRange(v: string | undefined): { start: number; end: number; total: number | null } | null {
  const m = v === undefined ? null : /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(v.trim());
  if (!m) return null;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? null : Number(m[3]) };
}

/**
 * Downloads `url` to `dest`, verified. Streams into `partial` while hashing; an existing partial
 * is re-hashed and resumed with `Range: bytes=N-` (a 200 answer restarts from zero). More bytes
 * than `size` (declared or received) => ERR_SIZE_MISMATCH at once; a body that ends early or a
 * dropped connection is resumed under the `limits.retries` budget, finally ERR_DOWNLOAD_FAILED
 * (ERR_DOWNLOAD_TIMEOUT when no byte arrived for `limits.idleTimeoutMs`). A sha256 mismatch =>
 * ERR_HASH_MISMATCH. On either mismatch the partial is deleted and `dest` is never created; on
 * other failures the partial is kept for a later resume. On success the file is fsynced and
 * renamed to `dest` atomically. `file://` URLs and plain paths are copied by streaming with the
 * same checks when `allowFileUrls` (a `file:` feed); without it they are refused with
 * ERR_INSECURE_URL before any file is opened or created.
 */
export async function downloadFile(o: DownloadOptions): Promise<void> {
  const limits = o.limits ?? DEFAULT_LIMITS;
  const algorithm = o.algorithm ?? 'sha256';
  if (!DIGEST_RE[algorithm].test(o.sha256)) {
    throw new VerificationError('ERR_METADATA_INVALID', `Not a ${algorithm} hex digest: ${o.sha256}`, { [algorithm]: o.sha256 });
  }
  if (!Number.isSafeInteger(o.size) || o.size < 0) {
    throw new VerificationError('ERR_METADATA_INVALID', `Not a valid file size: ${o.size}`, { size: o.size });
  }
  const src = normaliseFeedUrl(o.url);
  checkUrlAllowed(src, o);
  if (src.startsWith('file:') && o.allowFileUrls !== true) {
    throw new VerificationError('ERR_INSECURE_URL', `A download of a feed that is not a local (file:) feed names a local file: ${redactUrl(src)}`, { url: redactUrl(src) });
  }
  throwIfCancelled(o.signal, src);

  let pf: PartialFile;
  try {
    pf = await PartialFile.open(o.partial, o.size, o.signal, algorithm);
  } catch (err) {
    // No room even to create the partial file (no free inode, a full quota): the same clear error.
    if (isDiskFull(err)) throw diskFullError(path.dirname(o.partial), o.size);
    throw err;
  }
  let closed = false;
  try {
    if (pf.written > 0) {
      if (o.onHeld) o.onHeld(pf.written);
      else o.onBytes?.(pf.written);
    }
    for (let pass = 1; ; pass++) {
      if (pf.written < o.size) {
        if (src.startsWith('file:')) await copyLocal(src, pf, o);
        else await downloadHttp(src, pf, o, limits);
      }
      const actual = pf.digestHex();
      if (actual === o.sha256.toLowerCase()) break;
      if (pass === 1 && pf.resumed) {
        // Stitched from more than one response (or an old partial): the mismatch may come from a
        // stale or corrupted prefix, so give the file one clean pass from zero before refusing it.
        o.onBytes?.(-pf.written);
        await pf.reset();
        continue;
      }
      const enc = pf.codings.length > 0 ? pf.codings.join(', ') : null;
      throw new VerificationError(
        'ERR_HASH_MISMATCH',
        `${algorithm} of ${redactUrl(src)} does not match${enc ? ` (the server sent it with Content-Encoding: ${enc}; the decoded bytes were checked)` : ''}`,
        { url: redactUrl(src), expected: o.sha256.toLowerCase(), actual, ...(enc ? { content_encoding: enc } : {}) },
      );
    }
    await pf.sync();
    await pf.close();
    closed = true;
    await fsp.mkdir(path.dirname(o.dest), { recursive: true });
    await fsp.rename(o.partial, o.dest);
    await fsyncDir(path.dirname(o.dest));
    if (path.dirname(o.partial) !== path.dirname(o.dest)) await fsyncDir(path.dirname(o.partial));
  } catch (err) {
    if (!closed) await pf.close();
    if (err instanceof UpkeepError && (err.code === 'ERR_HASH_MISMATCH' || err.code === 'ERR_SIZE_MISMATCH' || err.code === 'ERR_DISK_FULL')) {
      await fsp.rm(o.partial, { force: true });
    }
    if (isDiskFull(err)) {
      // Out of space while syncing or renaming: no partial left behind, one clear error.
      await fsp.rm(o.partial, { force: true });
      throw diskFullError(path.dirname(o.dest), o.size);
    }
    throw err;
  }
}

async function downloadHttp(src: string, pf: PartialFile, o: DownloadOptions, limits: Limits): Promise<void> {
  const agents = new GetAgents();
  // A strong validator from an earlier answer, sent as If-Range so a changed file restarts at 0.
  let validator: string | undefined;
  try {
    await withRetries(
      async () => {
        const headers: Record<string, string> = {};
        if (pf.written > 0) {
          headers.range = `bytes=${pf.written}-`;
          if (validator) headers['if-range'] = validator;
        }
        const res = await openGet(src, {
          agents,
          headers,
          allowInsecureHttp: o.allowInsecureHttp,
          maxRedirects: limits.maxRedirects,
          idleTimeoutMs: limits.idleTimeoutMs,
          ...(o.signal ? { signal: o.signal } : {}),
        });
        try {
          await acceptResponse(res, pf, o);
          const etag = headerValue(res.headers, 'etag');
          if (etag && !etag.startsWith('W/')) validator = etag;
          await streamBody(res, pf, o);
        } finally {
          dropResponse(res.body);
        }
      },
      { limits, url: src, signal: o.signal },
    );
  } finally {
    agents.destroy();
  }
}

/** Checks status and length headers against what we asked for; restarts the partial on a 200. */
async function acceptResponse(res: GetResponse, pf: PartialFile, o: DownloadOptions): Promise<void> {
  // With a Content-Encoding, Content-Length and Content-Range count encoded bytes: the decoded
  // size is checked while streaming instead, and an encoded partial answer cannot be appended.
  const declared = res.codings.length > 0 ? undefined : headerValue(res.headers, 'content-length');
  const length = declared === undefined ? null : Number(declared);
  if (res.statusCode === 206 && res.codings.length > 0) {
    await discardResponse(res.body);
    o.onBytes?.(-pf.written);
    await pf.reset();
    throw new RetryableFailure(
      new NetworkError('ERR_DOWNLOAD_FAILED', `Partial response from ${redactUrl(res.url)} with Content-Encoding: ${res.codings.join(', ')} cannot be resumed`, {
        url: redactUrl(res.url),
        content_encoding: res.codings.join(', '),
      }),
    );
  }
  if (res.statusCode === 200) {
    if (pf.written > 0) {
      o.onBytes?.(-pf.written);
      await pf.reset();
    }
    // A declared length different from the signed size is a different file: retrying cannot help.
    if (length !== null && Number.isFinite(length) && length !== o.size) {
      throw sizeMismatch(res.url, o.size, `server declares ${length} bytes`, { declared: length });
    }
    return;
  }
  if (res.statusCode === 206) {
    const range = parseContentRange(headerValue(res.headers, 'content-range'));
    if (range === null || range.start !== pf.written) {
      // Not the range we asked for: start over from zero on the next attempt.
      await discardResponse(res.body);
      o.onBytes?.(-pf.written);
      await pf.reset();
      throw new RetryableFailure(new NetworkError('ERR_DOWNLOAD_FAILED', `Unusable partial response from ${redactUrl(res.url)}`, { url: redactUrl(res.url) }));
    }
    if (range.total !== null && range.total !== o.size) {
      throw sizeMismatch(res.url, o.size, `server declares ${range.total} bytes`, { declared: range.total });
    }
    if (range.end >= o.size || (length !== null && Number.isFinite(length) && pf.written + length > o.size)) {
      throw sizeMismatch(res.url, o.size, 'partial response extends past the declared size');
    }
    pf.resumed = true;
    return;
  }
  await discardResponse(res.body);
  if (res.statusCode === 416 && pf.written > 0) {
    // Our offset is past the server's end: the file is not what we have; retry from zero.
    o.onBytes?.(-pf.written);
    await pf.reset();
    throw new RetryableFailure(new NetworkError('ERR_DOWNLOAD_FAILED', `Range not satisfiable at ${redactUrl(res.url)}`, { url: redactUrl(res.url), status: 416 }));
  }
  throw statusFailure(res.statusCode, res.headers, res.url);
}

/**
 * Pipes `source` into `sink` with backpressure. When the source fails (a reset connection, a
 * cancel), what the sink already holds is still written before the source's error is thrown, so a
 * resume starts after every byte received; when the sink fails, the source is destroyed.
 */
function pump(source: Readable, sink: Writable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let sourceError: unknown = null;
    sink.once('error', (err) => {
      reject(err);
      source.destroy();
    });
    sink.once('finish', () => (sourceError === null ? resolve() : reject(sourceError)));
    source.on('error', (err) => {
      if (sourceError !== null) return;
      sourceError = err;
      source.unpipe(sink);
      if (!sink.destroyed) sink.end();
    });
    source.once('end', () => sink.end());
    source.pipe(sink, { end: false });
  });
}

/** Appends the body to the partial, refusing the first byte past `size`. */
async function streamBody(res: GetResponse, pf: PartialFile, o: DownloadOptions): Promise<void> {
  pf.codings = res.codings;
  const enc = res.codings.length > 0 ? ` (after decoding its Content-Encoding: ${res.codings.join(', ')})` : '';
  const source = res.codings.length > 0 ? Readable.from(res.decoded(), { objectMode: false }) : res.body;
  const sink = pf.sink(
    (bytes) => {
      if (pf.written + bytes > o.size) throw sizeMismatch(res.url, o.size, `server sent more bytes than declared${enc}`, { received: pf.written + bytes });
    },
    (bytes) => o.onBytes?.(bytes),
  );
  await pump(source, sink);
  if (pf.written < o.size) {
    throw new RetryableFailure(
      new NetworkError('ERR_DOWNLOAD_FAILED', `${redactUrl(res.url)} ended after ${pf.written} of ${o.size} bytes`, {
        url: redactUrl(res.url),
        received: pf.written,
        expected: o.size,
      }),
    );
  }
}

/** Streams a local file into the partial from the current offset, with the same bounds. */
async function copyLocal(src: string, pf: PartialFile, o: DownloadOptions): Promise<void> {
  let file: string;
  try {
    file = fileURLToPath(src);
  } catch (err) {
    throw new NetworkError('ERR_DOWNLOAD_FAILED', `Cannot read ${src}: ${(err as Error).message}`, { url: src });
  }
  let st;
  try {
    st = await fsp.stat(file);
  } catch (err) {
    throw localError(err, src);
  }
  if (!st.isFile()) throw new NetworkError('ERR_DOWNLOAD_FAILED', `${src} is not a regular file`, { url: src });
  if (st.size !== o.size) throw sizeMismatch(src, o.size, `file has ${st.size} bytes`, { declared: st.size });
  const stream = createReadStream(file, { start: pf.written, highWaterMark: READ_CHUNK });
  const sink = pf.sink(
    (bytes) => {
      throwIfCancelled(o.signal, src);
      if (pf.written + bytes > o.size) throw sizeMismatch(src, o.size, 'file grew while being copied');
    },
    (bytes) => o.onBytes?.(bytes),
  );
  try {
    await pump(stream, sink);
  } catch (err) {
    throw localError(err, src);
  }
  if (pf.written < o.size) {
    throw new NetworkError('ERR_DOWNLOAD_FAILED', `${src} shrank while being copied`, { url: src, received: pf.written, expected: o.size });
  }
}

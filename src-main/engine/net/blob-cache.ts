/**
 * Content-addressed cache of verified release files: `<dir>/sha256/<hex>` holds bytes whose
 * sha256 is `<hex>`; downloads in progress live in `<dir>/partial/<hex>` so they can resume.
 * A file enters `sha256/` only by an atomic rename after its size and hash verified.
 *
 * A blob may be handed out once as a hard link (the apply engine then installs the blob's inode
 * itself instead of copying its bytes). From then on a local edit of the installed file edits the
 * blob too, so the cache records the hand-out durably (`<dir>/handed-out/<name>`: lines
 * `<algorithm>/<hex> <inode>`) before the link exists, never hands that inode out again, and
 * re-hashes it before every reuse: a blob whose bytes no longer match is dropped and downloaded
 * again. Blobs never handed out are only ever written by the cache itself and are trusted by size.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Limits } from '../limits';
import { VerificationError } from '../../../src-shared/errors';
import { readOwnFile, writeFileDurable } from '../fs/atomic';
import { lstatBigOrNull, lstatOrNull } from '../fs/meta';
import { normaliseFeedUrl, redactUrl } from './url-policy';
import type { Fetcher } from './fetcher';
import { defaultFetcher } from './default-fetcher';
import { systemClock, type Clock } from '../clock';

export interface BlobFetchOptions {
  allowInsecureHttp: boolean;
  /** `file:` URLs are read only for a `file:` feed (DownloadOptions.allowFileUrls). */
  allowFileUrls?: boolean;
  limits?: Limits;
  signal?: AbortSignal;
  /** Progress toward the file's size (see DownloadOptions.onBytes); a reused blob reports its size once. */
  onBytes?: (n: number) => void;
  /**
   * Bytes already present (a reused blob, the kept part of a resumed download): when set they are
   * reported here instead of `onBytes`, so a speed meter counts only bytes moved by this run.
   */
  onHeld?: (n: number) => void;
  /** The caller just found the blob present with the right size (`has`): not looked up again. */
  present?: boolean;
}

const SHA256_RE = /^[0-9a-f]{64}$/;
/** Partial downloads touched within this long (ms) are never pruned. */
const PARTIAL_GRACE_MS = 10 * 60 * 1000;
const DIGEST_RE = { sha256: SHA256_RE, sha512: /^[0-9a-f]{128}$/ } as const;

/** Digest algorithms blobs are addressed by (SHA-512 for feeds that publish only that). */
export type BlobAlgorithm = keyof typeof DIGEST_RE;

function normaliseDigest(digest: string, algorithm: BlobAlgorithm = 'sha256'): string {
  const hex = digest.toLowerCase();
  if (!DIGEST_RE[algorithm].test(hex)) throw new VerificationError('ERR_UNSAFE_PATH', `Not a ${algorithm} hex digest: ${digest}`, { [algorithm]: digest });
  return hex;
}

const HANDED_OUT = 'handed-out';
const RECORD_NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;

function inodeOf(file: string): string | null {
  const st = lstatBigOrNull(file);
  return st?.isFile() ? String(st.ino) : null;
}

export class BlobCache {
  private readonly inflight = new Map<string, Promise<{ path: string; reused: boolean }>>();
  /** `<algorithm>/<hex>` -> inodes handed out as hard links (loaded once per instance). */
  private handed: Promise<Map<string, Set<string>>> | null = null;

  constructor(readonly dir: string, private readonly fetcher: Fetcher = defaultFetcher) {}

  /** Where the blob with this digest lives (`<dir>/<algorithm>/<hex>`, present or not). Refuses non-digests. */
  pathFor(digest: string, algorithm: BlobAlgorithm = 'sha256'): string {
    return path.join(this.dir, algorithm, normaliseDigest(digest, algorithm));
  }

  /** Where a download of this digest in progress is kept. */
  partialPathFor(digest: string, algorithm: BlobAlgorithm = 'sha256'): string {
    const hex = normaliseDigest(digest, algorithm);
    return path.join(this.dir, 'partial', algorithm === 'sha256' ? hex : `${algorithm}-${hex}`);
  }

  /** True when a regular file for this digest is present with exactly `size` bytes. */
  async has(digest: string, size: number, algorithm: BlobAlgorithm = 'sha256'): Promise<boolean> {
    return this.hasNow(digest, size, algorithm);
  }

  /** `has`, synchronously (fs/meta.ts: one lstat). */
  hasNow(digest: string, size: number, algorithm: BlobAlgorithm = 'sha256'): boolean {
    const st = lstatOrNull(this.pathFor(digest, algorithm));
    return st !== null && st.isFile() && st.size === size;
  }

  /**
   * Returns the path of a verified copy of `file`: the cached blob when present with the right
   * size (`reused: true`, no network), else downloads it (resuming an earlier partial) with every
   * check of `downloadFile`. Concurrent calls for the same digest share one download.
   */
  async fetch(file: { url: string; sha256: string; size: number; algorithm?: BlobAlgorithm }, o: BlobFetchOptions): Promise<{ path: string; reused: boolean }> {
    const algorithm = file.algorithm ?? 'sha256';
    const hex = normaliseDigest(file.sha256, algorithm);
    const key = `${algorithm}:${hex}`;
    const running = this.inflight.get(key);
    if (running) {
      const r = await running;
      if (o.onHeld) o.onHeld(file.size);
      else o.onBytes?.(file.size);
      return { path: r.path, reused: true };
    }
    const job = this.fetchUnshared(hex, algorithm, file, o);
    this.inflight.set(key, job);
    try {
      return await job;
    } finally {
      this.inflight.delete(key);
    }
  }

  /**
   * Fetches a file the feed publishes no digest for (Sparkle archives carry only an Ed25519
   * signature over their bytes, a GitHub asset may carry only a detached signature): at most
   * `size` bytes into memory, exactly `size` or ERR_SIZE_MISMATCH, then stored under its own
   * SHA-256 like any blob. The caller verifies the bytes before using them (the item's verifier).
   * Nothing is resumed or reused: the digest is only known once every byte has arrived. Signatures
   * over a whole file are checked in memory anyway (Ed25519 is not streamed), so the memory bound
   * is the same. Throws ERR_INSECURE_URL for a `file:` URL without `allowFileUrls`, and the
   * fetcher's errors (ERR_DOWNLOAD_FAILED, ERR_NOT_FOUND, ERR_CANCELLED, …).
   */
  async fetchUnaddressed(file: { url: string; size: number }, o: BlobFetchOptions): Promise<{ path: string; sha256: string }> {
    const src = normaliseFeedUrl(file.url);
    if (src.startsWith('file:') && o.allowFileUrls !== true) {
      throw new VerificationError('ERR_INSECURE_URL', `A download of a feed that is not a local (file:) feed names a local file: ${redactUrl(src)}`, { url: redactUrl(src) });
    }
    const res = await this.fetcher.fetchBytes(file.url, {
      maxBytes: file.size,
      allowInsecureHttp: o.allowInsecureHttp,
      ...(o.limits ? { limits: o.limits } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    if (res.notModified) throw new VerificationError('ERR_DOWNLOAD_FAILED', `Unexpected "not modified" for ${file.url}`);
    if (res.bytes.length !== file.size) {
      throw new VerificationError('ERR_SIZE_MISMATCH', `${file.url} has ${res.bytes.length} bytes, the feed says ${file.size}`, { expected: file.size, actual: res.bytes.length });
    }
    const sha256 = createHash('sha256').update(res.bytes).digest('hex');
    const dest = this.pathFor(sha256);
    if (!(await this.has(sha256, file.size))) await writeFileDurable(dest, res.bytes);
    o.onBytes?.(file.size);
    return { path: dest, sha256 };
  }

  private async fetchUnshared(hex: string, algorithm: BlobAlgorithm, file: { url: string; size: number }, o: BlobFetchOptions): Promise<{ path: string; reused: boolean }> {
    const dest = this.pathFor(hex, algorithm);
    if ((o.present === true || (await this.has(hex, file.size, algorithm))) && (await this.intact(hex, algorithm))) {
      if (o.onHeld) o.onHeld(file.size);
      else o.onBytes?.(file.size);
      return { path: dest, reused: true };
    }
    // A file of the wrong size under a digest name is not ours to trust: replace it.
    await fsp.rm(dest, { force: true, recursive: false }).catch(() => undefined);
    await this.fetcher.download({
      url: file.url,
      dest,
      partial: this.partialPathFor(hex, algorithm),
      size: file.size,
      sha256: hex,
      ...(algorithm !== 'sha256' ? { algorithm } : {}),
      allowInsecureHttp: o.allowInsecureHttp,
      ...(o.allowFileUrls ? { allowFileUrls: true } : {}),
      ...(o.limits ? { limits: o.limits } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.onBytes ? { onBytes: o.onBytes } : {}),
      ...(o.onHeld ? { onHeld: o.onHeld } : {}),
    });
    return { path: dest, reused: false };
  }

  private handedOut(): Promise<Map<string, Set<string>>> {
    this.handed ??= (async () => {
      const map = new Map<string, Set<string>>();
      let names: string[] = [];
      try {
        names = await fsp.readdir(path.join(this.dir, HANDED_OUT));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      for (const name of names) {
        if (!RECORD_NAME_RE.test(name)) continue;
        // readOwnFile: a FIFO planted among the records is ERR_STATE_CORRUPT naming it, never a hang.
        for (const line of (await readOwnFile(path.join(this.dir, HANDED_OUT, name))).toString('utf8').split('\n')) {
          const [key, ino] = line.split(' ');
          if (!key || !ino) continue;
          const set = map.get(key) ?? new Set<string>();
          set.add(ino);
          map.set(key, set);
        }
      }
      return map;
    })();
    return this.handed;
  }

  /** True when the blob at `blobPath` (a path under this cache; `key`: its `<algorithm>/<hex>`) was handed out as a hard link. */
  async isHandedOut(blobPath: string, key = path.relative(this.dir, blobPath).split(path.sep).join('/')): Promise<boolean> {
    const inodes = (await this.handedOut()).get(key);
    if (!inodes) return false; // never handed out: no need to look at the file
    const ino = inodeOf(blobPath);
    return ino !== null && inodes.has(ino);
  }

  /** True for a blob path under this cache that was never handed out (so it may be hard-linked into an install dir). */
  async mayLink(blobPath: string): Promise<boolean> {
    const rel = path.relative(this.dir, blobPath);
    if (rel.startsWith('..') || path.isAbsolute(rel) || !/^(sha256|sha512)[/\\][0-9a-f]+$/.test(rel)) return false;
    return !(await this.isHandedOut(blobPath, rel.split(path.sep).join('/')));
  }

  /**
   * Durably records that the blobs at `blobPaths` (paths under this cache) are being handed out
   * as hard links, under the record `name` (an operation id). Call before linking them.
   */
  async recordHandedOut(name: string, blobPaths: string[]): Promise<void> {
    if (!RECORD_NAME_RE.test(name)) throw new Error(`invalid hand-out record name ${JSON.stringify(name)}`);
    if (blobPaths.length === 0) return;
    const lines: string[] = [];
    const map = await this.handedOut();
    for (const p of blobPaths) {
      const ino = inodeOf(p);
      if (ino === null) continue;
      const key = path.relative(this.dir, p).split(path.sep).join('/');
      lines.push(`${key} ${ino}`);
      const set = map.get(key) ?? new Set<string>();
      set.add(ino);
      map.set(key, set);
    }
    await fsp.mkdir(path.join(this.dir, HANDED_OUT), { recursive: true });
    await writeFileDurable(path.join(this.dir, HANDED_OUT, name), lines.join('\n') + '\n');
  }

  /** False when a handed-out blob's bytes no longer match its digest (a local edit of the installed file); the blob is then removed. */
  private async intact(hex: string, algorithm: BlobAlgorithm): Promise<boolean> {
    const blob = this.pathFor(hex, algorithm);
    if (!(await this.isHandedOut(blob, `${algorithm}/${hex}`))) return true;
    const h = createHash(algorithm);
    for await (const chunk of createReadStream(blob)) h.update(chunk as Buffer);
    if (h.digest('hex') === hex) return true;
    await fsp.rm(blob, { force: true });
    return false;
  }

  /** Drops the hand-out records of removed blobs (`removed`: `<algorithm>/<hex>` keys). */
  private async pruneHandedOut(removed: Set<string>): Promise<void> {
    if (removed.size === 0) return;
    const d = path.join(this.dir, HANDED_OUT);
    let names: string[];
    try {
      names = await fsp.readdir(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const name of names) {
      const file = path.join(d, name);
      const lines = (await readOwnFile(file)).toString('utf8').split('\n').filter(Boolean);
      const kept: string[] = [];
      for (const line of lines) {
        const key = line.split(' ')[0];
        if (key && !removed.has(key)) kept.push(line);
      }
      if (kept.length === 0) await fsp.rm(file, { force: true });
      else if (kept.length !== lines.length) await writeFileDurable(file, kept.join('\n') + '\n');
    }
    this.handed = null;
  }

  /**
   * Removes every blob (and leftover partial) whose digest is not in `keep`; returns the bytes
   * freed. Entries that are not digests are left alone. Blobs being downloaded right now are kept,
   * and so are partials written to within PARTIAL_GRACE_MS by `clock`'s wall time (file times are wall times).
   */
  async prune(keep: Set<string>, clock: Clock = systemClock): Promise<number> {
    const keepHex = new Set([...keep].map((k) => k.toLowerCase()));
    for (const key of this.inflight.keys()) keepHex.add(key.slice(key.indexOf(':') + 1));
    let freed = 0;
    const removed = new Set<string>();
    for (const sub of ['sha256', 'partial']) {
      const d = path.join(this.dir, sub);
      let names: string[];
      try {
        names = await fsp.readdir(d);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      const gone = names.filter((name) => SHA256_RE.test(name) && !keepHex.has(name));
      // Removals of independent files: a few in flight at once (a release can be 10,000 blobs).
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < gone.length) {
          const name = gone[next++]!;
          const p = path.join(d, name);
          try {
            const st = await fsp.lstat(p);
            if (!st.isFile()) continue;
            // A partial written to recently may be another process's download in progress.
            if (sub === 'partial' && clock.now().getTime() - st.mtimeMs < PARTIAL_GRACE_MS) continue;
            await fsp.rm(p, { force: true });
            freed += st.size;
            if (sub === 'sha256') removed.add(`sha256/${name}`);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(8, gone.length) }, worker));
    }
    await this.pruneHandedOut(removed);
    return freed;
  }
}

/**
 * Content-addressed cache of verified release files: `<dir>/sha256/<hex>` holds bytes whose
 * sha256 is `<hex>`; downloads in progress live in `<dir>/partial/<hex>` so they can resume.
 * A file enters `sha256/` only by an atomic rename after its size and hash verified.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Limits } from '../limits';
import { VerificationError } from '../../../src-shared/errors';
import { writeFileDurable } from '../fs/atomic';
import { normaliseFeedUrl, redactUrl } from './url-policy';
import type { Fetcher } from './fetcher';
import { defaultFetcher } from './default-fetcher';

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

export class BlobCache {
  private readonly inflight = new Map<string, Promise<{ path: string; reused: boolean }>>();

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
    try {
      const st = await fsp.lstat(this.pathFor(digest, algorithm));
      return st.isFile() && st.size === size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
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
    if (await this.has(hex, file.size, algorithm)) {
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

  /**
   * Removes every blob (and leftover partial) whose digest is not in `keep`; returns the bytes
   * freed. Entries that are not digests are left alone. Blobs being downloaded right now are kept.
   */
  async prune(keep: Set<string>): Promise<number> {
    const keepHex = new Set([...keep].map((k) => k.toLowerCase()));
    for (const key of this.inflight.keys()) keepHex.add(key.slice(key.indexOf(':') + 1));
    let freed = 0;
    for (const sub of ['sha256', 'partial']) {
      const d = path.join(this.dir, sub);
      let names: string[];
      try {
        names = await fsp.readdir(d);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      for (const name of names) {
        if (!SHA256_RE.test(name) || keepHex.has(name)) continue;
        const p = path.join(d, name);
        try {
          const st = await fsp.lstat(p);
          if (!st.isFile()) continue;
          // A partial written to recently may be another process's download in progress.
          if (sub === 'partial' && Date.now() - st.mtimeMs < PARTIAL_GRACE_MS) continue;
          await fsp.rm(p, { force: true });
          freed += st.size;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
    }
    return freed;
  }
}

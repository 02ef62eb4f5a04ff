/**
 * Downloads every artifact of a verified release into the content-addressed cache (reusing what is
 * already there), with progress, and lays out a per-version view of the release for humans.
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, promises as fsp, symlinkSync } from 'node:fs';
import path from 'node:path';
import { OperationError, UpkeepError } from '../../src-shared/errors';
import type { ReleaseArchive, ReleaseFile } from './feed/release';
import type { LocalArtifact } from './drivers/driver';
import { BlobCache, type BlobAlgorithm } from './net/blob-cache';
import type { Fetcher } from './net/fetcher';
import { ProgressMeter, type ProgressSample } from './net/progress';
import type { Limits } from './limits';
import type { Clock } from './clock';
import { writeFileDurable } from './fs/atomic';
import { assertFreeSpace, diskFullError, isDiskFull } from './fs/space';
import { Breather } from './fs/meta';

export type DownloadableItem = ReleaseFile | ReleaseArchive;

/** The key of an item in `FetchedRelease.artifacts`: a file's path, an archive's name. */
export function artifactKey(item: DownloadableItem): string {
  return item.kind === 'file' ? item.path : item.name;
}

export interface FetchedRelease {
  /** artifactKey → verified bytes in the cache */
  artifacts: Map<string, LocalArtifact>;
  /** Bytes of every artifact. */
  bytes: number;
  /** Bytes that were already in the cache (or a resumed partial) and not moved by this run. */
  reusedBytes: number;
}

export interface FetchProgress extends ProgressSample {
  files_done: number;
  files_total: number;
  /** The item in flight. */
  file?: string;
}

export interface FetchReleaseOptions {
  items: DownloadableItem[];
  cacheDir: string;
  fetcher: Fetcher;
  clock: Clock;
  allowInsecureHttp: boolean;
  /** True only for a release of a `file:` feed: its items may be `file:` URLs (DownloadOptions.allowFileUrls). */
  allowFileUrls?: boolean;
  limits: Limits;
  signal?: AbortSignal;
  /** Parallel transfers (small: feeds are often one server). */
  concurrency?: number;
  /**
   * Space the operation will need after the download on other directories (staging, backups;
   * bytes). Checked together with the bytes still to download before anything is fetched.
   */
  reserve?: Array<{ dir: string; bytes: number }>;
  onProgress?: (p: FetchProgress) => void;
  /**
   * The release is declared unverified (`trust: { none: true }`): items with neither a digest nor
   * a verifier are fetched anyway. Otherwise such an item is refused with ERR_APPLY_FAILED before
   * anything is downloaded.
   */
  unverified?: boolean;
}

/**
 * The digest the cache addresses an item by: SHA-256 when the feed gives it, else SHA-512; null
 * when the feed gives none (the item's verifier checks the bytes, or the release is unverified).
 */
function digestOf(item: DownloadableItem): { hex: string; algorithm: BlobAlgorithm } | null {
  if (item.digests.sha256) return { hex: item.digests.sha256.toLowerCase(), algorithm: 'sha256' };
  if (item.digests.sha512) return { hex: item.digests.sha512.toLowerCase(), algorithm: 'sha512' };
  return null;
}

/** SHA-256 of a file's bytes, streamed (installed.json records every file by SHA-256). */
async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Fetches (or reuses) every item; each one's size and SHA-256 verified before it enters the
 * cache. Speed and ETA count only bytes this run moved (reused and resumed bytes count toward
 * `bytes_done` only). An item without a digest is fetched whole and addressed by its SHA-256
 * (`BlobCache.fetchUnaddressed`); it needs a verifier unless `unverified` (else ERR_APPLY_FAILED).
 * The first failure stops every transfer and is what the caller gets.
 * Refuses with ERR_DISK_FULL before fetching anything when the bytes still to download plus
 * `reserve` do not fit (summed per filesystem).
 */
export async function fetchRelease(o: FetchReleaseOptions): Promise<FetchedRelease> {
  const cache = new BlobCache(o.cacheDir, o.fetcher);
  let missing = 0;
  const addressed = new Map<string, DownloadableItem>();
  for (const x of o.items) {
    const d = digestOf(x);
    if (d) addressed.set(`${d.algorithm}:${d.hex}`, x);
    else if (!x.verify && !o.unverified) {
      throw new OperationError('ERR_APPLY_FAILED', `${artifactKey(x)} has no SHA-256 or SHA-512 digest and no signature; Upkeep cannot verify it before install`, { item: artifactKey(x) });
    } else missing += x.size;
  }
  const present = new Set<string>(); // looked at once here, not again per fetch
  const breather = new Breather();
  for (const [key, f] of addressed) {
    const d = digestOf(f)!;
    if (cache.hasNow(d.hex, f.size, d.algorithm)) present.add(key);
    else missing += f.size;
    await breather.tick();
  }
  await assertFreeSpace([{ dir: o.cacheDir, bytes: missing, entries: o.items.length - present.size }, ...(o.reserve ?? [])]);
  const artifacts = new Map<string, LocalArtifact>();
  const total = o.items.reduce((n, f) => n + f.size, 0);
  let filesDone = 0;
  const inFlight: string[] = [];
  let reusedBytes = 0;
  const meter = new ProgressMeter({
    total,
    hz: o.limits.progressHz,
    now: () => o.clock.monoMs(),
    emit: (s) => {
      const file = inFlight[inFlight.length - 1];
      o.onProgress?.({ ...s, files_done: filesDone, files_total: o.items.length, ...(file !== undefined ? { file } : {}) });
    },
  });
  const queue = [...o.items];
  const stop = new AbortController();
  const onAbort = () => stop.abort(o.signal?.reason);
  o.signal?.addEventListener('abort', onAbort, { once: true });
  if (o.signal?.aborted) onAbort();
  const signal = stop.signal;
  const worker = async (): Promise<void> => {
    for (let f = queue.shift(); f; f = queue.shift()) {
      if (signal.aborted) throw signal.reason ?? new Error('aborted');
      const key = artifactKey(f);
      const digest = digestOf(f);
      inFlight.push(key);
      try {
        if (!digest) {
          const u = await cache.fetchUnaddressed({ url: f.url, size: f.size }, {
            allowInsecureHttp: o.allowInsecureHttp, ...(o.allowFileUrls ? { allowFileUrls: true } : {}), limits: o.limits, signal, onBytes: (n) => meter.add(n),
          });
          artifacts.set(key, { file: u.path, size: f.size, sha256: u.sha256 });
          filesDone += 1;
          continue;
        }
        const r = await cache.fetch({ url: f.url, sha256: digest.hex, size: f.size, algorithm: digest.algorithm }, {
          allowInsecureHttp: o.allowInsecureHttp,
          ...(o.allowFileUrls ? { allowFileUrls: true } : {}),
          limits: o.limits,
          signal,
          present: present.has(`${digest.algorithm}:${digest.hex}`),
          onBytes: (n) => meter.add(n),
          onHeld: (n) => {
            reusedBytes += n;
            meter.skip(n);
          },
        });
        artifacts.set(key, { file: r.path, size: f.size, sha256: digest.algorithm === 'sha256' ? digest.hex : await sha256File(r.path) });
      } finally {
        inFlight.splice(inFlight.indexOf(key), 1);
      }
      filesDone += 1;
    }
  };
  const n = Math.max(1, Math.min(o.concurrency ?? 4, o.items.length));
  const results = await Promise.allSettled(Array.from({ length: n }, () => worker().catch((err) => {
    stop.abort(err);
    throw err;
  })));
  o.signal?.removeEventListener('abort', onAbort);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    // Report the error that started it, not a sibling's "aborted".
    const cause: unknown = signal.reason ?? failed.reason;
    if (isDiskFull(cause) || (cause instanceof UpkeepError && cause.code === 'ERR_DISK_FULL')) {
      // Out of space: the partial files of the transfers stopped beside it would only hold on to
      // the space the user must free; they go too (a resume is not worth a full disk).
      for (const f of addressed.values()) {
        const d = digestOf(f)!;
        if (!artifacts.has(artifactKey(f))) await fsp.rm(cache.partialPathFor(d.hex, d.algorithm), { force: true }).catch(() => undefined);
      }
      if (!(cause instanceof UpkeepError)) throw diskFullError(o.cacheDir, missing);
    }
    throw cause;
  }
  meter.finish();
  return { artifacts, bytes: total, reusedBytes: Math.min(reusedBytes, total) };
}

/**
 * Runs each item's own verification hook (signatures over the file bytes: Sparkle edSignature,
 * minisign) on its downloaded copy; `onEach` is told after each item. Throws the hook's error.
 */
export async function verifyArtifacts(items: DownloadableItem[], artifacts: ReadonlyMap<string, LocalArtifact>, signal: AbortSignal, onEach: (done: number, key: string) => void): Promise<void> {
  let done = 0;
  for (const item of items) {
    const key = artifactKey(item);
    const local = artifacts.get(key);
    if (!local) throw new OperationError('ERR_INTERNAL', `${key} was not downloaded`);
    if (item.verify) await item.verify(local.file, signal);
    onEach(++done, key);
  }
}

/**
 * Makes <releasesDir>/<version>/ hold the release's files under their own paths (symbolic links
 * to the cache blobs: never hard links, whose removal with the view would change the link count,
 * and so the ctime, of installed files sharing a blob's inode and void their stat fingerprints;
 * a copy only where symbolic links are impossible) plus the signed manifest, and returns it.
 */
export async function materialiseRelease(releasesDir: string, version: string, artifacts: ReadonlyMap<string, LocalArtifact>, manifestBytes: Uint8Array | null): Promise<string> {
  const dir = path.join(releasesDir, version);
  await fsp.rm(dir, { recursive: true, force: true });
  // Metadata calls made synchronously, a slice at a time (fs/meta.ts).
  const made = new Set<string>();
  const breather = new Breather();
  for (const [rel, { file: blob }] of artifacts) {
    const dest = path.join(dir, ...rel.split('/'));
    const parent = path.dirname(dest);
    if (!made.has(parent)) {
      mkdirSync(parent, { recursive: true });
      made.add(parent);
    }
    try {
      symlinkSync(path.resolve(blob), dest);
    } catch {
      await fsp.copyFile(blob, dest);
    }
    await breather.tick();
  }
  if (manifestBytes) await writeFileDurable(path.join(dir, '.upkeep-manifest.json'), manifestBytes);
  return dir;
}

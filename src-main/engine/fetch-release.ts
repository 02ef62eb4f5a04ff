/**
 * Downloads every file of a verified release into the content-addressed cache (reusing what is
 * already there), with progress, and lays out a per-version view of the release for humans.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { RegularManifestFile } from '../../src-shared/feed-schema';
import { BlobCache } from './net/blob-cache';
import { ProgressMeter } from './net/progress';
import { resolveFeedUrl } from './net/url-policy';
import type { Limits } from './limits';
import { writeFileDurable } from './fs/atomic';
import { assertFreeSpace } from './fs/space';

export interface FetchedRelease {
  /** path in the release -> verified blob path in the cache */
  blobs: Map<string, string>;
  bytes: number;
  reusedBytes: number;
}

export interface FetchReleaseOptions {
  /** The regular files to fetch (symbolic link entries have no bytes). */
  files: RegularManifestFile[];
  manifestUrl: string;
  cacheDir: string;
  allowInsecureHttp: boolean;
  limits: Limits;
  signal?: AbortSignal;
  /** Parallel transfers (small: feeds are often one server). */
  concurrency?: number;
  /**
   * Space the operation will need after the download on other directories (staging, backups;
   * bytes). Checked together with the bytes still to download before anything is fetched.
   */
  reserve?: Array<{ dir: string; bytes: number }>;
  onProgress?: (p: { bytes_done: number; bytes_total: number; speed_bps: number; eta_s: number | null; files_done: number; files_total: number; file?: string }) => void;
}

/**
 * Fetches (or reuses) every file; each one's size and SHA-256 verified before it enters the cache.
 * Refuses with ERR_DISK_FULL before fetching anything when the bytes still to download plus
 * `reserve` do not fit (summed per filesystem).
 */
export async function fetchRelease(o: FetchReleaseOptions): Promise<FetchedRelease> {
  const cache = new BlobCache(o.cacheDir);
  let missing = 0;
  for (const f of new Map(o.files.map((x) => [x.sha256, x])).values()) if (!(await cache.has(f.sha256, f.size))) missing += f.size;
  await assertFreeSpace([{ dir: o.cacheDir, bytes: missing }, ...(o.reserve ?? [])]);
  const blobs = new Map<string, string>();
  const total = o.files.reduce((n, f) => n + f.size, 0);
  let filesDone = 0;
  let current: string | undefined;
  let reusedBytes = 0;
  const meter = new ProgressMeter({
    total,
    hz: o.limits.progressHz,
    emit: (s) => o.onProgress?.({ ...s, files_done: filesDone, files_total: o.files.length, ...(current ? { file: current } : {}) }),
  });
  const queue = [...o.files];
  // The first failure stops every worker: nothing keeps writing into the cache after we return.
  const stop = new AbortController();
  const onAbort = () => stop.abort(o.signal?.reason);
  o.signal?.addEventListener('abort', onAbort, { once: true });
  if (o.signal?.aborted) onAbort();
  const signal = stop.signal;
  const worker = async (): Promise<void> => {
    for (let f = queue.shift(); f; f = queue.shift()) {
      if (signal.aborted) throw signal.reason ?? new Error('aborted');
      current = f.path;
      const url = resolveFeedUrl(o.manifestUrl, f.url);
      const r = await cache.fetch({ url, sha256: f.sha256, size: f.size }, {
        allowInsecureHttp: o.allowInsecureHttp,
        limits: o.limits,
        signal,
        onBytes: (n) => meter.add(n),
      });
      if (r.reused) {
        reusedBytes += f.size;
        meter.add(f.size);
      }
      blobs.set(f.path, r.path);
      filesDone += 1;
    }
  };
  const n = Math.max(1, Math.min(o.concurrency ?? 4, o.files.length));
  const results = await Promise.allSettled(Array.from({ length: n }, () => worker().catch((err) => {
    stop.abort(err);
    throw err;
  })));
  o.signal?.removeEventListener('abort', onAbort);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    // Report the error that started it, not a sibling's "aborted".
    throw signal.reason ?? failed.reason;
  }
  meter.finish();
  return { blobs, bytes: total, reusedBytes };
}

/**
 * Makes <releasesDir>/<version>/ hold the release's files under their own paths (hard links to
 * the cache, a copy only where linking is impossible) plus the signed manifest, and returns it.
 */
export async function materialiseRelease(releasesDir: string, version: string, blobs: Map<string, string>, manifestBytes: Uint8Array): Promise<string> {
  const dir = path.join(releasesDir, version);
  await fsp.rm(dir, { recursive: true, force: true });
  for (const [rel, blob] of blobs) {
    const dest = path.join(dir, ...rel.split('/'));
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    try {
      await fsp.link(blob, dest);
    } catch {
      await fsp.copyFile(blob, dest);
    }
  }
  await writeFileDurable(path.join(dir, '.upkeep-manifest.json'), manifestBytes);
  return dir;
}

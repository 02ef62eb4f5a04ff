/**
 * Every bound the engine enforces, in one object (sizes, redirects, retries, timeouts, counts).
 * Tests may pass a copy with smaller numbers; production code reads these defaults.
 */
export interface Limits {
  /** Largest channel index envelope accepted, in bytes. */
  maxIndexBytes: number;
  /** Largest manifest envelope accepted when the index gives no size (it always should). */
  maxManifestBytes: number;
  /** Most files one manifest may list. */
  maxManifestFiles: number;
  /** Redirects followed per request. */
  maxRedirects: number;
  /** Attempts per request after the first one fails with a retryable error. */
  retries: number;
  /** First backoff delay; doubles each retry up to maxBackoffMs (with jitter). */
  backoffBaseMs: number;
  maxBackoffMs: number;
  /** No byte received for this long fails the request (connect or idle). */
  idleTimeoutMs: number;
  /** Whole metadata request (index, manifest). */
  metadataTimeoutMs: number;
  /** Progress events per second at most. */
  progressHz: number;
  /** Hook and step commands: default timeout and captured output kept per stream. */
  hookTimeoutMs: number;
  maxCapturedOutputBytes: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxIndexBytes: 4 * 1024 * 1024,
  maxManifestBytes: 32 * 1024 * 1024,
  maxManifestFiles: 100_000,
  maxRedirects: 5,
  retries: 4,
  backoffBaseMs: 250,
  maxBackoffMs: 8_000,
  idleTimeoutMs: 30_000,
  metadataTimeoutMs: 60_000,
  progressHz: 10,
  hookTimeoutMs: 300_000,
  maxCapturedOutputBytes: 64 * 1024,
});

/** Bounds on one archive extraction (`engine/archive/extract.ts`). */
export interface ArchiveLimits {
  /** Most entries (files, directories, links) one archive may hold. */
  maxEntries: number;
  /** Most bytes all extracted files may add up to (hard-link copies included). */
  maxTotalBytes: number;
  /**
   * Most decompressed bytes per archive byte (tar stream or zip entries vs the archive's size on
   * disk), enforced once more than `ARCHIVE_RATIO_GRACE_BYTES` have been decompressed.
   */
  maxRatio: number;
}

/** Decompressed bytes always allowed before the ratio bound applies (tiny archives of empty files). */
export const ARCHIVE_RATIO_GRACE_BYTES = 1024 * 1024;

export const DEFAULT_ARCHIVE_LIMITS: Readonly<ArchiveLimits> = Object.freeze({
  maxEntries: 100_000,
  maxTotalBytes: 4 * 1024 * 1024 * 1024,
  maxRatio: 200,
});

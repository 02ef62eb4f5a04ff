/**
 * Fetches small documents (channel index, manifest) from http(s), file:// URLs or plain paths,
 * with conditional GET, bounded size, bounded redirects (followed here, each hop re-checked by
 * the URL policy), bounded retries with exponential backoff, and idle/overall timeouts.
 *
 * The retry loop, error classification and status mapping shared with `download.ts` live here
 * too, so both edges behave identically (downloads open their requests with node's http client,
 * net/http-get.ts, under the same URL policy, redirect rules and proxy settings).
 *
 * HTTP goes through undici's `request()` with a per-call `Agent` carrying the idle timeouts;
 * undici v7 follows no redirects by default, which is what we want: we follow them ourselves so
 * we can count them and apply `checkRedirectAllowed` before connecting to the next host.
 */
import { promises as fsp } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Dispatcher } from 'undici';
import { createDispatcher } from './proxy';
import { decodedBody, parseContentEncoding } from './content-encoding';
import { DEFAULT_LIMITS, type Limits } from '../limits';
import { systemClock } from '../clock';
import { NetworkError, NotFoundError, UpkeepError, VerificationError } from '../../../src-shared/errors';
import type { DownloadOptions } from './download';
import { checkRedirectAllowed, checkUrlAllowed, normaliseFeedUrl, redactUrl, resolveRelative } from './url-policy';

/** undici, loaded on the first request (it costs tens of ms and ~20 MB at every start otherwise). */
const undici = (): typeof import('undici') => require('undici') as typeof import('undici');

export interface FetchOptions {
  maxBytes: number;
  etag?: string | null;
  lastModified?: string | null;
  allowInsecureHttp: boolean;
  limits?: Limits;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

export type FetchResult =
  | { notModified: true }
  | { notModified: false; bytes: Buffer; etag: string | null; lastModified: string | null; url: string };

/**
 * The network edge of the engine (python-tuf's `FetcherInterface`): small documents into memory
 * and artifacts onto disk, both from http(s), file:// URLs or plain paths, bounded and retrying.
 * The production implementation is `defaultFetcher` (net/default-fetcher.ts); tests inject an
 * in-memory one.
 */
export interface Fetcher {
  /** A whole document of at most `o.maxBytes` bytes (conditional GET with `etag`/`lastModified`). */
  fetchBytes(url: string, o: FetchOptions): Promise<FetchResult>;
  /**
   * Streams `o.url` into `o.partial` (resuming what it holds), checking size and SHA-256 while
   * writing, then renames it to `o.dest`. Throws ERR_HASH_MISMATCH / ERR_SIZE_MISMATCH /
   * ERR_DOWNLOAD_FAILED / ERR_CANCELLED; `dest` exists only with verified bytes.
   */
  download(o: DownloadOptions): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Shared plumbing (also used by download.ts)
// ---------------------------------------------------------------------------------------------

/** A failure worth another attempt; `final` is what the caller sees when the budget runs out. */
export class RetryableFailure extends Error {
  constructor(
    readonly final: UpkeepError,
    readonly retryAfterMs?: number,
  ) {
    super(final.message);
  }
}

export type ResponseBody = Dispatcher.ResponseData['body'];

export interface OpenedResponse {
  statusCode: number;
  headers: Dispatcher.ResponseData['headers'];
  body: ResponseBody;
  /** The URL that answered, after redirects. */
  url: string;
  /** Content codings the server applied although identity was asked for (`gzip`, `br`, …); [] for none. */
  codings: string[];
  /** The body decoded from `codings` (net/content-encoding.ts); iterate it instead of `body` for the content. */
  decoded(): AsyncIterable<Buffer>;
}

const USER_AGENT = 'upkeep';
/** Headers never forwarded to another origin on a redirect (signed asset URLs, CDNs). */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * An undici dispatcher whose connect, header and body timeouts are all `limits.idleTimeoutMs`,
 * going through the configured forward proxy where the proxy settings say so (net/proxy.ts).
 */
export function createAgent(limits: Limits): Dispatcher {
  const idle = limits.idleTimeoutMs;
  return createDispatcher({ connectTimeout: idle, headersTimeout: idle, bodyTimeout: idle, keepAliveTimeout: 4_000 });
}

/** First value of a response header, or undefined. */
export function headerValue(headers: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  if (Array.isArray(v)) return v[0];
  return v ?? undefined;
}

/** Throws ERR_CANCELLED when the caller's signal has fired. */
export function throwIfCancelled(signal: AbortSignal | undefined, url: string): void {
  if (signal?.aborted) throw new NetworkError('ERR_CANCELLED', `Cancelled: ${redactUrl(url)}`, { url: redactUrl(url) });
}

/**
 * Sends a GET to `url` and follows up to `maxRedirects` redirects itself, re-checking each hop
 * with the URL policy before connecting. Returns the first non-redirect response with its body
 * unread (the caller must consume or destroy it). Loops and over-long chains throw
 * ERR_TOO_MANY_REDIRECTS; credential headers are dropped when a redirect changes origin.
 */
export async function openHttp(
  url: string,
  o: { agent: Dispatcher; headers: Record<string, string>; allowInsecureHttp: boolean; maxRedirects: number; signal?: AbortSignal },
): Promise<OpenedResponse> {
  checkUrlAllowed(url, o);
  let current = url;
  let headers: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-encoding': 'identity', ...lowerKeys(o.headers) };
  const seen = new Set<string>([url]);
  for (let hops = 0; ; hops++) {
    const res = await undici().request(current, { method: 'GET', dispatcher: o.agent, headers, signal: o.signal });
    const location = headerValue(res.headers, 'location');
    if (!REDIRECT_STATUSES.has(res.statusCode) || location === undefined) {
      const at = current;
      const codings = parseContentEncoding(res.headers['content-encoding']);
      return { statusCode: res.statusCode, headers: res.headers, body: res.body, url: at, codings, decoded: () => decodedBody(res.body, codings, at) };
    }
    await discard(res.body);
    const next = resolveRelative(current, location);
    if (seen.has(next)) {
      throw new NetworkError('ERR_TOO_MANY_REDIRECTS', `Redirect loop at ${redactUrl(next)}`, { url: redactUrl(url), hops: hops + 1 });
    }
    if (hops + 1 > o.maxRedirects) {
      throw new NetworkError('ERR_TOO_MANY_REDIRECTS', `More than ${o.maxRedirects} redirects from ${redactUrl(url)}`, {
        url: redactUrl(url),
        maxRedirects: o.maxRedirects,
      });
    }
    checkRedirectAllowed(current, next, o);
    if (new URL(next).origin !== new URL(current).origin) headers = withoutKeys(headers, CREDENTIAL_HEADERS);
    seen.add(next);
    current = next;
  }
}

/** Reads and drops a small body (redirect, error page) so the connection can be reused. */
export async function discard(body: ResponseBody): Promise<void> {
  try {
    await body.dump({ limit: 64 * 1024 });
  } catch {
    dropBody(body);
  }
}

/**
 * Destroys a body we no longer want. undici reports a destroy as an 'error' event, which would be
 * an uncaught exception with no listener attached, so one is attached first.
 */
export function dropBody(body: ResponseBody): void {
  if (body.destroyed) return;
  body.on('error', () => undefined);
  body.destroy();
}

/**
 * Maps a non-success HTTP status to the error the caller sees: 404/410 => ERR_NOT_FOUND
 * (final), other 4xx => ERR_DOWNLOAD_FAILED (final), 408/429/5xx => retryable.
 */
export function statusFailure(statusCode: number, headers: Dispatcher.ResponseData['headers'], url: string): Error {
  const details = { url: redactUrl(url), status: statusCode };
  if (statusCode === 404 || statusCode === 410) return new NotFoundError('ERR_NOT_FOUND', `Not found (HTTP ${statusCode}): ${redactUrl(url)}`, details);
  const err = new NetworkError('ERR_DOWNLOAD_FAILED', `HTTP ${statusCode} from ${redactUrl(url)}`, details);
  if (statusCode >= 500 || statusCode === 408 || statusCode === 429) return new RetryableFailure(err, retryAfterMs(headers));
  return err;
}

function retryAfterMs(headers: Dispatcher.ResponseData['headers']): number | undefined {
  const v = headerValue(headers, 'retry-after');
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - systemClock.now().getTime());
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
/** TLS failures: retrying will not make a bad certificate good. */
const FINAL_CODE_RE = /^(ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERR_SSL_|ERR_INVALID_URL)/;

/**
 * Classifies anything thrown while talking to a server: UpkeepErrors and RetryableFailures pass
 * through; cancellation becomes ERR_CANCELLED; idle timeouts become a retryable
 * ERR_DOWNLOAD_TIMEOUT; TLS errors a final ERR_DOWNLOAD_FAILED; other socket errors (reset,
 * refused, closed early) a retryable ERR_DOWNLOAD_FAILED.
 */
export function classifyError(err: unknown, url: string, signal?: AbortSignal): Error {
  if (err instanceof UpkeepError || err instanceof RetryableFailure) return err;
  if (signal?.aborted) return new NetworkError('ERR_CANCELLED', `Cancelled: ${redactUrl(url)}`, { url: redactUrl(url) });
  const code = errCode(err);
  const message = err instanceof Error ? err.message : String(err);
  const details = { url: redactUrl(url), cause: code ?? message };
  if (code !== undefined && TIMEOUT_CODES.has(code)) {
    return new RetryableFailure(new NetworkError('ERR_DOWNLOAD_TIMEOUT', `Timed out waiting for ${redactUrl(url)}: ${message}`, details));
  }
  const failure = new NetworkError('ERR_DOWNLOAD_FAILED', `Transfer from ${redactUrl(url)} failed: ${message}`, details);
  if (code !== undefined && FINAL_CODE_RE.test(code)) return failure;
  return new RetryableFailure(failure);
}

function errCode(err: unknown): string | undefined {
  let e: unknown = err;
  // undici wraps socket errors (UND_ERR_SOCKET with cause ECONNRESET): the outer code decides.
  for (let i = 0; i < 3 && e && typeof e === 'object'; i++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string') return c;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The delay before retry number `retry` (1-based): base doubling up to the cap, ±10% jitter. */
export function backoffDelayMs(retry: number, limits: Limits, retryAfter?: number): number {
  const exp = Math.min(limits.maxBackoffMs, limits.backoffBaseMs * 2 ** Math.max(0, retry - 1));
  const jittered = Math.min(limits.maxBackoffMs, exp * (0.9 + Math.random() * 0.2));
  const floor = retryAfter === undefined ? 0 : Math.min(limits.maxBackoffMs, retryAfter);
  return Math.max(jittered, floor);
}

/** Waits `ms`, or throws ERR_CANCELLED as soon as `signal` fires. */
export function sleep(ms: number, signal: AbortSignal | undefined, url: string): Promise<void> {
  throwIfCancelled(signal, url);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new NetworkError('ERR_CANCELLED', `Cancelled: ${redactUrl(url)}`, { url: redactUrl(url) }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `attempt` until it succeeds, throws a final error, or `1 + limits.retries` attempts have
 * failed with RetryableFailures (then the last one's `final` error is thrown, with the attempt
 * count in its details). Sleeps with exponential backoff between attempts.
 */
export async function withRetries<T>(
  attempt: (n: number) => Promise<T>,
  o: { limits: Limits; url: string; signal?: AbortSignal; classify?: (err: unknown) => Error },
): Promise<T> {
  const attempts = 1 + Math.max(0, o.limits.retries);
  for (let n = 1; ; n++) {
    throwIfCancelled(o.signal, o.url);
    try {
      return await attempt(n);
    } catch (raw) {
      const err = o.classify ? o.classify(raw) : classifyError(raw, o.url, o.signal);
      if (!(err instanceof RetryableFailure)) throw err;
      if (n >= attempts) {
        const f = err.final;
        throw new (f.constructor as typeof UpkeepError)(f.code, `${f.message} (after ${n} attempts)`, { ...f.details, attempts: n });
      }
      await sleep(backoffDelayMs(n, o.limits, err.retryAfterMs), o.signal, o.url);
    }
  }
}

function lowerKeys(h: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) out[k.toLowerCase()] = v;
  return out;
}

function withoutKeys(h: Record<string, string>, keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (!keys.includes(k)) out[k] = v;
  return out;
}

// ---------------------------------------------------------------------------------------------
// fetchBytes
// ---------------------------------------------------------------------------------------------

/**
 * Fetches a small document whole into memory, never more than `maxBytes` of it.
 * http(s): conditional GET (If-None-Match / If-Modified-Since) — a 304 resolves to
 * `{ notModified: true }`; 404 => ERR_NOT_FOUND; other 4xx => ERR_DOWNLOAD_FAILED; 5xx and
 * connection errors are retried with backoff, then ERR_DOWNLOAD_FAILED (ERR_DOWNLOAD_TIMEOUT when
 * the last attempt timed out, or when `limits.metadataTimeoutMs` passes for the whole call).
 * A larger body => ERR_SIZE_MISMATCH as soon as it is known. `file://` URLs and plain paths are
 * read from disk with the same bound (missing => ERR_NOT_FOUND) and get a weak ETag derived from
 * size and mtime, so polling a local feed is conditional too.
 */
export async function fetchBytes(url: string, o: FetchOptions): Promise<FetchResult> {
  const limits = o.limits ?? DEFAULT_LIMITS;
  const target = normaliseFeedUrl(url);
  checkUrlAllowed(target, o);
  throwIfCancelled(o.signal, target);
  if (target.startsWith('file:')) return readLocal(target, o);

  // One signal for the whole call: the caller's cancellation or the metadata deadline.
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), limits.metadataTimeoutMs);
  const signal = o.signal ? AbortSignal.any([o.signal, deadline.signal]) : deadline.signal;
  const agent = createAgent(limits);
  try {
    return await withRetries(() => fetchOnce(target, o, limits, agent, signal), { limits, url: target, signal });
  } catch (err) {
    // The combined signal reports the deadline as a cancellation; tell the two apart.
    if (err instanceof UpkeepError && err.code === 'ERR_CANCELLED' && deadline.signal.aborted && !o.signal?.aborted) {
      throw new NetworkError('ERR_DOWNLOAD_TIMEOUT', `No complete answer from ${redactUrl(target)} within ${limits.metadataTimeoutMs} ms`, {
        url: redactUrl(target),
      });
    }
    throw err;
  } finally {
    clearTimeout(timer);
    void agent.destroy().catch(() => undefined);
  }
}

async function fetchOnce(url: string, o: FetchOptions, limits: Limits, agent: Dispatcher, signal: AbortSignal): Promise<FetchResult> {
  const headers: Record<string, string> = { accept: 'application/json, */*;q=0.5', ...o.headers };
  if (o.etag) headers['if-none-match'] = o.etag;
  if (o.lastModified) headers['if-modified-since'] = o.lastModified;
  const res = await openHttp(url, { agent, headers, allowInsecureHttp: o.allowInsecureHttp, maxRedirects: limits.maxRedirects, signal });
  try {
    if (res.statusCode === 304 && (o.etag || o.lastModified)) {
      await discard(res.body);
      return { notModified: true };
    }
    if (res.statusCode !== 200) {
      await discard(res.body);
      throw statusFailure(res.statusCode, res.headers, res.url);
    }
    // Content-Length counts encoded bytes; the bound applies to what the body decodes to.
    const declared = res.codings.length > 0 ? NaN : Number(headerValue(res.headers, 'content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > o.maxBytes) throw tooLarge(res.url, o.maxBytes, declared);
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of res.decoded()) {
      total += chunk.length;
      if (total > o.maxBytes) throw tooLarge(res.url, o.maxBytes, total, res.codings);
      chunks.push(chunk);
    }
    return {
      notModified: false,
      bytes: Buffer.concat(chunks, total),
      etag: headerValue(res.headers, 'etag') ?? null,
      lastModified: headerValue(res.headers, 'last-modified') ?? null,
      url: res.url,
    };
  } finally {
    dropBody(res.body);
  }
}

function tooLarge(url: string, maxBytes: number, seen: number, codings: string[] = []): VerificationError {
  const enc = codings.length > 0 ? ` after decoding its Content-Encoding: ${codings.join(', ')}` : '';
  return new VerificationError('ERR_SIZE_MISMATCH', `${redactUrl(url)} is larger than the ${maxBytes} bytes allowed${enc}`, {
    url: redactUrl(url),
    maxBytes,
    atLeast: seen,
    ...(codings.length > 0 ? { content_encoding: codings.join(', ') } : {}),
  });
}

/** Reads a local document with a size bound; the ETag is derived from size, mtime and inode. */
async function readLocal(url: string, o: FetchOptions): Promise<FetchResult> {
  let file: string;
  try {
    file = fileURLToPath(url);
  } catch (err) {
    throw new NetworkError('ERR_DOWNLOAD_FAILED', `Cannot read ${url}: ${(err as Error).message}`, { url });
  }
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch (err) {
    throw localError(err, url);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new NetworkError('ERR_DOWNLOAD_FAILED', `${url} is not a regular file`, { url });
    const etag = `W/"${st.size.toString(16)}-${Math.trunc(st.mtimeMs).toString(16)}-${st.ino.toString(16)}"`;
    const lastModified = st.mtime.toUTCString();
    if (o.etag && o.etag === etag) return { notModified: true };
    if (st.size > o.maxBytes) throw tooLarge(url, o.maxBytes, st.size);
    // Read at most maxBytes + 1 so a file that grows after fstat is still caught.
    const buf = Buffer.alloc(Math.min(st.size, o.maxBytes) + 1);
    let total = 0;
    for (;;) {
      throwIfCancelled(o.signal, url);
      const { bytesRead } = await fh.read(buf, total, buf.length - total, total);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > o.maxBytes) throw tooLarge(url, o.maxBytes, total);
      if (total === buf.length) {
        throw new NetworkError('ERR_DOWNLOAD_FAILED', `${url} changed while it was being read`, { url });
      }
    }
    return { notModified: false, bytes: buf.subarray(0, total), etag, lastModified, url };
  } catch (err) {
    throw localError(err, url);
  } finally {
    await fh.close();
  }
}

/** Maps a filesystem error to ERR_NOT_FOUND (missing) or ERR_DOWNLOAD_FAILED. */
export function localError(err: unknown, url: string): Error {
  if (err instanceof UpkeepError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new NotFoundError('ERR_NOT_FOUND', `Not found: ${url}`, { url, status: 404 });
  return new NetworkError('ERR_DOWNLOAD_FAILED', `Cannot read ${url}: ${(err as Error).message}`, { url, cause: code });
}

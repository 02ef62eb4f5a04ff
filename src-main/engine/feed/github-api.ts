/**
 * The GitHub REST client of the `github` feed: every JSON API call (release lists, pagination,
 * conditional requests, rate limits) goes through ONE shared axios instance (`githubHttp`).
 * Artifact downloads do not come here: they stay on the engine's streaming fetcher.
 *
 * - Redirects are followed here, not by axios, so that each hop passes the URL policy and the
 *   token is attached only to requests whose origin (scheme, host, port) is `api_url`'s origin —
 *   never to another host, even a subdomain (axios' follow-redirects would keep it there).
 * - Every poll sends `If-None-Match` with the ETag remembered for that URL; a 304 answers from the
 *   remembered body (GitHub does not count 304s against the rate limit).
 * - Pagination follows the `Link: rel="next"` header, at most `maxPages` pages, and only while it
 *   stays on `api_url`'s origin: a next link to another scheme, host or port is refused with
 *   ERR_INSECURE_URL before anything is sent there (GitHub's links always name the API host; a
 *   link elsewhere is a hostile or broken server steering the client, token or not).
 * - `403`/`429` with `x-ratelimit-remaining: 0` or `retry-after` become ERR_RATE_LIMITED naming
 *   the reset time (`details.reset_at`, ISO 8601).
 */
import type { AxiosInstance, AxiosResponse } from 'axios';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { NetworkError, NotFoundError, StateCorruptError, UpkeepError, VerificationError } from '../../../src-shared/errors';
import type { Clock } from '../clock';
import { readJson, writeJsonDurable } from '../fs/atomic';
import type { Limits } from '../limits';
import { checkRedirectAllowed, checkUrlAllowed, redactUrl, resolveRelative } from '../net/url-policy';
import { nextPageUrl } from './github-releases';
import { axiosProxyOptions } from '../net/proxy';

let http: AxiosInstance | null = null;

/**
 * The one axios instance of the adapters' JSON API calls. Status handling and redirects are ours.
 * Made on first use: axios and its dependencies cost tens of ms of every start otherwise.
 */
export function githubHttp(): AxiosInstance {
  http ??= (require('axios') as typeof import('axios')).create({
    maxRedirects: 0,
    validateStatus: () => true,
    responseType: 'text',
    transformResponse: [(d: unknown) => d],
    decompress: true,
    headers: { 'user-agent': 'upkeep', accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' },
  });
  return http;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Largest JSON page accepted (bytes). GitHub pages of 100 releases with long notes stay far below. */
const MAX_PAGE_BYTES = 8 * 1024 * 1024;

const CacheEntrySchema = z.object({
  url: z.string(),
  etag: z.string(),
  next: z.string().nullable(),
  body: z.string(),
});
type CacheEntry = z.infer<typeof CacheEntrySchema>;

export interface GithubClientOptions {
  /** `api_url` (https://api.github.com, a GitHub Enterprise `/api/v3` URL, or a loopback test server). */
  apiUrl: string;
  /** Bearer token, sent only to `apiUrl`'s origin; null for anonymous calls. */
  token: string | null;
  allowInsecureHttp: boolean;
  limits: Limits;
  clock: Clock;
  /** Where remembered ETags and bodies live (`<state_dir>/feeds/github`); null keeps them in memory only. */
  cacheDir: string | null;
  /** Most pages read per listing. */
  maxPages?: number;
  /** Proxy agents for http/https (net/ proxy support); undefined: direct connections. */
  agents?: { httpAgent?: unknown; httpsAgent?: unknown };
}

export interface JsonPage {
  url: string;
  body: unknown;
  /** True when the server answered 304 and the remembered body was used. */
  notModified: boolean;
  next: string | null;
}

/** Per-process memory of ETags when no cache dir is configured (and a read-through copy when one is). */
const memoryCache = new Map<string, CacheEntry>();

function cacheFile(dir: string, url: string): string {
  return path.join(dir, `${createHash('sha256').update(url).digest('hex').slice(0, 32)}.json`);
}

export class GithubClient {
  private readonly origin: string;

  constructor(private readonly o: GithubClientOptions) {
    this.origin = new URL(o.apiUrl).origin;
  }

  /** `api_url` joined with a path (`/repos/o/r/releases`), keeping any base path (GitHub Enterprise `/api/v3`). */
  apiPath(p: string): string {
    const base = this.o.apiUrl.endsWith('/') ? this.o.apiUrl : this.o.apiUrl + '/';
    return new URL(p.replace(/^\//, ''), base).href;
  }

  private async remembered(url: string): Promise<CacheEntry | null> {
    const mem = memoryCache.get(url);
    if (mem) return mem;
    if (!this.o.cacheDir) return null;
    let cached: CacheEntry | undefined;
    try {
      cached = await readJson(cacheFile(this.o.cacheDir, url), CacheEntrySchema);
    } catch (err) {
      // Only an HTTP cache: a damaged entry is a miss (the next answer replaces it), not corrupt state.
      if (!(err instanceof StateCorruptError)) throw err;
    }
    return cached && cached.url === url ? cached : null;
  }

  private async remember(e: CacheEntry): Promise<void> {
    memoryCache.set(e.url, e);
    if (this.o.cacheDir) await writeJsonDurable(cacheFile(this.o.cacheDir, e.url), e);
  }

  /**
   * GET one JSON document (conditional on the remembered ETag). Throws ERR_RATE_LIMITED,
   * ERR_UNAUTHORIZED (401), ERR_NOT_FOUND (404), ERR_DOWNLOAD_FAILED (other statuses, bad JSON),
   * ERR_TOO_MANY_REDIRECTS, ERR_INSECURE_URL, ERR_CANCELLED.
   */
  async getJson(url: string, signal?: AbortSignal): Promise<JsonPage> {
    const cached = await this.remembered(url);
    const res = await this.send(url, cached?.etag ?? null, signal);
    if (res.status === 304 && cached) {
      return { url, body: JSON.parse(cached.body) as unknown, notModified: true, next: cached.next };
    }
    if (res.status !== 200) throw this.statusError(res, url);
    const text = typeof res.data === 'string' ? res.data : String(res.data);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new NetworkError('ERR_DOWNLOAD_FAILED', `GitHub API answered with something that is not JSON: ${redactUrl(url)}`, { url: redactUrl(url) });
    }
    const next = nextPageUrl(headerOf(res, 'link'));
    const etag = headerOf(res, 'etag');
    if (etag) await this.remember({ url, etag, next, body: text });
    return { url, body, notModified: false, next };
  }

  /**
   * Every page of a listing, following `Link: rel="next"` (at most `maxPages`). Throws what
   * getJson throws, and ERR_INSECURE_URL when a next link leaves `api_url`'s origin (nothing is
   * requested from it).
   */
  async getAllPages(firstUrl: string, signal?: AbortSignal): Promise<JsonPage[]> {
    const pages: JsonPage[] = [];
    const max = this.o.maxPages ?? 10;
    let url: string | null = firstUrl;
    const seen = new Set<string>();
    while (url !== null && pages.length < max && !seen.has(url)) {
      seen.add(url);
      const page = await this.getJson(url, signal);
      pages.push(page);
      url = page.next === null ? null : this.sameOriginNext(page.url, page.next);
    }
    return pages;
  }

  /** The absolute next-page URL when it stays on the API origin; ERR_INSECURE_URL otherwise. */
  private sameOriginNext(pageUrl: string, next: string): string {
    const url = resolveRelative(pageUrl, next);
    if (new URL(url).origin !== this.origin) {
      throw new VerificationError('ERR_INSECURE_URL', `GitHub API pagination link leaves ${this.origin}: ${redactUrl(url)} (refused; the API's own links stay on its origin)`, {
        url: redactUrl(url),
        api_origin: this.origin,
      });
    }
    return url;
  }

  /** One request with manual redirects; the token goes only to the API origin. */
  private async send(url: string, etag: string | null, signal?: AbortSignal): Promise<AxiosResponse> {
    checkUrlAllowed(url, { allowInsecureHttp: this.o.allowInsecureHttp });
    let current = url;
    for (let hop = 0; ; hop++) {
      if (signal?.aborted) throw new NetworkError('ERR_CANCELLED', `Cancelled: ${redactUrl(url)}`);
      const headers: Record<string, string> = {};
      const sameOrigin = new URL(current).origin === this.origin;
      if (sameOrigin && this.o.token) headers.authorization = `Bearer ${this.o.token}`;
      if (etag && current === url) headers['if-none-match'] = etag;
      let res: AxiosResponse;
      try {
        res = await githubHttp().get(current, {
          headers,
          timeout: this.o.limits.metadataTimeoutMs,
          maxContentLength: MAX_PAGE_BYTES,
          ...(signal ? { signal } : {}),
          ...(this.o.agents ?? axiosProxyOptions(current)),
          proxy: false,
        });
      } catch (err) {
        if (signal?.aborted) throw new NetworkError('ERR_CANCELLED', `Cancelled: ${redactUrl(url)}`);
        const e = err as { code?: string; message?: string };
        throw new NetworkError(e.code === 'ECONNABORTED' ? 'ERR_DOWNLOAD_TIMEOUT' : 'ERR_DOWNLOAD_FAILED', `GitHub API request failed: ${redactUrl(current)}: ${e.message ?? String(err)}`, {
          url: redactUrl(current),
          cause: e.code ?? null,
        });
      }
      const location = headerOf(res, 'location');
      if (!REDIRECTS.has(res.status) || !location) return res;
      if (hop + 1 > this.o.limits.maxRedirects) {
        throw new NetworkError('ERR_TOO_MANY_REDIRECTS', `More than ${this.o.limits.maxRedirects} redirects from ${redactUrl(url)}`, { url: redactUrl(url) });
      }
      const next = resolveRelative(current, location);
      checkRedirectAllowed(current, next, { allowInsecureHttp: this.o.allowInsecureHttp });
      current = next;
    }
  }

  private statusError(res: AxiosResponse, url: string): UpkeepError {
    const shown = redactUrl(url);
    const limited = rateLimitError(res.status, (n) => headerOf(res, n), this.o.clock.now());
    if (limited) return limited;
    if (res.status === 401) return new NetworkError('ERR_DOWNLOAD_FAILED', `GitHub refused the token (HTTP 401) for ${shown}`, { url: shown, status: 401 });
    if (res.status === 404) return new NotFoundError('ERR_NOT_FOUND', `GitHub answered 404 for ${shown} (unknown repository, or private without a token)`, { url: shown, status: 404 });
    return new NetworkError('ERR_DOWNLOAD_FAILED', `GitHub answered HTTP ${res.status} for ${shown}`, { url: shown, status: res.status });
  }
}

function headerOf(res: AxiosResponse, name: string): string | undefined {
  const v = (res.headers as Record<string, unknown>)[name.toLowerCase()];
  if (Array.isArray(v)) return v[0] as string;
  return typeof v === 'string' ? v : v === undefined || v === null ? undefined : String(v);
}

/**
 * ERR_RATE_LIMITED for a GitHub rate-limit answer, else null: status 403 or 429 with
 * `x-ratelimit-remaining: 0` (reset at `x-ratelimit-reset`, epoch seconds) or with `retry-after`
 * (seconds; GitHub's secondary limits). `details.reset_at` is the ISO 8601 reset time.
 */
export function rateLimitError(status: number, header: (name: string) => string | undefined, now: Date): UpkeepError | null {
  if (status !== 403 && status !== 429) return null;
  const remaining = header('x-ratelimit-remaining');
  const reset = header('x-ratelimit-reset');
  const retryAfter = header('retry-after');
  let resetAt: Date | null = null;
  if (retryAfter !== undefined && /^\d+$/.test(retryAfter.trim())) resetAt = new Date(now.getTime() + Number(retryAfter) * 1000);
  else if (remaining === '0' && reset !== undefined && /^\d+$/.test(reset.trim())) resetAt = new Date(Number(reset) * 1000);
  else if (remaining !== '0' && status === 403) return null;
  const when = resetAt ? resetAt.toISOString() : null;
  return new UpkeepError('ERR_RATE_LIMITED', `GitHub API rate limit reached${when ? `; it resets at ${when}` : ''}`, {
    status,
    reset_at: when,
    limit: header('x-ratelimit-limit') ?? null,
  });
}

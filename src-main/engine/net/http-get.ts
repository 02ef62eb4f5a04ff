/**
 * GET requests for artifact downloads through Node's own `http`/`https` clients: the response
 * body arrives from Node's native HTTP parser, which on a fast link takes about half the CPU of
 * undici's WebAssembly parser per byte and holds far less memory (undici alone is ~20 MB
 * resident). Small documents keep going through undici (fetcher.ts); both share the URL policy,
 * the redirect rules and the proxy decision.
 *
 * - Redirects are followed here (at most `maxRedirects`), each hop re-checked with
 *   `checkRedirectAllowed` before connecting; credential headers are dropped when the origin
 *   changes; a loop is ERR_TOO_MANY_REDIRECTS.
 * - Each hop goes direct or through the forward proxy `proxyFor` names for its URL, by an HTTP
 *   CONNECT tunnel (net/tunnel-agent.ts), as undici's proxy agent does for feed documents.
 * - One idle timeout (`idleTimeoutMs`) covers connecting, waiting for headers and every pause in
 *   the body; it fails with code ETIMEDOUT (retryable ERR_DOWNLOAD_TIMEOUT in fetcher.ts).
 */
import type http from 'node:http';
import type { Readable } from 'node:stream';
import { NetworkError } from '../../../src-shared/errors';
import { decodedBody, parseContentEncoding } from './content-encoding';
import { proxyFor } from './proxy';
import { createTunnelAgent, type TunnelAgent } from './tunnel-agent';
import { checkRedirectAllowed, checkUrlAllowed, redactUrl, resolveRelative } from './url-policy';

/** A response whose body has not been read; the caller reads or destroys `body`. */
export interface GetResponse {
  statusCode: number;
  headers: http.IncomingHttpHeaders;
  body: Readable;
  /** The URL that answered, after redirects. */
  url: string;
  /** Content codings the server applied although identity was asked for; [] for none. */
  codings: string[];
  /** The body decoded from `codings` (net/content-encoding.ts). */
  decoded(): AsyncIterable<Buffer>;
}

/** Node's http clients, loaded on the first download: commands that download nothing skip their start-up cost. */
const httpModule = (): typeof import('node:http') => require('node:http') as typeof import('node:http');
const httpsModule = (): typeof import('node:https') => require('node:https') as typeof import('node:https');

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

/**
 * The connections of one download: a keep-alive agent per scheme for direct hops (so a resume
 * after a retry reuses the connection) and a tunnel agent per proxy. `destroy()` closes them all.
 */
export class GetAgents {
  private readonly direct = new Map<string, http.Agent>();
  private readonly tunnels = new Map<string, TunnelAgent>();

  /** The agent for `url`: through the proxy the settings name for it, else direct. */
  for(url: string): http.Agent {
    const secure = new URL(url).protocol === 'https:';
    const proxy = proxyFor(url);
    if (proxy !== null) {
      const key = `${secure ? 's' : 'p'} ${proxy}`;
      let t = this.tunnels.get(key);
      if (!t) this.tunnels.set(key, (t = createTunnelAgent(proxy, secure)));
      return t;
    }
    const key = secure ? 'https' : 'http';
    let a = this.direct.get(key);
    if (!a) this.direct.set(key, (a = secure ? new (httpsModule().Agent)({ keepAlive: true, maxSockets: 1 }) : new (httpModule().Agent)({ keepAlive: true, maxSockets: 1 })));
    return a;
  }

  destroy(): void {
    for (const a of [...this.direct.values(), ...this.tunnels.values()]) a.destroy();
    this.direct.clear();
    this.tunnels.clear();
  }
}

/** One GET without following redirects; resolves once the status line and headers arrived. */
function getOnce(url: string, headers: Record<string, string>, agent: http.Agent, idleTimeoutMs: number, signal?: AbortSignal): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const client = new URL(url).protocol === 'https:' ? httpsModule() : httpModule();
    const req = client.request(url, { method: 'GET', headers, agent, ...(signal ? { signal } : {}) });
    // Connecting, the wait for headers and every pause in the body share one idle bound.
    req.setTimeout(idleTimeoutMs, () => {
      req.destroy(Object.assign(new Error(`no data for ${idleTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
    });
    req.once('error', reject);
    req.once('response', (res) => {
      // Errors after this point reach the body's reader.
      req.off('error', reject);
      req.on('error', (err) => res.destroy(err));
      resolve(res);
    });
    req.end();
  });
}

/**
 * Sends a GET to `url` and follows up to `maxRedirects` redirects itself. Returns the first
 * non-redirect response with its body unread. ERR_TOO_MANY_REDIRECTS for loops and long chains;
 * ERR_INSECURE_URL (from the URL policy) for a hop that may not be followed.
 */
export async function openGet(
  url: string,
  o: { agents: GetAgents; headers: Record<string, string>; allowInsecureHttp: boolean; maxRedirects: number; idleTimeoutMs: number; signal?: AbortSignal },
): Promise<GetResponse> {
  checkUrlAllowed(url, o);
  let current = url;
  let headers: Record<string, string> = { 'user-agent': 'upkeep', 'accept-encoding': 'identity' };
  for (const [k, v] of Object.entries(o.headers)) headers[k.toLowerCase()] = v;
  const seen = new Set<string>([url]);
  for (let hops = 0; ; hops++) {
    const res = await getOnce(current, headers, o.agents.for(current), o.idleTimeoutMs, o.signal);
    const location = res.headers.location;
    if (!REDIRECT_STATUSES.has(res.statusCode ?? 0) || location === undefined) {
      const at = current;
      const codings = parseContentEncoding(res.headers['content-encoding']);
      return { statusCode: res.statusCode ?? 0, headers: res.headers, body: res, url: at, codings, decoded: () => decodedBody(res, codings, at) };
    }
    res.resume();
    const next = resolveRelative(current, location);
    if (seen.has(next)) {
      res.destroy();
      throw new NetworkError('ERR_TOO_MANY_REDIRECTS', `Redirect loop at ${redactUrl(next)}`, { url: redactUrl(url), hops: hops + 1 });
    }
    if (hops + 1 > o.maxRedirects) {
      res.destroy();
      throw new NetworkError('ERR_TOO_MANY_REDIRECTS', `More than ${o.maxRedirects} redirects from ${redactUrl(url)}`, { url: redactUrl(url), maxRedirects: o.maxRedirects });
    }
    checkRedirectAllowed(current, next, o);
    if (new URL(next).origin !== new URL(current).origin) {
      headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !CREDENTIAL_HEADERS.includes(k)));
    }
    seen.add(next);
    current = next;
  }
}

/**
 * Destroys a body we no longer want; an 'error' listener is attached first, so the destroy is
 * never an uncaught exception.
 */
export function dropResponse(body: Readable): void {
  if (body.destroyed) return;
  body.on('error', () => undefined);
  body.destroy();
}

/** Reads and drops a small body (an error page, an unusable answer): at most 64 KiB are read, then it is destroyed. */
export function discardResponse(body: Readable): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const done = (): void => {
      body.off('data', onData);
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen > 64 * 1024) {
        dropResponse(body);
        done();
      }
    };
    body.on('data', onData);
    body.once('end', done);
    body.once('close', done);
    body.once('error', done);
  });
}

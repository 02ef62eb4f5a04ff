/**
 * Which URLs the engine may read from, and how feed-relative references resolve.
 * Pure functions over strings (no I/O): every hop of every request passes through
 * `checkUrlAllowed` before a connection is opened.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { VerificationError } from '../../../src-shared/errors';

/** A scheme prefix like `https:`; a Windows drive letter (`C:\`) is not a scheme. */
const SCHEME_RE = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;
const WINDOWS_DRIVE_RE = /^[a-zA-Z]:([\\/]|$)/;

function parseUrl(url: string): URL {
  try {
    return new URL(url);
  } catch {
    throw new VerificationError('ERR_INSECURE_URL', `Not a valid URL: ${url}`, { url });
  }
}

/**
 * Turns a configured feed location into a URL string: plain filesystem paths become `file://`
 * URLs (relative ones resolved against `baseDir`, default the working directory); `http:`,
 * `https:` and `file:` URLs are kept (normalised by the WHATWG parser). Any other scheme is
 * refused with ERR_INSECURE_URL.
 */
export function normaliseFeedUrl(urlOrPath: string, baseDir?: string): string {
  if (SCHEME_RE.test(urlOrPath) && !WINDOWS_DRIVE_RE.test(urlOrPath)) {
    const u = parseUrl(urlOrPath);
    if (u.protocol === 'http:' || u.protocol === 'https:' || u.protocol === 'file:') return u.href;
    throw new VerificationError('ERR_INSECURE_URL', `Unsupported URL scheme ${u.protocol} in ${urlOrPath}`, { url: urlOrPath });
  }
  const abs = path.resolve(baseDir ?? process.cwd(), urlOrPath);
  return pathToFileURL(abs).href;
}

/**
 * True when a configured feed location is local: a `file:` URL or a filesystem path. Only such a
 * feed's releases may download `file:` URLs (DownloadOptions.allowFileUrls); false for anything
 * normaliseFeedUrl refuses.
 */
export function isLocalFeed(urlOrPath: string, baseDir?: string): boolean {
  try {
    return normaliseFeedUrl(urlOrPath, baseDir).startsWith('file:');
  } catch {
    return false;
  }
}

/**
 * Resolves `ref` against `baseUrl` exactly like `new URL(ref, baseUrl)`: use it for manifest
 * file URLs (relative to the manifest's own URL). Absolute refs are returned as they are
 * (normalised); the result still has to pass `checkUrlAllowed` before it is fetched.
 */
export function resolveRelative(baseUrl: string, ref: string): string {
  try {
    return new URL(ref, baseUrl).href;
  } catch {
    throw new VerificationError('ERR_INSECURE_URL', `Cannot resolve ${ref} against ${baseUrl}`, { url: ref, base: baseUrl });
  }
}

/**
 * The feed root of a configured feed location: its path is the root whether or not it ends in
 * '/' (`https://h/feed` and `https://h/feed/` are the same root, `https://h/feed/`), and its query
 * (`?token=abc`, a signed URL) is kept; the fragment is dropped. Local paths become `file://`.
 */
export function feedRootUrl(feedUrl: string, baseDir?: string): string {
  const u = parseUrl(normaliseFeedUrl(feedUrl, baseDir));
  u.hash = '';
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u.href;
}

/**
 * Resolves `ref` (a feed path like `channels/stable.json`, or a manifest's file URL) against
 * `base` (the feed root or a manifest URL) like `new URL(ref, base)`, and keeps the base's query
 * on the result when `ref` is relative, has no query of its own and stays on the base's scheme,
 * host and port: a feed reached with `?token=abc` sends it on every request it derives, and
 * never to another host.
 */
export function resolveFeedUrl(base: string, ref: string): string {
  const out = parseUrl(resolveRelative(base, ref));
  const b = parseUrl(base);
  const relative = !(SCHEME_RE.test(ref) && !WINDOWS_DRIVE_RE.test(ref)) && !ref.startsWith('//');
  if (relative && b.search !== '' && out.search === '' && out.protocol === b.protocol && out.host === b.host) out.search = b.search;
  return out.href;
}

/** The feed root URL as a directory URL (trailing slash added, query and fragment dropped). */
export function asDirectoryUrl(rootUrl: string): string {
  const u = parseUrl(rootUrl);
  u.search = '';
  u.hash = '';
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u.href;
}

/**
 * Resolves a feed path (`channels/stable.json`, `latest-linux.yml`) against the feed root,
 * treating the root as a directory and keeping its query (`feedRootUrl` + `resolveFeedUrl`), so
 * `https://h/feed?token=abc` + `channels/a.json` is `https://h/feed/channels/a.json?token=abc`.
 */
export function resolveFeedPath(root: string, relPath: string): string {
  return resolveFeedUrl(feedRootUrl(root), relPath);
}

/** The host of a URL without IPv6 brackets and without a trailing dot. */
function bareHost(u: URL): string {
  let h = u.hostname.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/** True for 127.0.0.0/8, ::1, IPv4-mapped loopback (::ffff:127.x.y.z) and the name `localhost`. */
export function isLoopbackHost(hostname: string): boolean {
  // node:net is loaded here, not with this module: every command imports it, few ask this.
  const { isIPv4, isIPv6 } = require('node:net') as typeof import('node:net');
  let h = hostname.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  if (h === 'localhost') return true;
  if (isIPv4(h)) return h.split('.')[0] === '127';
  if (isIPv6(h)) {
    if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
    // The WHATWG parser writes IPv4-mapped addresses in hex: ::ffff:7f00:1 is ::ffff:127.0.0.1.
    const mapped = /^::ffff:([0-9a-f]{1,4}):[0-9a-f]{1,4}$/.exec(h);
    if (mapped) return (parseInt(mapped[1] ?? '0', 16) >> 8) === 127;
    const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    if (dotted) return isIPv4(dotted[1] ?? '') && (dotted[1] ?? '').split('.')[0] === '127';
  }
  return false;
}

/**
 * Throws ERR_INSECURE_URL (VerificationError) unless the engine may read `url`:
 * `https:` always; `http:` only for loopback hosts, or anywhere when `allowInsecureHttp`;
 * `file:` always (local feeds). Every other scheme (`ftp:`, `data:`, `javascript:` …) is refused,
 * as are URLs carrying credentials (`https://user:pass@host`), which would leak into logs.
 */
export function checkUrlAllowed(url: string, o: { allowInsecureHttp: boolean }): void {
  const u = parseUrl(url);
  if (u.username !== '' || u.password !== '') {
    throw new VerificationError('ERR_INSECURE_URL', 'URLs with embedded credentials are refused', { url: redactUrl(url) });
  }
  switch (u.protocol) {
    case 'https:':
    case 'file:':
      return;
    case 'http:':
      if (o.allowInsecureHttp || isLoopbackHost(bareHost(u))) return;
      throw new VerificationError('ERR_INSECURE_URL', `Plain http is only allowed for loopback hosts: ${redactUrl(url)}`, { url: redactUrl(url) });
    default:
      throw new VerificationError('ERR_INSECURE_URL', `URL scheme ${u.protocol} is not allowed: ${redactUrl(url)}`, { url: redactUrl(url) });
  }
}

/**
 * Checks one redirect hop from `fromUrl` to `toUrl`: the target must pass `checkUrlAllowed`,
 * must be http(s) (a server never redirects into the local filesystem), and may not downgrade
 * https to plain http unless `allowInsecureHttp` (a remote https server must not be able to
 * steer the engine at a loopback http service).
 */
export function checkRedirectAllowed(fromUrl: string, toUrl: string, o: { allowInsecureHttp: boolean }): void {
  checkUrlAllowed(toUrl, o);
  const from = parseUrl(fromUrl);
  const to = parseUrl(toUrl);
  if (to.protocol !== 'http:' && to.protocol !== 'https:') {
    throw new VerificationError('ERR_INSECURE_URL', `Redirect to ${to.protocol} refused`, { from: redactUrl(fromUrl), to: redactUrl(toUrl) });
  }
  if (from.protocol === 'https:' && to.protocol === 'http:' && !o.allowInsecureHttp) {
    throw new VerificationError('ERR_INSECURE_URL', `Redirect from https to http refused: ${redactUrl(toUrl)}`, {
      from: redactUrl(fromUrl),
      to: redactUrl(toUrl),
    });
  }
}

/** The URL with any user/password and query string removed, safe to log or show. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    if (u.search) u.search = '?…';
    return u.href;
  } catch {
    return '<invalid url>';
  }
}

/**
 * DNS-rebinding defence: a page on evil.example that re-points its name at 127.0.0.1 still sends
 * `Host: evil.example`, so only the names this server is really reached under are accepted.
 */

export interface HostPolicy {
  /** The address the server is bound to (as given to listen). */
  boundHost: string;
  /** The port it listens on. */
  port: number;
  /** Extra accepted values from api.allowed_hosts: "name" (any port) or "name:port". */
  allowed: readonly string[];
}

/**
 * How many `Host` header lines a request carried (from Node's raw header list, which keeps
 * duplicates; `headers.host` keeps only the first). RFC 9112 §3.2: a server must answer 400 to
 * a request with more than one — proxies and servers that pick different ones are how requests
 * get smuggled past a host check.
 */
export function hostHeaderCount(rawHeaders: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === 'host') n++;
  return n;
}

/** Splits a Host header value into lowercase hostname (IPv6 kept in brackets) and port (null when absent). */
export function parseHost(value: string): { hostname: string; port: number | null } | null {
  const v = value.trim().toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]\s/]+)(?::(\d{1,5}))?$/.exec(v);
  if (!m) return null;
  return { hostname: m[1], port: m[2] !== undefined ? Number(m[2]) : null };
}

function bracket(host: string): string {
  const h = host.toLowerCase();
  return h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
}

/**
 * True when `hostHeader` names this server: the bound address, localhost, 127.0.0.1 or [::1] with
 * the listening port (a missing port counts as 80), or an entry of api.allowed_hosts.
 */
export function isAllowedHost(hostHeader: string | undefined, policy: HostPolicy): boolean {
  if (!hostHeader) return false;
  const parsed = parseHost(hostHeader);
  if (!parsed) return false;
  const port = parsed.port ?? 80;
  const loopbackNames = new Set(['localhost', '127.0.0.1', '[::1]', bracket(policy.boundHost)]);
  if (loopbackNames.has(parsed.hostname) && port === policy.port) return true;
  for (const entry of policy.allowed) {
    const allowed = parseHost(entry);
    if (!allowed) continue;
    if (allowed.hostname !== parsed.hostname) continue;
    if (allowed.port === null || allowed.port === port) return true;
  }
  return false;
}

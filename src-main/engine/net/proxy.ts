/**
 * Forward-proxy settings for every outgoing request: feed documents (undici, through
 * `createDispatcher`), artifact downloads (node's http client, net/http-get.ts, through `proxyFor`
 * and a CONNECT tunnel), the adapters' JSON API calls (axios, through `axiosProxyOptions`) and
 * webhooks. Health checks are the exception: they probe the target's own service and always
 * connect directly.
 *
 * Sources, strongest first: the config's `proxy:` key (`applyProxyConfig`, called when a config
 * becomes active), then the environment as curl and undici read it — `https_proxy`/`HTTPS_PROXY`
 * for https URLs, `http_proxy`/`HTTP_PROXY` for http URLs (and for https URLs when no https
 * proxy is set), `no_proxy`/`NO_PROXY`; the lower-case name wins over the upper-case one.
 * NO_PROXY entries are separated by commas or spaces: `*` bypasses every host; `host`,
 * `.host` and `*.host` bypass the host and its subdomains; `host:port` only that port (undici's
 * EnvHttpProxyAgent rules, which this module mirrors so both clients decide alike).
 * Loopback hosts are not bypassed implicitly.
 */
import type { Agent, Dispatcher } from 'undici';
import { UsageError } from '../../../src-shared/errors';
import { redactUrl } from './url-policy';
import { createTunnelAgent, type TunnelAgent } from './tunnel-agent';

/** The `proxy:` config key after validation: a URL for both schemes, `false` (ignore the environment), or per scheme. */
export type ProxyConfig = string | false | { url?: string; http?: string; https?: string; no_proxy?: string | string[] };

/** Where requests go: proxy URLs per scheme ('' = direct) and the bypass list. */
export interface ProxySettings {
  http: string;
  https: string;
  noProxy: string;
  /** 'config', 'env' or 'none': where the settings came from (shown by `config validate`). */
  source: 'config' | 'env' | 'none';
}

let active: ProxyConfig | undefined;

/** Makes `proxy` (the active config's `proxy:` key; undefined when absent) apply to new requests. */
export function applyProxyConfig(proxy: ProxyConfig | undefined): void {
  if (proxy !== undefined) proxySettings(process.env, proxy); // validates
  active = proxy;
}

/**
 * The effective settings for `config` (default: the active one) over `env`. Throws UsageError
 * ERR_CONFIG_INVALID for a proxy URL that is not http(s).
 */
export function proxySettings(env: NodeJS.ProcessEnv = process.env, config: ProxyConfig | undefined = active): ProxySettings {
  const pick = (lower: string, upper: string): string => env[lower] ?? env[upper] ?? '';
  let s: ProxySettings;
  if (config === false) s = { http: '', https: '', noProxy: '', source: 'config' };
  else if (typeof config === 'string') s = { http: config, https: config, noProxy: pick('no_proxy', 'NO_PROXY'), source: 'config' };
  else if (config !== undefined) {
    const http = config.http ?? config.url ?? '';
    const noProxy = config.no_proxy === undefined ? pick('no_proxy', 'NO_PROXY') : [config.no_proxy].flat().join(',');
    s = { http, https: config.https ?? config.url ?? http, noProxy, source: 'config' };
  } else {
    const http = pick('http_proxy', 'HTTP_PROXY');
    const https = pick('https_proxy', 'HTTPS_PROXY') || http;
    s = { http, https, noProxy: pick('no_proxy', 'NO_PROXY'), source: http || https ? 'env' : 'none' };
  }
  for (const p of [s.http, s.https]) if (p !== '') checkProxyUrl(p);
  return s;
}

function checkProxyUrl(p: string): void {
  let u: URL;
  try {
    u = new URL(p);
  } catch {
    throw new UsageError('ERR_CONFIG_INVALID', `proxy: not a URL: ${redactUrl(p)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new UsageError('ERR_CONFIG_INVALID', `proxy: ${u.protocol} proxies are not supported (http: or https:): ${redactUrl(p)}`);
  }
}

interface NoProxyEntry {
  host: string;
  port: number;
}

function parseNoProxy(value: string): NoProxyEntry[] {
  const out: NoProxyEntry[] = [];
  for (const raw of value.split(/[,\s]/)) {
    if (!raw) continue;
    const m = /^(.+):(\d+)$/.exec(raw);
    out.push({ host: (m ? m[1]! : raw).replace(/^\*?\./, '').toLowerCase(), port: m ? Number(m[2]) : 0 });
  }
  return out;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

/** The proxy URL a request to `url` goes through, or null for a direct connection. */
export function proxyFor(url: string, s: ProxySettings = proxySettings()): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
  const proxy = u.protocol === 'https:' ? s.https : s.http;
  if (proxy === '') return null;
  const entries = parseNoProxy(s.noProxy);
  if (s.noProxy.trim() === '*') return null;
  const host = u.host.replace(/:\d*$/, '').toLowerCase();
  const port = Number(u.port) || DEFAULT_PORTS[u.protocol] || 0;
  for (const e of entries) {
    if (e.port && e.port !== port) continue;
    if (host === e.host || host.endsWith(`.${e.host}`)) return null;
  }
  return proxy;
}

/**
 * An undici dispatcher for one operation: `agentOptions` (timeouts) on direct connections and
 * through the configured proxy (CONNECT tunnels, Proxy-Authorization from the proxy URL's
 * user:password), chosen per request origin — so redirects to other hosts are decided again.
 */
export function createDispatcher(agentOptions: Agent.Options): Dispatcher {
  const s = proxySettings();
  // undici is loaded here, on the first request: it costs tens of ms and ~20 MB at every start otherwise.
  const { Agent: DirectAgent, EnvHttpProxyAgent } = require('undici') as typeof import('undici');
  if (s.http === '' && s.https === '') return new DirectAgent(agentOptions);
  return new EnvHttpProxyAgent({ ...agentOptions, httpProxy: s.http, httpsProxy: s.https, noProxy: s.noProxy });
}

/** What an axios request needs to honour the proxy settings for `url`. */
export interface AxiosProxyOptions {
  /** Always false: axios' own proxy support is off (it cannot tunnel https); the agents do the work. */
  proxy: false;
  httpAgent?: TunnelAgent;
  httpsAgent?: TunnelAgent;
}

const tunnelAgents = new Map<string, TunnelAgent>();

/**
 * Request options making an axios call to `url` go through the proxy the settings choose for it
 * (an HTTP CONNECT tunnel, for https and http alike), or just `{ proxy: false }` for a direct
 * connection. Pass them per request: a redirect to another host needs its own decision.
 */
export function axiosProxyOptions(url: string): AxiosProxyOptions {
  const proxy = proxyFor(url);
  if (proxy === null) return { proxy: false };
  const secure = new URL(url).protocol === 'https:';
  const key = `${secure ? 's' : 'p'} ${proxy}`;
  let agent = tunnelAgents.get(key);
  if (!agent) {
    agent = createTunnelAgent(proxy, secure);
    tunnelAgents.set(key, agent);
  }
  return secure ? { proxy: false, httpsAgent: agent } : { proxy: false, httpAgent: agent };
}

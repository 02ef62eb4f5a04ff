/**
 * What `upkeep config validate` shows about the network: for each target, the first URLs its
 * feed will fetch (built exactly as the feeds build them, query kept) and whether each goes
 * through a proxy (net/proxy.ts) or direct. Pure: nothing is fetched.
 */
import type { Config } from '../config/schema';
import { feedFileNames } from '../feed/electron-builder';
import { currentArch, currentPlatform } from '../platform';
import { proxyFor, proxySettings, type ProxySettings } from './proxy';
import { feedRootUrl, normaliseFeedUrl, resolveFeedPath, resolveFeedUrl } from './url-policy';

export interface PlannedRequest {
  /** The URL, with the value of each query parameter shown as `…` (the names stay visible). */
  url: string;
  /** The proxy URL (credentials kept out) the request goes through, or null for direct. */
  proxy: string | null;
}

export interface TargetRequests {
  target: string;
  feed_type: string;
  requests: PlannedRequest[];
  /** What else the feed fetches, derived from those documents (manifests, blobs, assets). */
  then: string;
}

/** The planned first requests of every target with a feed, under `config`'s proxy settings and `env`. */
export function plannedRequests(config: Config, env: NodeJS.ProcessEnv = process.env): TargetRequests[] {
  const settings = proxySettings(env, config.proxy);
  const out: TargetRequests[] = [];
  for (const t of config.targets) {
    const feed = ('feed' in t ? t.feed : undefined) as ({ type?: string; url: string } & Record<string, unknown>) | undefined;
    if (!feed) continue;
    const type = feed.type ?? 'native';
    const channel = 'channel' in t && typeof t.channel === 'string' ? t.channel : 'stable';
    const { urls, then } = firstUrls(type, feed, channel, t as { platform?: string; arch?: string });
    out.push({ target: t.id, feed_type: type, requests: urls.map((url) => ({ url: shown(url), proxy: via(url, settings) })), then });
  }
  return out;
}

/** `url` with query values elided (`?token=…`) and no credentials: safe to print. */
export function shown(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  if (u.search === '') return u.href;
  const names = [...new URLSearchParams(u.search).keys()];
  u.search = '';
  return `${u.href}?${names.map((n) => `${encodeURIComponent(n)}=…`).join('&')}`;
}

function via(url: string, s: ProxySettings): string | null {
  const p = proxyFor(url, s);
  if (p === null) return null;
  const u = new URL(p);
  u.username = '';
  u.password = '';
  return u.href;
}

function firstUrls(type: string, feed: { url: string } & Record<string, unknown>, channel: string, t: { platform?: string; arch?: string }): { urls: string[]; then: string } {
  switch (type) {
    case 'native': {
      const root = feedRootUrl(feed.url);
      return { urls: [resolveFeedUrl(root, `channels/${encodeURIComponent(channel)}.json`)], then: 'manifests/<version>.json and the blobs its files name, relative to it (same query)' };
    }
    case 'github':
      return { urls: [normaliseFeedUrl(feed.url)], then: 'release assets at their browser_download_url (redirects to the asset host)' };
    case 'electron-builder': {
      const platform = currentPlatform(t.platform);
      const arch = currentArch(t.arch) === 'arm64' ? 'arm64' : 'x64';
      const eb = platform === 'win32' || platform === 'darwin' ? platform : 'linux';
      const name = channel === 'stable' ? 'latest' : channel;
      return { urls: feedFileNames(name, eb, arch).map((n) => resolveFeedPath(feed.url, n)), then: 'the files[] it lists, relative to it' };
    }
    case 'tuf':
      return { urls: [resolveFeedUrl(feedRootUrl(feed.url), 'timestamp.json')], then: 'snapshot, targets and delegated metadata, then the target file' };
    default:
      return { urls: [normaliseFeedUrl(feed.url)], then: 'the files it names' };
  }
}

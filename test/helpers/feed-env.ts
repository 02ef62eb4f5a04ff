/** A FeedEnv and FeedSpec for feed tests: real fetcher, real clock, a temp state dir, logs collected. */
import type { FeedEnv, FeedSpec } from '../../src-main/engine/feed/feed';
import { TrustSchema } from '../../src-main/engine/config/feed-schema';
import { DEFAULT_LIMITS } from '../../src-main/engine/limits';
import { systemClock, clockFrom } from '../../src-main/engine/clock';
import { defaultFetcher } from '../../src-main/engine/net/default-fetcher';

export function feedEnv(stateDir: string, o: { platform?: string; arch?: string; now?: () => Date } = {}): FeedEnv & { logs: string[] } {
  const logs: string[] = [];
  return {
    stateDir,
    limits: { ...DEFAULT_LIMITS, retries: 0 },
    clock: o.now ? clockFrom(o.now) : systemClock,
    fetcher: defaultFetcher,
    platform: o.platform ?? 'linux',
    arch: o.arch ?? 'x64',
    log: (level, message) => logs.push(`${level}: ${message}`),
    logs,
  };
}

export function feedSpec(feed: Record<string, unknown> & { url: string }, trust: Record<string, unknown>, o: { channel?: string; product?: string } = {}): FeedSpec {
  return {
    target: 'app',
    product: o.product ?? 'app',
    channel: o.channel ?? 'stable',
    feed: { allow_insecure_http: false, strip_components: 0, ...feed },
    trust: TrustSchema.parse(trust),
  };
}

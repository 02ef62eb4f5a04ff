/**
 * Building a target's seams for one operation: its driver (by kind, from drivers/index.ts) and
 * its feed (by `feed.type`, from feed/registry.ts), with the directories, clock, limits and
 * fetcher they run with.
 */
import type { LoadedConfig } from '../config/load';
import type { TargetConfig } from '../config/schema';
import type { Clock } from '../clock';
import type { Limits } from '../limits';
import type { Fetcher } from '../net/fetcher';
import { targetPaths } from '../target-paths';
import { effectivePolicy } from '../policy';
import { currentArch, currentPlatform } from '../platform';
import type { Feed } from '../feed/feed';
import { createDriver, type TargetDriver } from '../drivers';
import type { RuntimeState } from '../state/store';

export interface Wiring {
  clock: Clock;
  limits: Limits;
  fetcher: Fetcher;
  /**
   * Where feeds report what users should know but that does not fail them (weak verification,
   * a shared HMAC secret, skipped tags): the event bus's log, shown by the CLI and the UIs.
   */
  feedLog?: (target: string, level: 'info' | 'warn', message: string) => void;
}

/** Feed platform/arch names of the machine a target installs for. */
export function machineOf(t: TargetConfig): { platform: string; arch: string } {
  return { platform: currentPlatform(t.kind === 'files' ? t.platform : undefined), arch: currentArch(t.kind === 'files' ? t.arch : undefined) };
}

/** The driver of target `t`. */
export async function driverFor(loaded: LoadedConfig, t: TargetConfig, w: Wiring): Promise<TargetDriver> {
  const paths = targetPaths(loaded.config, t.id);
  const c = loaded.config;
  const reservedDirs = [c.state_dir, c.download_dir, c.backup_dir, c.log.file, paths.stateDir, paths.pointsDir, paths.cacheDir].filter((d): d is string => typeof d === 'string');
  return createDriver(t, { paths, reservedDirs, clock: w.clock, limits: w.limits });
}

/**
 * The target's feed on its effective channel: its driver's own feed for kinds that are their own
 * source (git, compose), else the configured `feed` (null: a command target without a feed).
 * The feed adapters (feed/registry.ts) are loaded on the first call: reads such as `status`
 * never need them.
 */
export async function feedFor(loaded: LoadedConfig, t: TargetConfig, runtime: RuntimeState, w: Wiring, given?: TargetDriver): Promise<Feed | null> {
  const driver = given ?? (await driverFor(loaded, t, w));
  const policy = effectivePolicy(t, runtime.settings, loaded.config.check_interval);
  if (driver.ownFeed) return driver.ownFeed({ channel: policy.channel });
  if (!('feed' in t) || !t.feed || !t.product) return null;
  const { createFeed } = await import('../feed/registry.js');
  return createFeed(
    { target: t.id, product: t.product, channel: policy.channel, feed: t.feed, trust: t.trust },
    {
      stateDir: loaded.config.state_dir, limits: w.limits, clock: w.clock, fetcher: w.fetcher, ...machineOf(t),
      ...(w.feedLog ? { log: (level: 'info' | 'warn', message: string) => w.feedLog!(t.id, level, message) } : {}),
    },
  );
}

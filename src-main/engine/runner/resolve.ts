/**
 * Choosing the release an operation acts on, through the `Feed` and `TargetDriver` seams only:
 * the version the user named, or the first of the feed's candidates that the driver can install
 * on this machine and the feed admits from the installed version. No version arithmetic here:
 * ordering and eligibility belong to the feed.
 */
import { NotFoundError, UpkeepError } from '../../../src-shared/errors';
import type { TargetDriver } from '../drivers/driver';
import type { Feed, FeedPolicy } from '../feed/feed';
import type { Release } from '../feed/release';

export interface Resolution {
  release: Release;
  /** Moving from the installed version to it is breaking (never automatic). */
  breaking: boolean;
}

export interface ResolveOptions {
  current: string | null;
  /** The version the user named, if any. */
  version?: string;
  policy: FeedPolicy;
  allowDowngrade: boolean;
  /** Platform/arch label for messages ("linux/x64"). */
  machine: string;
  signal?: AbortSignal;
  /**
   * Called with each version before the feed fetches and verifies it, so a caller can name the
   * release an error (a bad signature, a missing asset) was about.
   */
  onRelease?: (version: string) => void;
}

/**
 * The release to act on, or null when nothing newer is eligible. Throws ERR_MANIFEST_NOT_FOUND
 * for an unknown named version, ERR_NO_RELEASE when it has nothing for this machine, the feed's
 * policy errors (ERR_DOWNGRADE, ERR_INCOMPATIBLE_UPGRADE when no candidate is admitted) and its
 * verification errors.
 */
export async function resolveRelease(feed: Feed, driver: TargetDriver, o: ResolveOptions): Promise<Resolution | null> {
  if (o.version !== undefined) {
    o.onRelease?.(o.version);
    const release = await feed.release(o.version, o.signal);
    if (!driver.accepts(release)) {
      throw new NotFoundError('ERR_NO_RELEASE', `${release.version} has no files for ${o.machine}`, { version: release.version });
    }
    const { breaking } = feed.assess(o.current, release, { allowDowngrade: o.allowDowngrade, explicit: true });
    return { release, breaking };
  }
  let blocked: { err: UpkeepError; version: string } | null = null;
  for (const c of await feed.candidates(o.current, o.policy, o.signal)) {
    o.onRelease?.(c.version);
    const release = await feed.release(c.version, o.signal);
    // Shown, never installed; and a release built only for other machines is not an update here.
    if (release.informational || !driver.accepts(release)) continue;
    try {
      const { breaking } = feed.assess(o.current, release, { allowDowngrade: o.allowDowngrade, explicit: false });
      return { release, breaking };
    } catch (err) {
      if (err instanceof UpkeepError && err.code === 'ERR_INCOMPATIBLE_UPGRADE') {
        blocked ??= { err, version: release.version };
        continue;
      }
      throw err;
    }
  }
  if (blocked) {
    o.onRelease?.(blocked.version);
    throw blocked.err;
  }
  return null;
}

/**
 * `upkeep release rollout`: changes how much of the fleet may take one published version (its
 * index entry's `rollout.percent`), re-signs the channel index and raises its sequence.
 */
import path from 'node:path';
import { NotFoundError } from '../../../src-shared/errors';
import { systemClock } from '../clock';
import type { ChannelIndex } from '../../../src-shared/feed-schema';
import {
  assertChannel,
  assertPercent,
  assertVersion,
  expiryFrom,
  isoSeconds,
  loadSigningKeys,
  requireChannelIndex,
  withFeedLock,
  writeChannelIndex,
} from './feed-writer';

export interface SetRolloutOptions {
  feedDir: string;
  channel: string;
  version: string;
  /** 0..100; 0 halts the rollout, 100 releases to everyone. */
  percent: number;
  keyPaths: string[];
  /** Index expiry in days from now, default 30 (the index is re-signed, so its expiry is renewed). */
  expiresInDays?: number;
  now?: Date;
}

/**
 * Sets one version's rollout percent in the channel index, keeping the rollout's `started_at`
 * (set when it was published, or now if the entry had none), renews the expiry and increments the
 * sequence. Throws ERR_NO_RELEASE (no index, or the version is not in it), ERR_USAGE,
 * ERR_SIGNATURE_INVALID (the index is not signed by these keys) or ERR_BUSY.
 */
export async function setRollout(o: SetRolloutOptions): Promise<{ sequence: number; previousPercent: number }> {
  const now = o.now ?? systemClock.now();
  const channel = assertChannel(o.channel);
  const version = assertVersion(o.version);
  const percent = assertPercent(o.percent);
  const expires = expiryFrom(now, o.expiresInDays);
  const feedDir = path.resolve(o.feedDir);
  const keys = await loadSigningKeys(o.keyPaths);

  return withFeedLock(feedDir, async () => {
    const previous = await requireChannelIndex(feedDir, channel, keys);
    const entry = previous.releases.find((r) => r.version === version);
    if (!entry) {
      throw new NotFoundError('ERR_NO_RELEASE', `Version ${version} is not published in channel "${channel}" of ${o.feedDir}`, {
        version,
        channel,
        published: previous.releases.map((r) => r.version),
      });
    }
    const previousPercent = entry.rollout?.percent ?? 100;
    const index: ChannelIndex = {
      ...previous,
      sequence: previous.sequence + 1,
      expires,
      releases: previous.releases.map((r) =>
        r.version === version ? { ...r, rollout: { percent, started_at: r.rollout?.started_at ?? isoSeconds(now) } } : r,
      ),
    };
    await writeChannelIndex(feedDir, index, keys);
    return { sequence: index.sequence, previousPercent };
  });
}

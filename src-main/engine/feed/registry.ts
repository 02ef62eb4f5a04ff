/**
 * The one place feed types are registered: `feed.type` in the config → the factory building that
 * feed. Adding a feed type means adding its factory here (and its `type` to the config schema);
 * nothing in the runner changes.
 */
import { UsageError } from '../../../src-shared/errors';
import type { Feed, FeedEnv, FeedFactory, FeedSpec } from './feed';
import { createNativeFeed } from './native-feed-adapter';
import { createGithubFeed } from './github-feed';
import { createElectronBuilderFeed } from './electron-builder-feed';
import { createSparkleFeed } from './sparkle-feed';
import { createHmacManifestFeed } from './hmac-manifest-feed';
import { createTufFeed } from './tuf-feed';

export const FEED_FACTORIES: Readonly<Record<string, FeedFactory>> = Object.freeze({
  native: createNativeFeed,
  github: createGithubFeed,
  'electron-builder': createElectronBuilderFeed,
  sparkle: createSparkleFeed,
  'hmac-manifest': createHmacManifestFeed,
  tuf: createTufFeed,
});

/** The feed types this build understands. */
export function feedTypes(): string[] {
  return Object.keys(FEED_FACTORIES);
}

/** Builds the feed for `spec` (default type `native`). ERR_CONFIG_INVALID for an unknown type. */
export function createFeed(spec: FeedSpec, env: FeedEnv): Feed {
  const type = spec.feed.type ?? 'native';
  const factory = Object.prototype.hasOwnProperty.call(FEED_FACTORIES, type) ? FEED_FACTORIES[type] : undefined;
  if (!factory) throw new UsageError('ERR_CONFIG_INVALID', `Target ${spec.target}: unknown feed type "${type}" (known: ${feedTypes().join(', ')})`, { type });
  return factory(spec, env);
}

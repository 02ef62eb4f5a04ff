/**
 * The signed manifest of one release of a native feed, as the manifest routes show it.
 */
import { NotFoundError } from '../../../src-shared/errors';
import type { ManifestDetails } from '../daemon-types';
import type { Feed } from '../feed/feed';
import { releaseView } from '../release-view';

/**
 * The verified manifest of `version` with its DSSE envelope as fetched, seen from `current`.
 * ERR_MANIFEST_NOT_FOUND when the feed does not list it or is not a native feed.
 */
export async function manifestDetails(feed: Feed | null, current: string | null, version: string): Promise<ManifestDetails> {
  // Loaded here: the runner's other paths (status above all) do not need the native feed's code.
  const { NativeFeed } = await import('../feed/native-feed-adapter.js');
  const { DsseEnvelopeSchema } = await import('../../../src-shared/feed-schema.js');
  if (!(feed instanceof NativeFeed)) throw new NotFoundError('ERR_MANIFEST_NOT_FOUND', `Manifest not found for version: ${version}`);
  const release = await feed.release(version);
  let breaking = release.breaking_changes.length > 0;
  try {
    breaking = feed.assess(current, release, { allowDowngrade: true, explicit: true }).breaking;
  } catch {
    // Not installable from here; still shown.
  }
  return {
    release: releaseView(release, breaking),
    envelope: DsseEnvelopeSchema.parse(JSON.parse(Buffer.from(release.source.bytes ?? new Uint8Array()).toString('utf8'))),
    manifest_sha256: release.source.sha256 ?? '',
  };
}

/**
 * Multi-platform releases built one platform at a time: `release publish --platform P --arch A`
 * of a version the channel already lists adds that platform/arch's files to the existing
 * manifest (re-signed; the index re-signed with the next sequence) instead of refusing it;
 * `--force` replaces only that platform/arch's files. Files of other platforms are kept exactly
 * as published (same entries, same blobs), so machines already on the release see no change.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { UsageError, VerificationError } from '../../../src-shared/errors';
import { MANIFEST_PAYLOAD_TYPE, ReleaseManifestSchema, type IndexEntry, type ReleaseManifest } from '../../../src-shared/feed-schema';
import { verifyEnvelope } from '../trust/dsse';
import type { PrivateKey } from '../trust/keys';
import { sha256Hex } from '../trust/digest';

/** A published manifest file entry, kept as published (fields this module does not know survive). */
export type PublishedFile = ReleaseManifest['files'][number] & Record<string, unknown>;

/**
 * The manifest the index entry points at, checked like a client would: its bytes hash to the
 * entry's sha256, it is signed by one of `keys`, it parses, and it names `version`. Throws
 * VerificationError ERR_HASH_MISMATCH / ERR_SIGNATURE_INVALID / ERR_METADATA_INVALID.
 */
export async function readPublishedManifest(feedDir: string, entry: IndexEntry, keys: PrivateKey[]): Promise<ReleaseManifest> {
  const file = path.join(feedDir, entry.manifest);
  const bytes = await fsp.readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw new VerificationError('ERR_METADATA_INVALID', `The channel lists ${entry.version} but its manifest ${file} cannot be read (${err.code ?? err.message})`);
  });
  if (sha256Hex(bytes) !== entry.sha256) {
    throw new VerificationError('ERR_HASH_MISMATCH', `The manifest ${file} is not the one the channel index signs (sha256 differs); refusing to merge into it`, { path: file });
  }
  const { payload } = verifyEnvelope(bytes, MANIFEST_PAYLOAD_TYPE, keys.map((k) => k.publicKey), 1, `manifest ${file}`);
  const parsed = ReleaseManifestSchema.safeParse(JSON.parse(payload.toString('utf8')));
  if (!parsed.success || parsed.data.version !== entry.version) {
    throw new VerificationError('ERR_METADATA_INVALID', `The manifest ${file} is not a valid manifest of version ${entry.version}`);
  }
  // Keep the entries exactly as published (fields a newer schema added included).
  const raw = JSON.parse(payload.toString('utf8')) as { files: PublishedFile[] };
  return { ...parsed.data, files: raw.files };
}

/**
 * The files of the merged release: every published file whose platform/arch pair differs from
 * (`platform`, `arch`), then `added`. When the pair already has files, `force` must be set
 * (ERR_USAGE otherwise, naming the pair). Returns the merged list and how many files were replaced.
 */
export function mergePlatformFiles(
  published: readonly PublishedFile[],
  added: readonly PublishedFile[],
  o: { version: string; channel: string; platform: string; arch: string; force: boolean },
): { files: PublishedFile[]; replaced: number; kept: number } {
  const same = (f: PublishedFile): boolean => (f.platform ?? 'any') === o.platform && (f.arch ?? 'any') === o.arch;
  const replaced = published.filter(same).length;
  if (replaced > 0 && !o.force) {
    throw new UsageError(
      'ERR_USAGE',
      `Version ${o.version} in channel "${o.channel}" already has files for ${o.platform}/${o.arch}; releases are immutable, so publish a new version (or pass --force to replace only the ${o.platform}/${o.arch} files)`,
      { version: o.version, platform: o.platform, arch: o.arch },
    );
  }
  const kept = published.filter((f) => !same(f));
  return { files: [...kept, ...added], replaced, kept: kept.length };
}

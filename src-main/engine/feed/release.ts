/**
 * The one internal model of a release, whatever feed it came from (Upkeep's native signed feed,
 * GitHub releases, electron-builder `latest.yml`, Sparkle appcasts, TUF repositories, HMAC
 * manifests). A `Feed` verifies its own format and returns `Release` values; everything after
 * that (download, install, views, history) reads only this model.
 *
 * Versions are opaque strings here: a SemVer version for native feeds, a commit id for a git
 * branch head, an image digest for a compose stack. Ordering and eligibility belong to the feed.
 */
import type { ArchiveFormat } from '../archive/extract';

/**
 * How much the feed's own checks vouch for a release:
 * - `signed`: the metadata naming the artifacts and their digests carries a trusted signature
 *   (DSSE, TUF, minisign, Ed25519 appcast signatures);
 * - `checksums`: digests come from the same unsigned source as the artifacts (GitHub asset
 *   checksums, electron-builder `sha512`), which protects against corruption but not a hostile source;
 * - `none`: nothing is verified beyond transport; UIs show the release as "unverified".
 */
export type VerificationLevel = 'signed' | 'checksums' | 'none';

/**
 * Expected digests of an artifact's bytes, lowercase hex. At least one is present for every
 * downloaded artifact unless the artifact carries a `verify` hook. Feeds that publish base64
 * (electron-builder's `sha512`) convert to hex when they build the release.
 */
export interface Digests {
  sha256?: string;
  sha512?: string;
}

/**
 * A check over an artifact's downloaded bytes that a digest cannot express (Sparkle's
 * `edSignature` and minisign signatures are made over the file itself). Called with the path of
 * the complete downloaded file before anything is installed; throws a `VerificationError`
 * (e.g. `ERR_SIGNATURE_INVALID`) to refuse it.
 */
export type ArtifactVerifier = (file: string, signal: AbortSignal) => Promise<void>;

/** FEED-FORMAT.md file types of a regular file. */
export type ReleaseFileType = 'file' | 'executable' | 'library' | 'config' | 'data';

/** A regular file of the managed tree, downloaded on its own. */
export interface ReleaseFile {
  kind: 'file';
  /** Relative, `/`-separated, normalised path inside the install dir (feed-checked). */
  path: string;
  type: ReleaseFileType;
  /** Exact size in bytes. */
  size: number;
  digests: Digests;
  /** Absolute URL (relative references already resolved against the feed document). */
  url: string;
  /** Permission bits (at most 0o777); absent: the type's default. */
  mode?: number;
  /** Feed platform/arch this file was published for (`any` when not platform specific). */
  platform: string;
  arch: string;
  verify?: ArtifactVerifier;
}

/** A symbolic link of the managed tree (FEED-FORMAT.md: relative `target`, resolved inside the install dir). */
export interface ReleaseSymlink {
  kind: 'symlink';
  path: string;
  target: string;
  platform: string;
  arch: string;
}

/**
 * Archive formats the extractor understands (`archive/extract.ts`): `.tar`, `.tar.gz`/`.tgz`,
 * `.tar.xz`/`.txz`, `.zip`. Feeds name an asset's format with `detectArchiveFormat`.
 */
export type { ArchiveFormat };

/**
 * An archive downloaded, verified, then extracted into the managed tree (a GitHub release asset,
 * a zipped app bundle). Its entries are the files of the release under `into`.
 */
export interface ReleaseArchive {
  kind: 'archive';
  /** Asset name as published ("demo-1.2.0-linux-x64.tar.gz"). */
  name: string;
  format: ArchiveFormat;
  size: number;
  digests: Digests;
  url: string;
  /** Leading path components dropped from every entry (tar's --strip-components). */
  strip_components: number;
  /** Relative directory of the install dir the entries land in ('' = the root). */
  into: string;
  platform: string;
  arch: string;
  verify?: ArtifactVerifier;
}

/** Everything a release installs, for this machine's platform/arch. */
export type ReleaseItem = ReleaseFile | ReleaseSymlink | ReleaseArchive;

/** Where the release's metadata came from, as shown by "show manifest" views. */
export interface ReleaseSource {
  /** Feed type that produced it (`native`, `github`, …). */
  feed_type: string;
  /** URL of the document describing the release. */
  url: string;
  /** Lowercase hex SHA-256 of that document's bytes, null when the feed has no such document. */
  sha256: string | null;
  /** The document's bytes as fetched (kept beside downloaded releases), null when none. */
  bytes: Uint8Array | null;
}

export interface Release {
  /** The feed's version string (opaque to the engine). */
  version: string;
  /** Display tag ("v1.2.0"). */
  tag_name: string;
  product: string;
  channel: string;
  /** ISO 8601, null when the feed does not say. */
  released_at: string | null;
  /** Release notes as Markdown (rendered sanitised by UIs). */
  notes: string;
  is_critical: boolean;
  /** Shown to users, never installed (Sparkle `sparkle:informationalUpdate`). */
  informational: boolean;
  /** Range of installed versions that may upgrade to this one; null: any. Interpreted by the feed. */
  min_upgrade_from: string | null;
  migrations_required: boolean;
  breaking_changes: string[];
  /** Source revision the release was built from (commit id), null when unknown. */
  build_commit: string | null;
  /** Staged rollout as published; null: everybody. */
  rollout: { percent: number; started_at: string | null } | null;
  verification: VerificationLevel;
  source: ReleaseSource;
  /** Items for this machine's platform/arch; the whole managed tree of this version. */
  items: ReleaseItem[];
}

/** The downloadable items of a release (files and archives). */
export function downloadableItems(r: Release): Array<ReleaseFile | ReleaseArchive> {
  return r.items.filter((i): i is ReleaseFile | ReleaseArchive => i.kind !== 'symlink');
}

/** Total bytes to download for a release. */
export function releaseDownloadSize(r: Release): number {
  return downloadableItems(r).reduce((n, i) => n + i.size, 0);
}

/**
 * `upkeep release publish`: turns a build directory into a signed release of a static feed
 * (FEED-FORMAT.md): content-addressed blobs, a signed manifest per version, and a re-signed
 * channel index with a higher sequence. Releases are immutable: an existing version is refused
 * unless `force` is given.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import {
  ARCHES,
  INDEX_PAYLOAD_TYPE,
  MANIFEST_PAYLOAD_TYPE,
  MANIFEST_SCHEMA,
  PLATFORMS,
  ReleaseManifestSchema,
  INDEX_SCHEMA,
  type ChannelIndex,
  type IndexEntry,
} from '../../../src-shared/feed-schema';
import { UsageError, VerificationError } from '../../../src-shared/errors';
import { signEnvelope } from '../trust/dsse';
import { fsyncDir, mkdirDurable, writeFileDurable } from '../fs/atomic';
import { scanBuild, type ScannedFile } from './build-scan';
import { mergePlatformFiles, readPublishedManifest } from './platform-merge';
import { checkInstallTrees } from '../trust/select';
import {
  BLOBS_DIR,
  CHANNELS_DIR,
  assertChannel,
  assertPercent,
  assertProduct,
  assertRange,
  assertVersion,
  expiryFrom,
  isoSeconds,
  loadSigningKeys,
  manifestRelPath,
  readChannelIndex,
  withFeedLock,
  writeChannelIndex,
} from './feed-writer';
import { sha256Hex } from '../trust/digest';
import { isWithin } from '../trust/paths';
import { systemClock } from '../clock';

export interface PublishOptions {
  buildDir: string;
  feedDir: string;
  product: string;
  version: string;
  channel: string;
  keyPaths: string[];
  /** Release notes, Markdown text. */
  notes?: string;
  critical?: boolean;
  minUpgradeFrom?: string;
  /** 0..100, default 100. */
  rolloutPercent?: number;
  /** Index expiry in days from now, default 30. */
  expiresInDays?: number;
  platform?: string;
  arch?: string;
  tagName?: string;
  buildCommit?: string;
  migrationsRequired?: boolean;
  breakingChanges?: string[];
  /** Replace an already published version (its manifest and index entry). */
  force?: boolean;
  now?: Date;
}

export interface PublishResult {
  manifestPath: string;
  manifestSha256: string;
  indexPath: string;
  sequence: number;
  files: number;
  bytes: number;
  keyids: string[];
  /** Blobs written by this publish (the others were already in the feed). */
  blobsWritten: number;
  /** Notes for the publisher that did not stop the publish (e.g. empty directories). */
  warnings: string[];
  /**
   * Set when this publish added a platform/arch to an already listed version: its pair, the
   * files of that pair it replaced (--force) and the files of other platforms kept unchanged.
   */
  platformAdded?: { platform: string; arch: string; replaced: number; kept: number };
}

function isEnoent(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/**
 * Stores one build file as blobs/sha256/<hex> unless a blob of that name and size is already there.
 * Written through a temp file in the same directory and renamed, hashing while copying so a file
 * changed since the scan is caught. Returns true when a blob was written.
 */
async function storeBlob(blobDir: string, file: ScannedFile): Promise<boolean> {
  const dest = path.join(blobDir, file.sha256);
  try {
    const st = await fsp.lstat(dest);
    if (st.isFile() && st.size === file.size) return false;
  } catch (err) {
    if (!isEnoent(err)) throw err;
  }
  const tmp = path.join(blobDir, `.${file.sha256}.${randomBytes(6).toString('hex')}.tmp`);
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  try {
    await pipeline(createReadStream(file.source), tap, createWriteStream(tmp, { flags: 'wx', mode: 0o644 }));
    const got = hash.digest('hex');
    if (got !== file.sha256 || size !== file.size) {
      throw new UsageError('ERR_USAGE', `Build file "${file.path}" changed during publish (hash or size differs from the scan); publish from a finished build`, { path: file.path });
    }
    const fh = await fsp.open(tmp, 'r+');
    try {
      await fh.chmod(0o644);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, dest);
    return true;
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

/** Refuses an unknown platform/arch name (FEED-FORMAT.md lists the accepted ones). */
function pickEnum<T extends readonly string[]>(value: string | undefined, allowed: T, what: string): T[number] {
  if (value === undefined || value === '') return 'any';
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError('ERR_USAGE', `Unknown ${what} "${value}"; expected one of ${allowed.join(', ')}`);
  }
  return value as T[number];
}

/** Names of channels (other than `channel`) whose index lists `version`, read without trusting them. */
async function otherChannelsListing(feedDir: string, channel: string, version: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fsp.readdir(path.join(feedDir, CHANNELS_DIR));
  } catch (err) {
    if (isEnoent(err)) return [];
    throw err;
  }
  const found: string[] = [];
  for (const name of names) {
    if (!name.endsWith('.json') || name === `${channel}.json`) continue;
    try {
      const env = JSON.parse(await fsp.readFile(path.join(feedDir, CHANNELS_DIR, name), 'utf8')) as { payloadType?: unknown; payload?: unknown };
      if (env.payloadType !== INDEX_PAYLOAD_TYPE || typeof env.payload !== 'string') continue;
      const idx = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { releases?: Array<{ version?: unknown; manifest?: unknown }> };
      if (idx.releases?.some((r) => r.version === version || r.manifest === manifestRelPath(version))) found.push(name.slice(0, -'.json'.length));
    } catch {
      // Not an index we can read; it cannot reference our manifest in a way a client accepts.
    }
  }
  return found;
}

/**
 * Publishes one version of `product` from `buildDir` into `feedDir`'s `channel`: writes the blobs,
 * the manifest signed by every key, and the channel index (sequence + 1, expiry renewed, releases
 * newest first). With `platform`/`arch` set and the version already listed, the build's files are
 * added to the published manifest for that platform/arch (other platforms' files and the
 * release's metadata kept; `force` replaces only that pair's files), re-signed, with the next
 * sequence (platform-merge.ts). The index entry always carries `rollout: {percent, started_at}` (100 when no
 * staged rollout was asked for) so `release rollout` has a start date to keep.
 * Throws ERR_USAGE (bad arguments, existing version without force, bad build), ERR_KEY_INVALID,
 * ERR_UNSAFE_PATH, ERR_SIGNATURE_INVALID (the existing index is not signed by these keys),
 * ERR_PRODUCT_MISMATCH (the channel belongs to another product) or ERR_BUSY.
 */
export async function publish(o: PublishOptions): Promise<PublishResult> {
  const now = o.now ?? systemClock.now();
  const version = assertVersion(o.version);
  const channel = assertChannel(o.channel);
  const product = assertProduct(o.product);
  const percentGiven = o.rolloutPercent === undefined ? undefined : assertPercent(o.rolloutPercent);
  const expires = expiryFrom(now, o.expiresInDays);
  const platform = pickEnum(o.platform, PLATFORMS, 'platform');
  const arch = pickEnum(o.arch, ARCHES, 'arch');
  const minUpgradeFrom = o.minUpgradeFrom === undefined ? undefined : assertRange(o.minUpgradeFrom);
  const breaking = o.breakingChanges ?? [];
  if (!Array.isArray(breaking) || breaking.some((b) => typeof b !== 'string' || b.trim() === '')) {
    throw new UsageError('ERR_USAGE', 'Breaking changes must be non-empty strings');
  }
  const feedDir = path.resolve(o.feedDir);
  const buildDir = path.resolve(o.buildDir);
  if (isWithin(buildDir, feedDir)) {
    throw new UsageError('ERR_USAGE', `The feed directory ${o.feedDir} is inside the build directory ${o.buildDir}; it would publish itself`);
  }
  const keys = await loadSigningKeys(o.keyPaths);

  return withFeedLock(feedDir, async () => {
    const previous = await readChannelIndex(feedDir, channel, keys);
    if (previous && previous.product !== product) {
      throw new VerificationError('ERR_PRODUCT_MISMATCH', `Channel "${channel}" of ${o.feedDir} belongs to product "${previous.product}", not "${product}"`, {
        expected: previous.product,
        got: product,
      });
    }
    const manifestRel = manifestRelPath(version);
    const manifestPath = path.join(feedDir, manifestRel);
    const manifestExists = await fsp.lstat(manifestPath).then(() => true, (err: unknown) => (isEnoent(err) ? false : Promise.reject(err)));
    const old = previous?.releases.find((r) => r.version === version);
    const listed = old !== undefined;
    // --platform/--arch on a listed version adds (or with --force replaces) that platform's files.
    const platformGiven = (o.platform ?? '') !== '' || (o.arch ?? '') !== '';
    const published = listed && platformGiven ? await readPublishedManifest(feedDir, old, keys) : null;
    if (listed && !o.force && published === null) {
      throw new UsageError('ERR_USAGE', `Version ${version} is already published in channel "${channel}" of ${o.feedDir}; releases are immutable, so publish a new version (or pass --force to replace it)`, { version });
    }
    const warnings: string[] = [];
    if (manifestExists) {
      // The manifest is shared by every channel that lists the version (it names one channel), so
      // it is never replaced while another channel's index points at its hash.
      const others = await otherChannelsListing(feedDir, channel, version);
      if (others.length > 0) {
        throw new UsageError('ERR_USAGE', `Version ${version} is already published in channel(s) ${others.join(', ')}; releases are immutable and replacing its manifest would break them. Publish a new version instead`, { version, channels: others });
      }
      if (!listed) warnings.push(`Replaced ${manifestRel}, which no channel listed (left by an interrupted publish)`);
    }

    const scan = await scanBuild(buildDir);
    warnings.push(...scan.warnings);
    const blobDir = path.join(feedDir, BLOBS_DIR);
    await mkdirDurable(blobDir);
    let blobsWritten = 0;
    for (const f of scan.files) if (f.type !== 'symlink' && (await storeBlob(blobDir, f))) blobsWritten++;
    if (blobsWritten > 0) await fsyncDir(blobDir);

    const built = scan.files.map((f) => f.type === 'symlink' ? { path: f.path, type: 'symlink' as const, target: f.target!, platform, arch } : ({
      path: f.path,
      type: f.type,
      sha256: f.sha256,
      size: f.size,
      mode: f.mode,
      platform,
      arch,
      url: `../${BLOBS_DIR}/${f.sha256}`,
    }));
    const merged = published === null ? null : mergePlatformFiles(published.files, built, { version, channel, platform, arch, force: o.force ?? false });
    // Adding a platform keeps the release's metadata; options given now override it.
    const base = published;
    const payload = {
      schema: MANIFEST_SCHEMA,
      product,
      version,
      tag_name: o.tagName ?? base?.tag_name ?? `v${version}`,
      channel,
      released_at: base?.released_at ?? isoSeconds(now),
      release_notes: o.notes ?? base?.release_notes ?? '',
      is_critical: o.critical ?? base?.is_critical ?? false,
      ...((minUpgradeFrom ?? base?.min_upgrade_from) !== undefined ? { min_upgrade_from: minUpgradeFrom ?? base?.min_upgrade_from } : {}),
      migrations_required: o.migrationsRequired ?? base?.migrations_required ?? false,
      breaking_changes: o.breakingChanges !== undefined ? breaking : base?.breaking_changes ?? [],
      ...((o.buildCommit ?? base?.build_commit) ? { build_commit: o.buildCommit ?? base?.build_commit } : {}),
      files: merged?.files ?? built,
    };
    checkInstallTrees(ReleaseManifestSchema.parse(payload));
    const manifestBytes = Buffer.from(
      JSON.stringify(signEnvelope(MANIFEST_PAYLOAD_TYPE, Buffer.from(JSON.stringify(payload, null, 2), 'utf8'), keys), null, 2) + '\n',
      'utf8',
    );
    await writeFileDurable(manifestPath, manifestBytes, 0o644, { followLink: true });
    const manifestSha256 = sha256Hex(manifestBytes);

    const percent = percentGiven ?? (published !== null ? old?.rollout?.percent : undefined) ?? 100;
    const entry: IndexEntry = {
      version,
      manifest: manifestRel,
      sha256: manifestSha256,
      size: manifestBytes.length,
      is_critical: payload.is_critical,
      rollout: { percent, started_at: old?.rollout?.started_at ?? isoSeconds(now) },
    };
    const index: ChannelIndex = {
      schema: INDEX_SCHEMA,
      product,
      channel,
      sequence: (previous?.sequence ?? 0) + 1,
      expires,
      releases: [...(previous?.releases ?? []).filter((r) => r.version !== version), entry],
    };
    await writeChannelIndex(feedDir, index, keys);

    return {
      manifestPath,
      manifestSha256,
      indexPath: path.join(feedDir, CHANNELS_DIR, `${channel}.json`),
      sequence: index.sequence,
      files: scan.files.length,
      bytes: scan.bytes,
      keyids: keys.map((k) => k.publicKey.keyid),
      blobsWritten,
      warnings,
      ...(merged ? { platformAdded: { platform, arch, replaced: merged.replaced, kept: merged.kept } } : {}),
    };
  });
}

/**
 * `GithubFeed`: releases of a GitHub repository (`feed: { type: github, repo, asset, … }`) behind
 * the `Feed` interface. The release list comes from the REST API through the shared axios client
 * (github-api.ts: pagination, ETags, rate limits, origin-bound token); companion assets
 * (checksums, signatures, the seed-000 manifest) are small documents read through the engine's
 * `Fetcher`; the artifact itself is downloaded later by the runner from `browser_download_url`.
 *
 * Verification, strongest available first:
 * 1. with `trust.keys`: a detached signature (`.minisig`, `.sig`/`.asc`, `.p7s`) over the checksums
 *    file, else over the asset itself (checked on the downloaded file), else — with
 *    `manifest_asset` — the manifest's CMS `signature` or a detached signature over the manifest;
 *    no signature at all is ERR_SIGNATURE_MISSING;
 * 2. `trust.checksums_only`: the SHA-256 the checksums file (or manifest) lists, with a warning;
 * 3. `trust.none`: nothing (the release's verification is `none`: "unverified" in every UI).
 */
import path from 'node:path';
import { NotFoundError, UsageError, VerificationError } from '../../../src-shared/errors';
import type { GithubFeedSchema, TrustConfig } from '../config/feed-schema';
import type { z } from 'zod';
import { requireThreshold } from '../trust/threshold';
import { compareVersions } from '../trust/versions';
import { resolveRelative } from '../net/url-policy';
import { checkManifestPaths } from '../trust/paths';
import { sha256Hex } from '../trust/digest';
import type { Assessment, Candidate, Feed, FeedEnv, FeedFactory, FeedPolicy, FeedSpec } from './feed';
import type { ArtifactVerifier, Release, ReleaseItem, VerificationLevel } from './release';
import { GithubClient } from './github-api';
import {
  archiveFormatOf,
  countedReleases,
  expandAssetTemplate,
  findAsset,
  parseChecksums,
  parseReleasesJson,
  signatureAssetsFor,
  type GithubAsset,
  type VersionedRelease,
} from './github-releases';
import { parseSeedManifest } from './seed-manifest';
import { assessSemver, checkDerivedUrl, expectFeedType, isNewer, isSkippedVersion, KeyRing, signatureOverFile } from './feed-helpers';

export type GithubFeedConfig = z.output<typeof GithubFeedSchema>;

/** Largest companion document (checksums file, signature, manifest) read, in bytes. */
const MAX_COMPANION_BYTES = 4 * 1024 * 1024;

export class GithubFeed implements Feed {
  readonly type = 'github';
  private readonly cfg: GithubFeedConfig;
  private readonly trust: TrustConfig;
  private readonly client: GithubClient;
  private readonly keys: KeyRing;
  private listing: Promise<VersionedRelease[]> | null = null;

  constructor(private readonly spec: FeedSpec, private readonly env: FeedEnv) {
    expectFeedType(spec.feed, 'github', spec.target);
    if (!spec.trust) throw new UsageError('ERR_CONFIG_INVALID', `Target ${spec.target}: a github feed needs a trust block`);
    this.cfg = spec.feed as unknown as GithubFeedConfig;
    this.trust = spec.trust;
    this.keys = new KeyRing(spec.trust);
    this.client = new GithubClient({
      apiUrl: this.cfg.api_url,
      token: this.cfg.token ?? null,
      allowInsecureHttp: this.cfg.allow_insecure_http,
      limits: env.limits,
      clock: env.clock,
      cacheDir: path.join(env.stateDir, 'feeds', 'github'),
    });
  }

  /** Releases that count (no drafts; prereleases only when configured; SemVer tags), fetched once per instance. */
  private list(signal?: AbortSignal): Promise<VersionedRelease[]> {
    this.listing ??= (async () => {
      const first = `${this.client.apiPath(`repos/${this.cfg.repo}/releases`)}?per_page=100`;
      const pages = await this.client.getAllPages(first, signal);
      const all = pages.flatMap((p) => parseReleasesJson(p.body));
      const { releases, skipped } = countedReleases(all, this.cfg.prerelease);
      for (const s of skipped.filter((x) => x.reason === 'tag is not SemVer')) {
        this.env.log?.('info', `${this.spec.target}: skipping GitHub release ${s.tag}: the tag is not a SemVer version`);
      }
      return releases;
    })().catch((err: unknown) => {
      this.listing = null;
      throw err;
    });
    return this.listing;
  }

  private assetName(version: string): string | null {
    if (!this.cfg.asset) return null;
    return expandAssetTemplate(this.cfg.asset, { version, platform: this.env.platform, arch: this.env.arch }, this.cfg);
  }

  /** True when the release publishes something for this machine (its asset, or its manifest). */
  private hasFiles(vr: VersionedRelease): boolean {
    if (this.cfg.manifest_asset) return findAsset(vr.release, this.cfg.manifest_asset) !== null;
    const name = this.assetName(vr.version);
    return name !== null && findAsset(vr.release, name) !== null;
  }

  async candidates(installed: string | null, policy: FeedPolicy, signal?: AbortSignal): Promise<Candidate[]> {
    const releases = await this.list(signal);
    return releases
      .filter((r) => isNewer(r.version, installed) && !isSkippedVersion(r.version, policy.skip_versions) && this.hasFiles(r))
      .sort((a, b) => compareVersions(b.version, a.version))
      .map((r) => ({ version: r.version, is_critical: false }));
  }

  async release(version: string, signal?: AbortSignal): Promise<Release> {
    const vr = (await this.list(signal)).find((r) => r.version === version);
    if (!vr) throw new NotFoundError('ERR_MANIFEST_NOT_FOUND', `Manifest not found for version: ${version} (no such GitHub release in ${this.cfg.repo})`, { version });
    return this.cfg.manifest_asset ? this.fromManifest(vr, this.cfg.manifest_asset, signal) : this.fromAsset(vr, signal);
  }

  assess(installed: string | null, release: Release, o: { allowDowngrade: boolean; explicit: boolean }): Assessment {
    return assessSemver(installed, release, o);
  }

  /** The asset's download URL; http(s) only (ERR_INSECURE_URL), as the API is reached over the network. */
  private assetUrl(a: GithubAsset): string {
    return checkDerivedUrl(this.cfg.api_url, a.browser_download_url, `GitHub asset ${a.name}`);
  }

  private async fetchAsset(a: GithubAsset, signal?: AbortSignal): Promise<Buffer> {
    const res = await this.env.fetcher.fetchBytes(this.assetUrl(a), {
      maxBytes: MAX_COMPANION_BYTES,
      allowInsecureHttp: this.cfg.allow_insecure_http,
      limits: this.env.limits,
      ...(signal ? { signal } : {}),
    });
    if (res.notModified) throw new VerificationError('ERR_METADATA_INVALID', `Unexpected "not modified" for ${a.name}`);
    return res.bytes;
  }

  private async fetchSignatures(vr: VersionedRelease, name: string, signal?: AbortSignal): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for (const s of signatureAssetsFor(vr.release, name)) out.push(await this.fetchAsset(s.asset, signal));
    return out;
  }

  private warnWeak(version: string, level: VerificationLevel): void {
    const what = level === 'none' ? 'UNVERIFIED (trust.none)' : 'verified by checksums only, no signature (trust.checksums_only)';
    this.env.log?.('warn', `${this.spec.target}: GitHub release ${version} is ${what}`);
  }

  private base(vr: VersionedRelease): Omit<Release, 'verification' | 'source' | 'items'> {
    const r = vr.release;
    return {
      version: vr.version,
      tag_name: r.tag_name,
      product: this.spec.product,
      channel: this.spec.channel,
      released_at: r.published_at ?? null,
      notes: r.body ?? '',
      is_critical: false,
      informational: false,
      min_upgrade_from: null,
      migrations_required: false,
      breaking_changes: [],
      build_commit: r.target_commitish && /^[0-9a-f]{40}$/.test(r.target_commitish) ? r.target_commitish : null,
      rollout: null,
    };
  }

  private async fromAsset(vr: VersionedRelease, signal?: AbortSignal): Promise<Release> {
    const name = this.assetName(vr.version)!;
    const asset = findAsset(vr.release, name);
    if (!asset) {
      throw new NotFoundError('ERR_NO_RELEASE', `GitHub release ${vr.release.tag_name} has no asset ${name} for ${this.env.platform}/${this.env.arch}`, { version: vr.version, asset: name });
    }
    let sums: { bytes: Buffer; url: string } | null = null;
    let sha256: string | undefined;
    if (this.cfg.checksums) {
      const sumsAsset = findAsset(vr.release, this.cfg.checksums);
      if (!sumsAsset) throw new VerificationError('ERR_METADATA_INVALID', `GitHub release ${vr.release.tag_name} has no checksums asset ${this.cfg.checksums}`, { version: vr.version });
      sums = { bytes: await this.fetchAsset(sumsAsset, signal), url: sumsAsset.browser_download_url };
      sha256 = parseChecksums(sums.bytes.toString('utf8')).get(name);
      if (!sha256) throw new VerificationError('ERR_METADATA_INVALID', `${this.cfg.checksums} does not list ${name}`, { version: vr.version, asset: name });
    }
    let level: VerificationLevel;
    let verify: ArtifactVerifier | undefined;
    if (this.keys.configured) {
      const overSums = this.cfg.checksums && sums ? await this.fetchSignatures(vr, this.cfg.checksums, signal) : [];
      if (overSums.length > 0 && sums) {
        await this.keys.require(sums.bytes, overSums, `${this.cfg.checksums} of ${vr.release.tag_name}`, this.env.clock.now());
      } else {
        const overAsset = await this.fetchSignatures(vr, name, signal);
        if (overAsset.length === 0) {
          throw new VerificationError('ERR_SIGNATURE_MISSING', `GitHub release ${vr.release.tag_name} has no signature (${name}.minisig/.sig/.asc/.p7s${this.cfg.checksums ? ` or ${this.cfg.checksums}.minisig/…` : ''}), but trusted keys are configured`, { version: vr.version });
        }
        verify = signatureOverFile(this.keys, overAsset, name, () => this.env.clock.now());
      }
      level = 'signed';
    } else if (sha256) {
      level = 'checksums';
      this.warnWeak(vr.version, level);
    } else {
      level = 'none';
      this.warnWeak(vr.version, level);
    }
    const format = archiveFormatOf(name);
    let item: ReleaseItem;
    const digests = sha256 ? { sha256 } : {};
    if (format !== null) {
      item = {
        kind: 'archive', name, format, size: asset.size, digests, url: this.assetUrl(asset),
        strip_components: this.cfg.strip_components, into: '', platform: this.env.platform, arch: this.env.arch,
        ...(verify ? { verify } : {}),
      };
    } else {
      item = {
        kind: 'file', path: name, type: 'executable', size: asset.size, digests, url: this.assetUrl(asset), mode: 0o755,
        platform: this.env.platform, arch: this.env.arch, ...(verify ? { verify } : {}),
      };
    }
    return {
      ...this.base(vr),
      verification: level,
      source: { feed_type: 'github', url: sums?.url ?? asset.browser_download_url, sha256: sums ? sha256Hex(sums.bytes) : null, bytes: sums?.bytes ?? null },
      items: [item],
    };
  }

  private async fromManifest(vr: VersionedRelease, manifestName: string, signal?: AbortSignal): Promise<Release> {
    const asset = findAsset(vr.release, manifestName);
    if (!asset) throw new NotFoundError('ERR_NO_RELEASE', `GitHub release ${vr.release.tag_name} has no ${manifestName}`, { version: vr.version });
    const bytes = await this.fetchAsset(asset, signal);
    const parsed = parseSeedManifest(bytes, vr.version);
    let level: VerificationLevel;
    if (this.keys.configured) {
      const now = this.env.clock.now();
      const results = [
        ...(parsed.signature ? await this.keys.check(parsed.signedBytes, [parsed.signature], now) : []),
        ...(await this.keys.check(bytes, await this.fetchSignatures(vr, manifestName, signal), now)),
      ];
      requireThreshold(results, this.keys.threshold, `${manifestName} of ${vr.release.tag_name}`);
      level = 'signed';
    } else {
      level = this.trust.none ? 'none' : 'checksums';
      this.warnWeak(vr.version, level);
    }
    const m = parsed.manifest;
    const fits = (v: string, own: string, names: Record<string, string>): boolean => v === 'any' || v === own || v === names[own];
    const mine = m.files.filter((f) => fits(f.platform, this.env.platform, this.cfg.platform_names) && fits(f.architecture, this.env.arch, this.cfg.arch_names));
    // The files installed together follow the feed path rules (FEED-FORMAT.md): no two equal after
    // NFC + case folding, no file that is also a parent directory, on every platform alike.
    checkManifestPaths(mine.map((f) => f.path));
    const items: ReleaseItem[] = mine
      .map((f) => ({
        kind: 'file',
        path: f.path,
        type: f.type,
        size: f.size_bytes,
        digests: { sha256: f.sha256_hash.toLowerCase() },
        url: checkDerivedUrl(this.cfg.api_url, resolveRelative(asset.browser_download_url, f.download_url), `${manifestName} file ${f.path}`),
        platform: f.platform,
        arch: f.architecture,
      }));
    if (items.length === 0) {
      throw new NotFoundError('ERR_NO_RELEASE', `${manifestName} of ${vr.release.tag_name} lists no files for ${this.env.platform}/${this.env.arch}`, { version: vr.version });
    }
    return {
      ...this.base(vr),
      notes: m.release_notes || (vr.release.body ?? ''),
      is_critical: m.is_critical,
      build_commit: m.build_commit ?? this.base(vr).build_commit,
      verification: level,
      source: { feed_type: 'github', url: asset.browser_download_url, sha256: sha256Hex(bytes), bytes },
      items,
    };
  }
}

export const createGithubFeed: FeedFactory = (spec, env) => new GithubFeed(spec, env);

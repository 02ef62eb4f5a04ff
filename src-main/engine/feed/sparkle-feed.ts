/**
 * `SparkleFeed`: a Sparkle appcast (`feed: { type: sparkle, url }`) behind the `Feed` interface.
 * Versions are Sparkle bundle versions ordered by Sparkle's comparator (not SemVer); the best item
 * is Sparkle's choice for this installation (channels, system version, phased rollout group,
 * critical updates); informational items are returned with `informational: true` (shown, never
 * installed); `sparkle:edSignature` is verified with the `ed25519:` keys of `trust` over the
 * downloaded archive (level `signed`). `trust: { none: true }` accepts unsigned appcasts.
 */
import { promises as fsp } from 'node:fs';
import { NotFoundError, PolicyError, UsageError, VerificationError } from '../../../src-shared/errors';
import type { SparkleFeedSchema, TrustConfig } from '../config/feed-schema';
import type { z } from 'zod';
import { sha256Hex } from '../trust/digest';
import { detectArchiveFormat } from '../archive/extract';
import { verifyEd25519Signature } from '../trust/signatures';
import { requireThreshold } from '../trust/threshold';
import type { Assessment, Candidate, Feed, FeedEnv, FeedFactory, FeedPolicy, FeedSpec } from './feed';
import type { ArtifactVerifier, Release, ReleaseItem } from './release';
import { eligibleItems, isCriticalFor, isInformationalFor, isMajorUpgradeFor, parseAppcast, rolloutGroupOf, type ParsedAppcast, type SparkleItem } from './sparkle';
import { compareSparkleVersions } from './sparkle-version';
import { expectFeedType, KeyRing, MAX_SIGNED_ARTIFACT_BYTES } from './feed-helpers';

export type SparkleFeedConfig = z.output<typeof SparkleFeedSchema>;

/** Largest appcast accepted, in bytes (Lunar's real one is ~100 KiB). */
const MAX_APPCAST_BYTES = 8 * 1024 * 1024;

export class SparkleFeed implements Feed {
  readonly type = 'sparkle';
  private readonly cfg: SparkleFeedConfig;
  private readonly trust: TrustConfig;
  private readonly keys: KeyRing;
  private doc: Promise<{ appcast: ParsedAppcast; url: string; bytes: Buffer }> | null = null;
  private installed: string | null = null;
  private group = 0;

  constructor(private readonly spec: FeedSpec, private readonly env: FeedEnv) {
    expectFeedType(spec.feed, 'sparkle', spec.target);
    if (!spec.trust) throw new UsageError('ERR_CONFIG_INVALID', `Target ${spec.target}: a sparkle feed needs a trust block`);
    this.cfg = spec.feed as unknown as SparkleFeedConfig;
    this.trust = spec.trust;
    this.keys = new KeyRing(spec.trust);
  }

  private load(signal?: AbortSignal): Promise<{ appcast: ParsedAppcast; url: string; bytes: Buffer }> {
    this.doc ??= (async () => {
      const res = await this.env.fetcher.fetchBytes(this.cfg.url, {
        maxBytes: MAX_APPCAST_BYTES,
        allowInsecureHttp: this.cfg.allow_insecure_http,
        limits: this.env.limits,
        ...(signal ? { signal } : {}),
      });
      if (res.notModified) throw new VerificationError('ERR_METADATA_INVALID', `Unexpected "not modified" for ${this.cfg.url}`);
      const appcast = parseAppcast(res.bytes, res.url);
      for (const s of appcast.skipped) this.env.log?.('info', `${this.spec.target}: appcast item "${s.title}" skipped: ${s.reason}`);
      return { appcast, url: res.url, bytes: res.bytes };
    })().catch((err: unknown) => {
      this.doc = null;
      throw err;
    });
    return this.doc;
  }

  private get os(): string {
    if (this.cfg.os) return this.cfg.os;
    return this.env.platform === 'darwin' ? 'macos' : this.env.platform === 'win32' ? 'windows' : this.env.platform;
  }

  private eligible(appcast: ParsedAppcast, installed: string | null): SparkleItem[] {
    return eligibleItems(appcast, {
      installed,
      channels: this.spec.channel === 'stable' ? [] : [this.spec.channel],
      os: this.os,
      systemVersion: this.cfg.system_version ?? null,
      rolloutGroup: this.group,
      now: this.env.clock.now(),
    });
  }

  async candidates(installed: string | null, policy: FeedPolicy, signal?: AbortSignal): Promise<Candidate[]> {
    const { appcast } = await this.load(signal);
    this.installed = installed;
    this.group = rolloutGroupOf(policy.machine_id);
    return this.eligible(appcast, installed)
      .filter((i) => !policy.skip_versions.some((s) => compareSparkleVersions(s, i.version) === 0))
      .map((i) => ({ version: i.version, is_critical: isCriticalFor(i, installed) }));
  }

  async release(version: string, signal?: AbortSignal): Promise<Release> {
    const { appcast, url, bytes } = await this.load(signal);
    const item = appcast.items.find((i) => i.version === version);
    if (!item) throw new NotFoundError('ERR_MANIFEST_NOT_FOUND', `Manifest not found for version: ${version} (not in the appcast)`, { version });
    const informational = isInformationalFor(item, this.installed);
    const items: ReleaseItem[] = [];
    let verification: Release['verification'] = 'none';
    if (!informational && item.enclosure) {
      const enc = item.enclosure;
      if (enc.length === null) throw new VerificationError('ERR_METADATA_INVALID', `Appcast item ${item.title}: the enclosure has no length`, { version });
      let verify: ArtifactVerifier | undefined;
      if (this.keys.configured) {
        if (!enc.edSignature) throw new VerificationError('ERR_SIGNATURE_MISSING', `Appcast item ${item.title} has no sparkle:edSignature, but trusted keys are configured`, { version });
        verify = this.edVerifier(enc.edSignature, item.title);
        verification = 'signed';
      } else {
        this.env.log?.('warn', `${this.spec.target}: Sparkle ${item.displayVersion} is UNVERIFIED (trust.none)`);
      }
      const name = decodeURIComponent(new URL(enc.url).pathname.split('/').pop() ?? 'update');
      const format = detectArchiveFormat(name);
      items.push(format
        ? { kind: 'archive', name, format, size: enc.length, digests: {}, url: enc.url, strip_components: this.cfg.strip_components, into: '', platform: this.env.platform, arch: 'any', ...(verify ? { verify } : {}) }
        : { kind: 'file', path: name, type: 'file', size: enc.length, digests: {}, url: enc.url, platform: this.env.platform, arch: 'any', ...(verify ? { verify } : {}) });
    }
    return {
      version: item.version,
      tag_name: item.displayVersion,
      product: this.spec.product,
      channel: item.channel ?? this.spec.channel,
      released_at: item.pubDate ? item.pubDate.toISOString() : null,
      notes: item.description || (item.releaseNotesLink ? `Release notes: ${item.releaseNotesLink}` : ''),
      is_critical: isCriticalFor(item, this.installed),
      informational,
      min_upgrade_from: item.minimumAutoupdateVersion,
      migrations_required: false,
      breaking_changes: [],
      build_commit: null,
      rollout: null,
      verification,
      source: { feed_type: 'sparkle', url, sha256: sha256Hex(bytes), bytes },
      items,
    };
  }

  /** Checks the edSignature over the downloaded file with the trusted ed25519 keys. */
  private edVerifier(signature: string, title: string): ArtifactVerifier {
    return async (file) => {
      const st = await fsp.stat(file);
      if (st.size > MAX_SIGNED_ARTIFACT_BYTES) throw new VerificationError('ERR_SIZE_MISMATCH', `${title}: archive too large to check its edSignature`);
      const keys = await this.keys.load();
      requireThreshold([verifyEd25519Signature(await fsp.readFile(file), signature, keys)], this.keys.threshold, `Sparkle archive of ${title}`);
    };
  }

  /** Sparkle ordering: older or equal is a downgrade; below minimumAutoupdateVersion is breaking (never automatic). */
  assess(installed: string | null, release: Release, o: { allowDowngrade: boolean; explicit: boolean }): Assessment {
    if (release.informational) {
      throw new PolicyError('ERR_INCOMPATIBLE_UPGRADE', `Sparkle ${release.tag_name} is informational: it is shown, never installed`, { to: release.version });
    }
    if (installed !== null && compareSparkleVersions(release.version, installed) <= 0 && !o.allowDowngrade) {
      throw new PolicyError('ERR_DOWNGRADE', `Refusing to downgrade: ${release.version} is not newer than the installed ${installed}`, { from: installed, to: release.version });
    }
    const item = { minimumAutoupdateVersion: release.min_upgrade_from } as SparkleItem;
    return { breaking: isMajorUpgradeFor(item, installed) };
  }
}

export const createSparkleFeed: FeedFactory = (spec, env) => new SparkleFeed(spec, env);

/**
 * `NativeFeed`: Upkeep's own signed feed (FEED-FORMAT.md) behind the `Feed` interface. The
 * channel index is fetched and verified once per feed instance (one operation); each release's
 * manifest is fetched, verified against its index entry and turned into the `Release` model with
 * the items of this machine's platform/arch.
 */
import { NotFoundError } from '../../../src-shared/errors';
import { isSymlinkEntry, type ChannelIndex, type ManifestFile } from '../../../src-shared/feed-schema';
import { parseTrust } from '../trust/feed-checks';
import { candidateReleases, checkUpgradePolicy, filesForPlatform, isBreaking, isInRollout } from '../trust/select';
import { compareVersions, isValidVersion } from '../trust/versions';
import { resolveFeedUrl } from '../net/url-policy';
import type { Assessment, Candidate, Feed, FeedEnv, FeedFactory, FeedPolicy, FeedSpec } from './feed';
import type { Release, ReleaseItem } from './release';
import { loadIndex, loadManifest, type FeedContext, type FeedTarget, type LoadedManifest } from './native-feed';
import { checkDerivedUrl } from './feed-helpers';

export class NativeFeed implements Feed {
  readonly type = 'native';
  private readonly target: FeedTarget;
  private index: Promise<{ index: ChannelIndex; feedRoot: string }> | null = null;
  private readonly manifests = new Map<string, Promise<LoadedManifest>>();

  constructor(spec: FeedSpec, private readonly env: FeedEnv) {
    if (!spec.trust) throw new NotFoundError('ERR_CONFIG_INVALID', `Target ${spec.target}: a native feed needs trust keys`);
    this.target = {
      id: spec.target,
      product: spec.product,
      channel: spec.channel,
      feedUrl: spec.feed.url,
      allowInsecureHttp: spec.feed.allow_insecure_http,
      trust: parseTrust(spec.trust),
    };
  }

  private ctx(signal?: AbortSignal): FeedContext {
    return { stateDir: this.env.stateDir, limits: this.env.limits, now: () => this.env.clock.now(), fetcher: this.env.fetcher, ...(signal ? { signal } : {}) };
  }

  /** The verified channel index (fetched once per instance). */
  private loadIndex(signal?: AbortSignal): Promise<{ index: ChannelIndex; feedRoot: string }> {
    this.index ??= loadIndex(this.target, this.ctx(signal)).catch((err: unknown) => {
      this.index = null;
      throw err;
    });
    return this.index;
  }

  async candidates(installed: string | null, policy: FeedPolicy, signal?: AbortSignal): Promise<Candidate[]> {
    const { index } = await this.loadIndex(signal);
    return candidateReleases(index, { current: installed, skip: [...policy.skip_versions], machineId: policy.machine_id, product: this.target.product })
      .map((e) => ({ version: e.version, is_critical: e.is_critical }));
  }

  /** The verified manifest of `version` (its DSSE envelope bytes are `Release.source.bytes`). */
  async manifest(version: string, signal?: AbortSignal): Promise<LoadedManifest> {
    let m = this.manifests.get(version);
    if (!m) {
      const { index, feedRoot } = await this.loadIndex(signal);
      const entry = index.releases.find((e) => e.version === version);
      if (!entry) throw new NotFoundError('ERR_MANIFEST_NOT_FOUND', `Manifest not found for version: ${version}`, { version });
      m = loadManifest(this.target, feedRoot, entry, this.ctx(signal));
      this.manifests.set(version, m);
      m.catch(() => this.manifests.delete(version));
    }
    return m;
  }

  async release(version: string, signal?: AbortSignal): Promise<Release> {
    const lm = await this.manifest(version, signal);
    return nativeRelease(lm, filesForPlatform(lm.manifest, this.env.platform, this.env.arch));
  }

  async heldBack(after: string | null, policy: FeedPolicy, signal?: AbortSignal): Promise<{ version: string; percent: number } | null> {
    const { index } = await this.loadIndex(signal);
    const held = index.releases
      .filter((e) => isValidVersion(e.version) && (after === null || compareVersions(e.version, after) > 0))
      .filter((e) => !policy.skip_versions.includes(e.version) && !isInRollout(e, policy.machine_id, this.target.product))
      .sort((a, b) => compareVersions(b.version, a.version))[0];
    return held ? { version: held.version, percent: Math.max(0, Math.min(100, held.rollout?.percent ?? 100)) } : null;
  }

  assess(installed: string | null, release: Release, o: { allowDowngrade: boolean; explicit: boolean }): Assessment {
    checkUpgradePolicy({
      current: installed,
      target: { version: release.version, ...(release.min_upgrade_from !== null ? { min_upgrade_from: release.min_upgrade_from } : {}) },
      allowDowngrade: o.allowDowngrade,
      explicitRollback: false,
    });
    return { breaking: isBreaking(installed, release) };
  }
}

function item(f: ManifestFile, manifestUrl: string): ReleaseItem {
  if (isSymlinkEntry(f)) return { kind: 'symlink', path: f.path, target: f.target, platform: f.platform, arch: f.arch };
  return {
    kind: 'file',
    path: f.path,
    type: f.type,
    size: f.size,
    digests: { sha256: f.sha256 },
    url: checkDerivedUrl(manifestUrl, resolveFeedUrl(manifestUrl, f.url), `manifest file ${f.path}`),
    ...(f.mode !== undefined ? { mode: f.mode } : {}),
    platform: f.platform,
    arch: f.arch,
  };
}

/** The `Release` model of a verified native manifest with the selected files. */
export function nativeRelease(lm: LoadedManifest, files: ManifestFile[]): Release {
  const m = lm.manifest;
  return {
    version: m.version,
    tag_name: m.tag_name ?? `v${m.version}`,
    product: m.product,
    channel: m.channel,
    released_at: m.released_at,
    notes: m.release_notes,
    is_critical: m.is_critical || lm.entry.is_critical,
    informational: false,
    min_upgrade_from: m.min_upgrade_from ?? null,
    migrations_required: m.migrations_required,
    breaking_changes: m.breaking_changes,
    build_commit: m.build_commit ?? null,
    rollout: lm.entry.rollout ? { percent: lm.entry.rollout.percent, started_at: lm.entry.rollout.started_at ?? null } : null,
    verification: 'signed',
    source: { feed_type: 'native', url: lm.url, sha256: lm.sha256, bytes: lm.bytes },
    items: files.map((f) => item(f, lm.url)),
  };
}

export const createNativeFeed: FeedFactory = (spec, env) => new NativeFeed(spec, env);

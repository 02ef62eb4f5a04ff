/**
 * `HmacManifestFeed`: seed 003's signed release manifest at a URL
 * (`feed: { type: hmac-manifest, url }`, `trust: { hmac_secret_env: RELEASE_SIGNING_SECRET }`)
 * behind the `Feed` interface. The manifest names one version (`version`, `sha`, `channel`,
 * `migrations_required`, `breaking_changes`, `released_at`, hex HMAC-SHA256 `signature`); it is
 * verified in constant time by trust/hmac-manifest.ts with the secret read from the named
 * environment variable, and accepted with a warning that a shared secret is not public-key
 * security. It drives `command` targets: the release has no files, the target's steps do the work.
 */
import { NotFoundError, UsageError, VerificationError } from '../../../src-shared/errors';
import { sha256Hex } from '../trust/digest';
import { MAX_HMAC_MANIFEST_BYTES, verifyHmacManifest, type HmacReleaseManifest } from '../trust/hmac-manifest';
import type { Assessment, Candidate, Feed, FeedEnv, FeedFactory, FeedPolicy, FeedSpec } from './feed';
import type { Release } from './release';
import { assessSemver, expectFeedType, isNewer, isSkippedVersion } from './feed-helpers';

export class HmacManifestFeed implements Feed {
  readonly type = 'hmac-manifest';
  private readonly secretEnv: string;
  private doc: Promise<{ manifest: HmacReleaseManifest; url: string; bytes: Buffer }> | null = null;

  constructor(private readonly spec: FeedSpec, private readonly env: FeedEnv, private readonly vars: NodeJS.ProcessEnv = process.env) {
    expectFeedType(spec.feed, 'hmac-manifest', spec.target);
    const name = spec.trust?.hmac_secret_env;
    if (!name) throw new UsageError('ERR_CONFIG_INVALID', `Target ${spec.target}: an hmac-manifest feed needs trust.hmac_secret_env`);
    this.secretEnv = name;
  }

  private load(signal?: AbortSignal): Promise<{ manifest: HmacReleaseManifest; url: string; bytes: Buffer }> {
    this.doc ??= (async () => {
      const secret = this.vars[this.secretEnv];
      if (secret === undefined || secret === '') {
        throw new UsageError('ERR_CONFIG_INVALID', `Target ${this.spec.target}: environment variable ${this.secretEnv} (trust.hmac_secret_env) is not set`, { variable: this.secretEnv });
      }
      const res = await this.env.fetcher.fetchBytes(this.spec.feed.url, {
        maxBytes: MAX_HMAC_MANIFEST_BYTES,
        allowInsecureHttp: this.spec.feed.allow_insecure_http,
        limits: this.env.limits,
        ...(signal ? { signal } : {}),
      });
      if (res.notModified) throw new VerificationError('ERR_METADATA_INVALID', `Unexpected "not modified" for ${this.spec.feed.url}`);
      const { manifest, warning } = verifyHmacManifest(res.bytes, secret);
      this.env.log?.('warn', `${this.spec.target}: ${warning}`);
      return { manifest, url: res.url, bytes: res.bytes };
    })().catch((err: unknown) => {
      this.doc = null;
      throw err;
    });
    return this.doc;
  }

  /** The manifest's version when it is for this target's channel, newer than installed and not skipped. */
  async candidates(installed: string | null, policy: FeedPolicy, signal?: AbortSignal): Promise<Candidate[]> {
    const { manifest } = await this.load(signal);
    if (manifest.channel !== this.spec.channel) return [];
    if (!isNewer(manifest.version, installed) || isSkippedVersion(manifest.version, policy.skip_versions)) return [];
    return [{ version: manifest.version, is_critical: false }];
  }

  async release(version: string, signal?: AbortSignal): Promise<Release> {
    const { manifest: m, url, bytes } = await this.load(signal);
    if (m.version !== version) throw new NotFoundError('ERR_MANIFEST_NOT_FOUND', `Manifest not found for version: ${version} (the manifest is for ${m.version})`, { version });
    if (m.channel !== this.spec.channel) {
      throw new VerificationError('ERR_PRODUCT_MISMATCH', `The release manifest is for channel ${m.channel}, the target follows ${this.spec.channel}`, { channel: m.channel });
    }
    return {
      version: m.version,
      tag_name: `v${m.version}`,
      product: this.spec.product,
      channel: m.channel,
      released_at: m.released_at,
      notes: m.breaking_changes ? `Breaking changes: ${m.breaking_changes}` : '',
      is_critical: false,
      informational: false,
      min_upgrade_from: null,
      migrations_required: m.migrations_required,
      breaking_changes: m.breaking_changes ? [m.breaking_changes] : [],
      build_commit: m.sha,
      rollout: null,
      verification: 'signed',
      source: { feed_type: 'hmac-manifest', url, sha256: sha256Hex(bytes), bytes },
      items: [],
    };
  }

  assess(installed: string | null, release: Release, o: { allowDowngrade: boolean; explicit: boolean }): Assessment {
    return assessSemver(installed, release, o);
  }
}

export const createHmacManifestFeed: FeedFactory = (spec, env) => new HmacManifestFeed(spec, env);

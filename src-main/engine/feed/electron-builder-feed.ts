/**
 * `ElectronBuilderFeed`: an electron-builder/electron-updater "generic" feed folder
 * (`feed: { type: electron-builder, url }`) behind the `Feed` interface. The channel `stable`
 * reads `latest*.yml`; any other channel reads `<channel>*.yml`. The feed publishes one version;
 * its file for this machine comes from `files[]` (never the legacy top-level path/sha512), is
 * verified by its SHA-512 (verification level `checksums`: the digest comes from the same server
 * as the file), and staged rollouts follow electron-updater's bucket rule on this installation's id.
 */
import { NotFoundError, UsageError, VerificationError } from '../../../src-shared/errors';
import type { ElectronBuilderFeedSchema } from '../config/feed-schema';
import type { z } from 'zod';
import { resolveFeedPath, resolveFeedUrl } from '../net/url-policy';
import { unsafePathError, unsafePathReason } from '../trust/paths';
import { sha256Hex } from '../trust/digest';
import { detectArchiveFormat } from '../archive/extract';
import type { Assessment, Candidate, Feed, FeedEnv, FeedFactory, FeedPolicy, FeedSpec } from './feed';
import type { Release, ReleaseItem } from './release';
import { feedFileNames, isInStagedRollout, parseElectronBuilderFeed, selectFile, type EbPlatform, type EbUpdateInfo } from './electron-builder';
import { assessSemver, checkDerivedUrl, expectFeedType, isNewer, isSkippedVersion } from './feed-helpers';

export type ElectronBuilderFeedConfig = z.output<typeof ElectronBuilderFeedSchema>;

/** Largest latest*.yml accepted, in bytes. */
const MAX_FEED_BYTES = 1024 * 1024;

interface Loaded {
  info: EbUpdateInfo;
  url: string;
  bytes: Buffer;
}

export class ElectronBuilderFeed implements Feed {
  readonly type = 'electron-builder';
  private readonly cfg: ElectronBuilderFeedConfig;
  private doc: Promise<Loaded> | null = null;

  constructor(private readonly spec: FeedSpec, private readonly env: FeedEnv) {
    expectFeedType(spec.feed, 'electron-builder', spec.target);
    this.cfg = spec.feed as unknown as ElectronBuilderFeedConfig;
    if (env.platform !== 'linux' && env.platform !== 'darwin' && env.platform !== 'win32') {
      throw new UsageError('ERR_CONFIG_INVALID', `Target ${spec.target}: electron-builder feeds have no files for ${env.platform}`);
    }
  }

  private get platform(): EbPlatform {
    return this.env.platform as EbPlatform;
  }

  private get arch(): 'x64' | 'arm64' {
    return this.env.arch === 'arm64' ? 'arm64' : 'x64';
  }

  /** The first feed document of this machine that exists (fetched once per instance). */
  private load(signal?: AbortSignal): Promise<Loaded> {
    this.doc ??= (async () => {
      const channel = this.spec.channel === 'stable' ? 'latest' : this.spec.channel;
      let lastErr: unknown = null;
      for (const name of feedFileNames(channel, this.platform, this.arch)) {
        const url = resolveFeedPath(this.cfg.url, name);
        try {
          const res = await this.env.fetcher.fetchBytes(url, {
            maxBytes: MAX_FEED_BYTES,
            allowInsecureHttp: this.cfg.allow_insecure_http,
            limits: this.env.limits,
            ...(signal ? { signal } : {}),
          });
          if (res.notModified) throw new VerificationError('ERR_METADATA_INVALID', `Unexpected "not modified" for ${url}`);
          return { info: parseElectronBuilderFeed(res.bytes, name), url: res.url, bytes: res.bytes };
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err;
          lastErr = err;
        }
      }
      throw new NotFoundError('ERR_NO_RELEASE', `The electron-builder feed has no ${channel} document for ${this.platform}/${this.arch}`, {
        url: this.cfg.url,
        cause: lastErr instanceof Error ? lastErr.message : null,
      });
    })().catch((err: unknown) => {
      this.doc = null;
      throw err;
    });
    return this.doc;
  }

  async candidates(installed: string | null, policy: FeedPolicy, signal?: AbortSignal): Promise<Candidate[]> {
    const { info } = await this.load(signal);
    if (!isNewer(info.version, installed) || isSkippedVersion(info.version, policy.skip_versions)) return [];
    if (!isInStagedRollout(info.stagingPercentage, policy.machine_id)) return [];
    if (selectFile(info, this.platform, this.arch, this.cfg.extensions) === null) return [];
    return [{ version: info.version, is_critical: false }];
  }

  async release(version: string, signal?: AbortSignal): Promise<Release> {
    const { info, url, bytes } = await this.load(signal);
    if (info.version !== version) throw new NotFoundError('ERR_MANIFEST_NOT_FOUND', `Manifest not found for version: ${version} (the feed publishes ${info.version})`, { version });
    const file = selectFile(info, this.platform, this.arch, this.cfg.extensions);
    if (!file) throw new NotFoundError('ERR_NO_RELEASE', `electron-builder ${version} has no file for ${this.platform}/${this.arch}`, { version });
    if (file.size === null) throw new VerificationError('ERR_METADATA_INVALID', `electron-builder ${version}: ${file.url} has no size`, { version });
    const fileUrl = checkDerivedUrl(url, resolveFeedUrl(url, file.url), `electron-builder ${version}: files[].url`);
    const name = decodeURIComponent(new URL(fileUrl).pathname.split('/').pop() ?? file.url);
    // The file is installed under its URL's last segment, decoded: one plain name ("%2f" or "%2e%2e" never make a path).
    const reason = name.includes('/') ? 'a file name with "/"' : unsafePathReason(name);
    if (reason !== null) throw unsafePathError(name, reason);
    const format = detectArchiveFormat(name);
    const item: ReleaseItem = format
      ? { kind: 'archive', name, format, size: file.size, digests: { sha512: file.sha512 }, url: fileUrl, strip_components: this.cfg.strip_components, into: '', platform: this.platform, arch: file.arch === 'any' ? 'any' : file.arch }
      : { kind: 'file', path: name, type: 'executable', mode: 0o755, size: file.size, digests: { sha512: file.sha512 }, url: fileUrl, platform: this.platform, arch: file.arch === 'any' ? 'any' : file.arch };
    this.env.log?.('warn', `${this.spec.target}: electron-builder ${version} is verified by its published sha512 only (no signature)`);
    return {
      version,
      tag_name: `v${version}`,
      product: this.spec.product,
      channel: this.spec.channel,
      released_at: info.releaseDate,
      notes: info.releaseNotes,
      is_critical: false,
      informational: false,
      min_upgrade_from: null,
      migrations_required: false,
      breaking_changes: [],
      build_commit: null,
      rollout: info.stagingPercentage === null ? null : { percent: info.stagingPercentage, started_at: null },
      verification: 'checksums',
      source: { feed_type: 'electron-builder', url, sha256: sha256Hex(bytes), bytes },
      items: [item],
    };
  }

  assess(installed: string | null, release: Release, o: { allowDowngrade: boolean; explicit: boolean }): Assessment {
    return assessSemver(installed, release, o);
  }
}

export const createElectronBuilderFeed: FeedFactory = (spec, env) => new ElectronBuilderFeed(spec, env);

/**
 * `TufFeed`: a TUF 1.0 repository (`feed: { type: tuf, url, target: "myapp-{version}.tar.gz" }`,
 * `trust: { tuf_root: root.json }`) behind the `Feed` interface, through `tuf-js`'s `Updater`,
 * which does the TUF client workflow: root rotation (N+1.root.json signed by old and new roots),
 * thresholds, expiry, timestamp → snapshot → targets consistency and rollback checks, and the
 * delegation walk. Upkeep adds the trust anchor handling, the engine's fetcher underneath (URL
 * policy, bounded sizes, proxies), the naming rule that maps target paths to versions, and
 * error codes.
 *
 * Local metadata lives in `<state_dir>/feeds/tuf/<hash of url>/` (tuf-js keeps the newest verified
 * root there); it is reset when the configured root.json changes. Expiry is checked by tuf-js
 * against the system clock (it takes no clock), not the engine's injected one.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Updater, Fetcher as TufFetcher } from 'tuf-js';
import { NotFoundError, UpkeepError, UsageError, VerificationError } from '../../../src-shared/errors';
import type { TufFeedSchema } from '../config/feed-schema';
import type { z } from 'zod';
import { writeFileDurable, mkdirDurable } from '../fs/atomic';
import { asDirectoryUrl, resolveRelative } from '../net/url-policy';
import { compareVersions, isValidVersion } from '../trust/versions';
import type { Assessment, Candidate, Feed, FeedEnv, FeedFactory, FeedPolicy, FeedSpec } from './feed';
import type { Release, ReleaseItem } from './release';
import { assessSemver, expectFeedType, isNewer, isSkippedVersion } from './feed-helpers';
import { archiveFormatOf, expandAssetTemplate } from './github-releases';

export type TufFeedConfig = z.output<typeof TufFeedSchema>;

/** Largest trusted root.json read from the config, in bytes. */
const MAX_ROOT_BYTES = 512 * 1024;

/** tuf-js, loaded when a TUF feed is first used (it costs tens of ms of every start otherwise). */
const tufJs = (): typeof import('tuf-js') => require('tuf-js') as typeof import('tuf-js');
const tufErrors = (): typeof import('tuf-js/dist/error') => require('tuf-js/dist/error') as typeof import('tuf-js/dist/error');

/** tuf-js's fetcher interface over the engine's `Fetcher` (404 → tuf-js's DownloadHTTPError, so root rotation stops there). */
export class EngineTufFetcher implements TufFetcher {
  constructor(private readonly env: FeedEnv, private readonly allowInsecureHttp: boolean, private readonly signal?: AbortSignal) {}

  async downloadBytes(url: string, maxLength: number): Promise<Buffer> {
    try {
      const res = await this.env.fetcher.fetchBytes(url, {
        maxBytes: maxLength,
        allowInsecureHttp: this.allowInsecureHttp,
        limits: this.env.limits,
        ...(this.signal ? { signal: this.signal } : {}),
      });
      if (res.notModified) throw new VerificationError('ERR_METADATA_INVALID', `Unexpected "not modified" for ${url}`);
      return res.bytes;
    } catch (err) {
      if (err instanceof UpkeepError && err.code === 'ERR_NOT_FOUND') throw new (tufErrors().DownloadHTTPError)(`Not found: ${url}`, 404);
      throw err;
    }
  }

  async downloadFile<T>(url: string, maxLength: number, handler: (file: string) => Promise<T>): Promise<T> {
    const bytes = await this.downloadBytes(url, maxLength);
    const dir = await fsp.mkdtemp(path.join(tmpdir(), 'upkeep-tuf-'));
    try {
      const file = path.join(dir, 'download');
      await fsp.writeFile(file, bytes);
      return await handler(file);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  }
}

/** tuf-js/@tufjs/models error classes → Upkeep's stable codes (by class name: tuf-js does not export them all). */
export function tufError(err: unknown): UpkeepError {
  if (err instanceof UpkeepError) return err;
  const name = (err as { constructor?: { name?: string } })?.constructor?.name ?? '';
  const message = `TUF: ${(err as Error)?.message ?? String(err)}`;
  const code = (
    {
      ExpiredMetadataError: 'ERR_METADATA_EXPIRED',
      UnsignedMetadataError: 'ERR_SIGNATURE_THRESHOLD',
      BadVersionError: 'ERR_ROLLBACK_ATTACK',
      EqualVersionError: 'ERR_ROLLBACK_ATTACK',
      LengthOrHashMismatchError: 'ERR_HASH_MISMATCH',
      DownloadLengthMismatchError: 'ERR_SIZE_MISMATCH',
    } as const
  )[name] ?? 'ERR_METADATA_INVALID';
  return new VerificationError(code, message, { tuf_error: name || 'Error' });
}

/** A regex matching target paths of the naming rule; group 1 is the version. */
export function targetPattern(rule: string, v: { platform: string; arch: string }, naming: { platform_names?: Record<string, string>; arch_names?: Record<string, string> }): RegExp {
  const fixed = expandAssetTemplate(rule, { version: '\u0000', platform: v.platform, arch: v.arch }, naming);
  const escaped = fixed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('\u0000', '([^/]+)');
  return new RegExp(`^${escaped}$`);
}

interface TargetsDoc {
  signed?: { targets?: Record<string, unknown>; delegations?: { roles?: Array<{ name?: unknown }> } };
}

export class TufFeed implements Feed {
  readonly type = 'tuf';
  private readonly cfg: TufFeedConfig;
  private readonly rootFile: string;
  private readonly dir: string;
  private updater: Promise<Updater> | null = null;

  constructor(private readonly spec: FeedSpec, private readonly env: FeedEnv) {
    expectFeedType(spec.feed, 'tuf', spec.target);
    const root = spec.trust?.tuf_root;
    if (!root) throw new UsageError('ERR_CONFIG_INVALID', `Target ${spec.target}: a tuf feed needs trust.tuf_root`);
    this.cfg = spec.feed as unknown as TufFeedConfig;
    this.rootFile = root;
    this.dir = path.join(env.stateDir, 'feeds', 'tuf', createHash('sha256').update(asDirectoryUrl(this.cfg.url)).digest('hex').slice(0, 32));
  }

  private get targetsBase(): string {
    return asDirectoryUrl(this.cfg.targets_url ?? resolveRelative(asDirectoryUrl(this.cfg.url), '../targets/'));
  }

  /** Puts the configured root in place (resetting local metadata when it changed) and refreshes. */
  private refreshed(signal?: AbortSignal): Promise<Updater> {
    this.updater ??= (async () => {
      let anchor: Buffer;
      try {
        const st = await fsp.stat(this.rootFile);
        if (st.size > MAX_ROOT_BYTES) throw new UsageError('ERR_CONFIG_INVALID', `trust.tuf_root ${this.rootFile} is larger than ${MAX_ROOT_BYTES} bytes`);
        anchor = await fsp.readFile(this.rootFile);
      } catch (err) {
        if (err instanceof UpkeepError) throw err;
        throw new UsageError('ERR_CONFIG_INVALID', `Cannot read trust.tuf_root ${this.rootFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      const anchorHash = createHash('sha256').update(anchor).digest('hex');
      const marker = path.join(this.dir, 'anchor.sha256');
      const known = await fsp.readFile(marker, 'utf8').catch(() => null);
      if (known?.trim() !== anchorHash) {
        await fsp.rm(this.dir, { recursive: true, force: true });
        await mkdirDurable(this.dir);
        await writeFileDurable(path.join(this.dir, 'root.json'), anchor);
        await writeFileDurable(marker, anchorHash + '\n');
      }
      try {
        const u = new (tufJs().Updater)({
          metadataDir: this.dir,
          metadataBaseUrl: asDirectoryUrl(this.cfg.url),
          targetBaseUrl: this.targetsBase,
          fetcher: new EngineTufFetcher(this.env, this.cfg.allow_insecure_http, signal),
        });
        await u.refresh();
        // Walk the delegations a target of this rule would use, so their verified metadata is local.
        await u.getTargetInfo(this.probePath());
        return u;
      } catch (err) {
        throw tufError(err);
      }
    })().catch((err: unknown) => {
      this.updater = null;
      throw err;
    });
    return this.updater;
  }

  private probePath(): string {
    return expandAssetTemplate(this.cfg.target, { version: '0.0.0-upkeep-probe', platform: this.env.platform, arch: this.env.arch }, this.cfg);
  }

  /** Target paths of the verified targets metadata loaded by the last refresh (top-level and walked delegations). */
  private async knownTargetPaths(): Promise<string[]> {
    const out = new Set<string>();
    const seen = new Set<string>();
    const visit = async (role: string): Promise<void> => {
      if (seen.has(role) || seen.size > 64) return;
      seen.add(role);
      const text = await fsp.readFile(path.join(this.dir, `${encodeURIComponent(role)}.json`), 'utf8').catch(() => null);
      if (text === null) return;
      let doc: TargetsDoc;
      try {
        doc = JSON.parse(text) as TargetsDoc;
      } catch {
        return;
      }
      for (const p of Object.keys(doc.signed?.targets ?? {})) out.add(p);
      for (const r of doc.signed?.delegations?.roles ?? []) if (typeof r.name === 'string') await visit(r.name);
    };
    await visit('targets');
    return [...out];
  }

  /** Versions named by the rule among the repository's targets, newest first. */
  private async versions(signal?: AbortSignal): Promise<Map<string, string>> {
    await this.refreshed(signal);
    const re = targetPattern(this.cfg.target, { platform: this.env.platform, arch: this.env.arch }, this.cfg);
    const byVersion = new Map<string, string>();
    for (const p of await this.knownTargetPaths()) {
      const m = re.exec(p);
      if (m && isValidVersion(m[1]) && !m[1]!.includes('upkeep-probe')) byVersion.set(m[1]!, p);
    }
    return byVersion;
  }

  /**
   * The verified description of one target path (length in bytes, lowercase hex hashes), found by
   * the TUF delegation walk; null when no role lists it. Throws the TUF errors as Upkeep codes.
   */
  async targetInfo(targetPath: string, signal?: AbortSignal): Promise<{ path: string; length: number; hashes: Record<string, string>; custom: Record<string, unknown> } | null> {
    const updater = await this.refreshed(signal);
    let info;
    try {
      info = await updater.getTargetInfo(targetPath);
    } catch (err) {
      throw tufError(err);
    }
    if (!info) return null;
    return { path: info.path, length: info.length, hashes: info.hashes as Record<string, string>, custom: (info.custom ?? {}) as Record<string, unknown> };
  }

  async candidates(installed: string | null, policy: FeedPolicy, signal?: AbortSignal): Promise<Candidate[]> {
    const versions = [...(await this.versions(signal)).keys()];
    return versions
      .filter((v) => isNewer(v, installed) && !isSkippedVersion(v, policy.skip_versions))
      .sort((a, b) => compareVersions(b, a))
      .map((version) => ({ version, is_critical: false }));
  }

  async release(version: string, signal?: AbortSignal): Promise<Release> {
    const targetPath = expandAssetTemplate(this.cfg.target, { version, platform: this.env.platform, arch: this.env.arch }, this.cfg);
    const info = await this.targetInfo(targetPath, signal);
    if (!info) throw new NotFoundError('ERR_MANIFEST_NOT_FOUND', `Manifest not found for version: ${version} (no TUF target ${targetPath})`, { version, target: targetPath });
    const hashes = info.hashes;
    const digests = { ...(hashes.sha256 ? { sha256: hashes.sha256.toLowerCase() } : {}), ...(hashes.sha512 ? { sha512: hashes.sha512.toLowerCase() } : {}) };
    if (!digests.sha256 && !digests.sha512) throw new VerificationError('ERR_METADATA_INVALID', `TUF target ${targetPath} has no sha256 or sha512 hash`);
    const rootDoc = JSON.parse(await fsp.readFile(path.join(this.dir, 'root.json'), 'utf8')) as { signed?: { consistent_snapshot?: boolean } };
    let urlPath = info.path;
    if (rootDoc.signed?.consistent_snapshot) {
      const first = Object.values(hashes)[0]!;
      const slash = info.path.lastIndexOf('/');
      urlPath = slash < 0 ? `${first}.${info.path}` : `${info.path.slice(0, slash)}/${first}.${info.path.slice(slash + 1)}`;
    }
    const url = resolveRelative(this.targetsBase, urlPath.split('/').map(encodeURIComponent).join('/'));
    const name = info.path.split('/').pop()!;
    const format = archiveFormatOf(name);
    const item: ReleaseItem = format !== null
      ? { kind: 'archive', name, format, size: info.length, digests, url, strip_components: this.cfg.strip_components, into: '', platform: this.env.platform, arch: this.env.arch }
      : { kind: 'file', path: name, type: 'file', size: info.length, digests, url, platform: this.env.platform, arch: this.env.arch };
    const custom = info.custom;
    const targetsJson = await fsp.readFile(path.join(this.dir, 'targets.json'));
    return {
      version,
      tag_name: `v${version}`,
      product: this.spec.product,
      channel: this.spec.channel,
      released_at: typeof custom.released_at === 'string' ? custom.released_at : null,
      notes: typeof custom.notes === 'string' ? custom.notes : '',
      is_critical: custom.is_critical === true,
      informational: false,
      min_upgrade_from: null,
      migrations_required: false,
      breaking_changes: [],
      build_commit: null,
      rollout: null,
      verification: 'signed',
      source: { feed_type: 'tuf', url: resolveRelative(asDirectoryUrl(this.cfg.url), 'targets.json'), sha256: createHash('sha256').update(targetsJson).digest('hex'), bytes: targetsJson },
      items: [item],
    };
  }

  assess(installed: string | null, release: Release, o: { allowDowngrade: boolean; explicit: boolean }): Assessment {
    return assessSemver(installed, release, o);
  }
}

export const createTufFeed: FeedFactory = (spec, env) => new TufFeed(spec, env);
